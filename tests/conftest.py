"""Shared pytest configuration: hypothesis profiles.

`ci` (the default) keeps the property suites to about a minute; `thorough` is for a long local run:
`HYPOTHESIS_PROFILE=thorough pytest tests/test_core_*.py`.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
