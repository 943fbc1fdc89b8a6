"""Adapter choice: a software adapter (Mesa's llvmpipe/lavapipe) is used only when asked for,
by name or with `bp.gpu.use_software_adapter()`; without it a machine whose only adapter is a
software one has no GPU. Probing writes nothing to stderr. Each case runs in a fresh process,
since the device is created once per process."""

import os
import subprocess
import sys

import pytest

import backprop as bp

pytestmark = pytest.mark.gpu

if not bp.gpu.is_available():
    pytest.skip(f"no GPU adapter: {bp.gpu.unavailable_reason()}", allow_module_level=True)

SOFTWARE = bp.gpu.adapter_info()["device_type"] == "Cpu"


def run(code, **env):
    """Runs `code` in a fresh interpreter without the test suite's request for a software adapter."""
    environ = {k: v for k, v in os.environ.items() if k != "BACKPROP_WGPU_ADAPTER"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**environ, **env})
    assert out.returncode == 0, out.stderr
    return out


@pytest.mark.skipif(not SOFTWARE, reason="this machine has a hardware GPU")
def test_a_software_only_machine_has_no_gpu_unless_asked():
    out = run(
        "import backprop as bp\n"
        "print(bp.gpu.is_available(), bp.cuda.is_available(), bp.gpu.device_count())\n"
        "print(bp.gpu.unavailable_reason())\n"
        "try:\n    bp.ones(2).to('gpu')\nexcept bp.DeviceError as e:\n    print('ERR', e)\n"
    )
    lines = out.stdout.splitlines()
    assert lines[0] == "False False 0"
    assert "only the software adapter" in lines[1] and "use_software_adapter()" in lines[1]
    assert "BACKPROP_WGPU_ADAPTER=llvmpipe" in lines[1] and lines[2].startswith("ERR ")
    assert out.stderr == "", "probing must print nothing"


@pytest.mark.skipif(not SOFTWARE, reason="this machine has a hardware GPU")
def test_asking_for_the_software_adapter_after_a_failed_probe_probes_again():
    out = run(
        "import backprop as bp\n"
        "print(bp.gpu.is_available())\n"
        "print(bp.gpu.use_software_adapter())\n"
        "print(bp.gpu.is_available(), bp.cuda.is_available(), (bp.ones(2, device='gpu') * 3).tolist())\n"
    )
    assert out.stdout.splitlines() == ["False", "False", "True True [3.0, 3.0]"]
    assert out.stderr == ""


def test_the_software_adapter_by_name_or_by_request(tmp_path):
    name = bp.gpu.adapter_info()["name"]
    by_request = run(
        "import backprop as bp\nbp.gpu.use_software_adapter()\nprint(bp.gpu.adapter_info()['name'])\n"
    )
    # With a hardware GPU present it is still preferred; without one the software adapter runs.
    assert by_request.stdout.strip() == name and by_request.stderr == ""
    if SOFTWARE:
        by_name = run("import backprop as bp\nprint(bp.gpu.adapter_info()['name'])", BACKPROP_WGPU_ADAPTER="llvmpipe")
        assert by_name.stdout.strip() == name and by_name.stderr == ""


@pytest.mark.skipif(not SOFTWARE, reason="this machine has a hardware GPU")
def test_the_choice_cannot_be_withdrawn_once_the_device_runs_on_it():
    out = run(
        "import backprop as bp\n"
        "bp.gpu.use_software_adapter()\n"
        "bp.ones(1, device='gpu')\n"
        "try:\n    bp.gpu.use_software_adapter(False)\nexcept bp.DeviceError as e:\n    print('ERR', e)\n"
        "print(bp.gpu.use_software_adapter(True))\n"
    )
    lines = out.stdout.splitlines()
    assert lines[0].startswith("ERR the GPU device already runs on the software adapter"), lines
    assert lines[1] == "True"
