"""The README's quick start: exactly two commands, the demo's module exists, and CI runs the
same test command (so what the README promises is what CI checks)."""

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def quick_start_commands():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [line.strip() for line in section.splitlines() if line.startswith("    ") and line.strip()]


def test_quick_start_has_a_demo_and_a_test_command():
    demo, tests = quick_start_commands()
    module = re.search(r"python -m ([\w.]+)", demo).group(1)
    assert importlib.util.find_spec(module) is not None, f"the demo command runs {module}, which does not exist"
    assert tests.endswith("python -m pytest tests")


def test_ci_runs_the_readme_test_command():
    _, tests = quick_start_commands()
    ci = (ROOT / ".ci" / "run").read_text()
    # CI spells the interpreter python3 (a fresh Debian machine has no `python`)
    assert tests.replace("pip install", "python3 -m pip install --quiet").replace("python -m", "python3 -m") in ci
