"""backprop.distributed and DistributedDataParallel under real `mpiexec` runs on loopback.

Each test starts `mpiexec -n 2` or `-n 3` on `distributed_worker.py` in a subprocess with
a timeout (a hang fails the test instead of CI), and reads back what the ranks found. The
sampler and the launcher's command line are tested in this process.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import backprop as bp

HERE = Path(__file__).resolve().parent
WORKER = HERE / "distributed_worker.py"

pytest.importorskip("mpi4py", reason='the distributed tests need mpi4py: pip install ".[distributed]"')


def mpiexec():
    from backprop.distributed.run import find_mpiexec

    try:
        return find_mpiexec()
    except FileNotFoundError as e:
        pytest.skip(str(e))


def launch(n, *args, timeout=60, env=None):
    """Runs `mpiexec -n n python args...`; (returncode, stdout, stderr, seconds)."""
    full_env = dict(os.environ, **(env or {}))
    full_env.pop("RANK", None)
    full_env.pop("WORLD_SIZE", None)
    full_env["PYTHONPATH"] = os.pathsep.join([str(HERE), full_env.get("PYTHONPATH", "")])
    start = time.monotonic()
    proc = subprocess.Popen(
        [mpiexec(), "-n", str(n), sys.executable, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"mpiexec -n {n} {args} did not finish in {timeout} s\nstdout:\n{out}\nstderr:\n{err}")
    return proc.returncode, out, err, time.monotonic() - start


def run_scenario(tmp_path, n, scenario, *args, timeout=60, env=None):
    out = tmp_path / f"{scenario}.json"
    rc, stdout, stderr, _ = launch(n, WORKER, scenario, out, *args, timeout=timeout, env=env)
    assert rc == 0, f"{scenario} at {n} ranks exited with {rc}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    report = json.loads(out.read_text())
    assert report["world"] == n
    failures = [f"rank {r}: {f}" for r, _, fs in report["ranks"] for f in fs]
    assert not failures, "\n".join(failures)
    return sum(count for _, count, _ in report["ranks"])


@pytest.mark.parametrize("n", [2, 3])
def test_every_collective_matches_numpy(tmp_path, n):
    """all_reduce (every op), broadcast, reduce, all_gather(_into_tensor), reduce_scatter_tensor,
    gather, scatter, all_to_all_single (even and uneven splits) for float32, float64, int64
    and bool, contiguous and strided, sync and async; 0-d and empty tensors; zero copy;
    barrier, object collectives and groups."""
    checks = run_scenario(tmp_path, n, "collectives")
    assert checks > 240 * n  # every rank ran its share (rank 0 more: it checks reduce and gather)


def test_ddp_matches_one_process_training_on_the_whole_batch(tmp_path):
    """20 AdamW steps at 2 ranks == one process on the concatenated batch, for buckets of
    25 MB, 1 kB and 4 kB, with no_sync accumulation and with gradient_as_bucket_view."""
    run_scenario(tmp_path, 2, "ddp", "cpu")


def test_ddp_on_the_gpu(tmp_path):
    if not bp.gpu.is_available():
        pytest.skip("no GPU adapter (install mesa-vulkan-drivers for lavapipe)")
    run_scenario(tmp_path, 2, "ddp", "gpu", timeout=120)


def test_ddp_unused_parameters(tmp_path):
    run_scenario(tmp_path, 2, "ddp_unused")


def test_init_checks_and_collective_before_init(tmp_path):
    run_scenario(tmp_path, 1, "init_checks")


def test_shape_or_dtype_mismatch_raises_on_every_rank(tmp_path):
    rc, _, err, seconds = launch(2, WORKER, "mismatch", tmp_path / "m", timeout=60)
    assert rc == 0, err
    for r in (0, 1):
        out = (tmp_path / f"m.{r}").read_text()
        line = next(l for l in out.splitlines() if l.startswith(f"rank {r} raised"))
        assert "DistError" in line and "rank 0: all_reduce(float32 [4, 3]" in line and "rank 1: all_reduce(float32 [5, 3]" in line, line
        assert f"rank {r} dtype:" in out and "float64 [3]" in out


def test_a_rank_that_raises_takes_the_job_down_with_its_traceback_once(tmp_path):
    rc, out, err, seconds = launch(2, WORKER, "raises", tmp_path / "x.json", timeout=60)
    assert rc != 0
    assert err.count("ValueError: boom from rank 1") == 1, err
    assert "[rank 1] Traceback" in err and "aborting the job" in err
    assert seconds < 50


def test_timeout_turns_a_stuck_collective_into_an_error(tmp_path):
    rc, out, err, seconds = launch(2, WORKER, "timeout", tmp_path / "x.json", timeout=60)
    assert rc != 0
    assert "DistBackendError" in err and "timed out after 1 s" in err, err
    assert seconds < 40


def test_collective_before_init_is_a_clear_error_in_process():
    import backprop.distributed as dist

    assert dist.is_available() and not dist.is_initialized()
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        dist.all_reduce(bp.ones(2))
    with pytest.raises(ValueError, match="init_process_group"):
        dist.get_world_size()


def test_data_ptr_is_the_address_of_the_first_element(device):
    import numpy as np

    t = bp.arange(6, dtype=bp.float32).reshape(2, 3)
    assert t.data_ptr() == np.asarray(t).__array_interface__["data"][0]
    assert t[1].data_ptr() == t.data_ptr() + 3 * 4 and t.t().data_ptr() == t.data_ptr()
    if device == "gpu":
        with pytest.raises(bp.DeviceError, match="data_ptr"):
            bp.ones(2, device="gpu").data_ptr()


# ---- the launcher and the demo ---------------------------------------------------------------


def test_launcher_builds_the_mpiexec_command(capsys):
    from backprop.distributed import run

    assert run.main(["-n", "4", "--mpiexec", "/opt/mpi/bin/mpiexec", "--dry-run", "train.py", "--lr", "0.1"]) == 0
    assert capsys.readouterr().out.split() == ["/opt/mpi/bin/mpiexec", "-n", "4", sys.executable, "train.py", "--lr", "0.1"]
    run.main(["-n", "2", "--dry-run", "--hosts", "a,b", "-m", "backprop.demo", "--distributed"])
    cmd = capsys.readouterr().out.split()
    assert cmd[1:3] == ["-n", "2"] and cmd[3] in ("-hosts", "--host") and cmd[4] == "a,b"
    assert cmd[-3:] == ["-m", "backprop.demo", "--distributed"]
    with pytest.raises(SystemExit):
        run.main(["-n", "0", "train.py"])


def test_demo_trains_data_parallel_to_the_single_process_accuracy(tmp_path):
    """`python -m backprop.distributed.run -n 2 ... backprop.demo --distributed` on the
    spiral set reaches what one process reaches with the same global batch."""
    script = tmp_path / "demo_spiral.py"
    script.write_text(
        "import sys\n"
        "from backprop.data import datasets\n"
        "datasets.FashionMNIST.default_root = '/nonexistent'\n"
        "from backprop import demo\n"
        "acc = demo.main(sys.argv[1:])\n"
        "import backprop.distributed as dist\n"
        "if not dist.is_initialized() or dist.get_rank() == 0: print('ACCURACY', acc)\n"
    )
    args = ["--epochs", "2", "--batch-size", "64", "--schedule", "constant"]
    single = subprocess.run([sys.executable, script, *args], capture_output=True, text=True, timeout=120)
    assert single.returncode == 0, single.stderr
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "backprop.distributed.run", "-n", "2", str(script), *args, "--distributed"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    acc_single = float(single.stdout.split("ACCURACY")[1])
    acc_dist = float(proc.stdout.split("ACCURACY")[1])
    assert "Data-parallel on 2 ranks: 32 samples per rank per step" in proc.stdout
    assert proc.stdout.count("epoch 2: train loss") == 1  # only rank 0 reports
    assert acc_dist > 0.6 and acc_dist > acc_single - 0.05, (acc_single, acc_dist, time.monotonic() - start)


# ---- DistributedSampler (no MPI needed: num_replicas and rank given) -------------------------


def test_sampler_every_index_once_per_epoch_and_reshuffled():
    from backprop.data.distributed import DistributedSampler

    data = list(range(12))
    samplers = [DistributedSampler(data, num_replicas=3, rank=r, seed=5) for r in range(3)]
    orders = []
    for epoch in range(3):
        for s in samplers:
            s.set_epoch(epoch)
        parts = [list(s) for s in samplers]
        assert all(len(p) == 4 == len(s) for p, s in zip(parts, samplers))
        assert sorted(i for p in parts for i in p) == data
        orders.append([i for p in parts for i in p])
    assert orders[0] != orders[1] != orders[2]
    again = DistributedSampler(data, num_replicas=3, rank=1, seed=5)
    again.set_epoch(1)
    samplers[1].set_epoch(1)
    assert list(again) == list(samplers[1])  # the same on every process that builds it


def test_sampler_padding_and_drop_last_as_pytorch():
    """Numbers from torch.utils.data.DistributedSampler(range(10), 3, r, shuffle=False)."""
    from backprop.data.distributed import DistributedSampler

    padded = [list(DistributedSampler(range(10), num_replicas=3, rank=r, shuffle=False)) for r in range(3)]
    assert padded == [[0, 3, 6, 9], [1, 4, 7, 0], [2, 5, 8, 1]]
    dropped = [list(DistributedSampler(range(10), num_replicas=3, rank=r, shuffle=False, drop_last=True)) for r in range(3)]
    assert dropped == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]
    tiny = [list(DistributedSampler(range(2), num_replicas=5, rank=r, shuffle=False)) for r in range(5)]
    assert tiny == [[0], [1], [0], [1], [0]]
    s = DistributedSampler(range(10), num_replicas=3, rank=0)
    assert len(s) == 4 and s.total_size == 12
    with pytest.raises(ValueError, match=r"Invalid rank 3, rank should be in the interval \[0, 2\]"):
        DistributedSampler(range(10), num_replicas=3, rank=3)


def test_sampler_is_also_under_utils_data():
    try:
        import backprop.utils.data.distributed as via_utils
    except ModuleNotFoundError:
        pytest.skip("backprop.utils.data does not exist on this branch yet")
    from backprop.data.distributed import DistributedSampler

    assert via_utils.DistributedSampler is DistributedSampler
