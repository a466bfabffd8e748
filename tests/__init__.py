"""esl-router's test suite (a package so that `tests.reference_model` is importable)."""
