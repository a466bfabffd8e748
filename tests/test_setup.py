"""The set-up contract: README gives exactly two commands, and CI runs the test one."""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    """The commands of the first ```sh block of README.md (comments stripped)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```sh\n(.*?)```", text, re.DOTALL)
    assert block, "README.md has no ```sh block"
    lines = (line.split("#", 1)[0].strip() for line in block.group(1).splitlines())
    return [line for line in lines if line]


def test_readme_has_exactly_two_setup_commands() -> None:
    assert readme_commands() == ["./scripts/run-demo.sh", "./scripts/run-tests.sh"]


def test_scripts_are_executable() -> None:
    for name in ("scripts/setup.sh", "scripts/run-demo.sh", "scripts/run-tests.sh", ".ci/run"):
        assert os.access(ROOT / name, os.X_OK), name


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "exec scripts/run-tests.sh" in ci
    assert "./scripts/run-tests.sh" in readme_commands()


def test_demo_script_runs_the_demo() -> None:
    assert 'esl-router" demo' in (ROOT / "scripts" / "run-demo.sh").read_text(encoding="utf-8")
