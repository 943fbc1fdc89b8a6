"""The shipped types are usable: mypy's stubtest finds `_core.pyi` consistent with the compiled
module, and a typical training script (tests/typing/train_mlp.py) passes `mypy --strict`.
Skipped where mypy is not installed (CI installs it: see .ci/run)."""

import pathlib
import subprocess
import sys

import pytest

pytest.importorskip("mypy")

HERE = pathlib.Path(__file__).resolve().parent


def _run(*args, cwd):
    """mypy finds backprop as a user's mypy does: installed in this interpreter's
    site-packages (a wheel or `maturin develop`'s editable install), whose own code it does
    not report on. A source tree on PYTHONPATH alone is not installed: skipped."""
    result = subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    if 'module named "backprop' in result.stdout and "Cannot find implementation" in result.stdout:
        pytest.skip("backprop is not installed in this interpreter's site-packages (mypy cannot find it)")
    return result


def test_stubtest_finds_the_stub_consistent_with_the_module(tmp_path):
    # The names PyTorch's Tensor has and backprop's lacks exist at runtime only, to raise.
    import backprop._core
    from backprop._tensor_names import lacking_names

    allowlist = tmp_path / "lacking.txt"
    allowlist.write_text("".join(f"backprop._core.Tensor.{n}\n" for n in lacking_names(backprop._core.Tensor)))
    result = _run("mypy.stubtest", "backprop._core", "--mypy-config-file", str(_config(tmp_path)), "--allowlist", str(allowlist), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_training_script_passes_mypy_strict(tmp_path):
    result = _run("mypy", "--strict", "--config-file", str(_config(tmp_path)), str(HERE / "typing" / "train_mlp.py"), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def _config(tmp_path):
    """A fresh cache, so that a stale one cannot hide an error."""
    config = tmp_path / "mypy.ini"
    config.write_text(f"[mypy]\ncache_dir = {tmp_path / 'cache'}\n")
    return config
