"""Distributed benchmarks: all-reduce bandwidth against raw mpi4py, and the DDP train step.

    python benches/bench_distributed.py            the tables (starts mpiexec -n 2 itself)
    python benches/bench_distributed.py --smoke    a quick pass of every row, for CI
    python benches/bench_distributed.py --torch-python /path/to/python   PyTorch DDP (gloo)
        reference from an interpreter that has torch (default: this one, when it has it)

Table 1: `dist.all_reduce` of a backprop CPU tensor against `comm.Allreduce` on a NumPy
array of the same size (1 KB to 64 MB), both in place, same communicator, same job. Where a
buffer lies in memory moves MPI's time by up to 15% at 16-64 MB (two NumPy arrays of one
size differ that much), so mpi4py also runs on the tensor's own memory as a NumPy array
("same memory"): the overhead columns are backprop's extra time over that (target: at most
5% from 1 MB up), and "vs other array" is against the separate NumPy array. "no check" is
backprop with the metadata agreement check off (`set_metadata_checks(False)`). Every process runs
one compute thread (RAYON_NUM_THREADS=1, torch.set_num_threads(1)).

Table 2: the MLP's (784-512-512-10, batch 64 per rank, AdamW) train step at 1 rank and at 2
ranks with DDP, the same step under `no_sync()` (compute only), the gradients' all-reduce
alone, and the share of that all-reduce hidden behind backward:
`hidden = (no_sync step + all-reduce alone - DDP step) / all-reduce alone`. PyTorch's DDP
with gloo is measured the same way when torch is installed.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import fmt, print_table  # noqa: E402

SIZES = [1 << 10, 1 << 12, 1 << 14, 1 << 16, 1 << 18, 1 << 20, 1 << 22, 1 << 24, 1 << 26]
SMOKE_SIZES = [1 << 10, 1 << 20]
BATCH = 64
SHAPE = (784, 512, 512, 10)


def _iterations(nbytes, smoke):
    if smoke:
        return 2
    # Enough calls per timing that one preempted call (2 cores, 2 ranks) moves a 1 MB row by
    # under a percent: with 16 the overhead column there swung between +1% and +20% run to run.
    return max(8, min(400, (256 << 20) // (nbytes * 4)))


def _timed(comm, fns, iters, rounds):
    """Per function, the best over `rounds` of the slowest rank's mean time per call. The
    functions take turns within each round, so a change in machine load hits them alike;
    every rank runs the same number of calls."""
    from mpi4py import MPI

    best = [float("inf")] * len(fns)
    for fn in fns:
        fn()
    for _ in range(rounds):
        for k, fn in enumerate(fns):
            comm.Barrier()
            t0 = time.perf_counter()
            for _ in range(iters):
                fn()
            best[k] = min(best[k], comm.allreduce((time.perf_counter() - t0) / iters, op=MPI.MAX))
    return best


def _unchecked(fn):
    import backprop.distributed as dist

    def run():
        dist.set_metadata_checks(False)
        try:
            fn()
        finally:
            dist.set_metadata_checks(True)

    return run


def allreduce_table(smoke):
    import numpy as np
    from mpi4py import MPI

    import backprop as bp
    import backprop.distributed as dist

    comm = dist.GroupMember.WORLD.comm
    n = comm.Get_size()
    rows = []
    for nbytes in SMOKE_SIZES if smoke else SIZES:
        count = nbytes // 4
        arr = np.zeros(count, dtype=np.float32)
        t = bp.zeros(count)
        own = t.detach().numpy()  # the tensor's own memory as a NumPy array (no copy)
        iters, rounds = _iterations(nbytes, smoke), 1 if smoke else 7
        raw, raw_own, ours, unchecked = _timed(
            comm,
            [
                lambda: comm.Allreduce(MPI.IN_PLACE, arr, op=MPI.SUM),
                lambda: comm.Allreduce(MPI.IN_PLACE, own, op=MPI.SUM),
                lambda: dist.all_reduce(t),
                _unchecked(lambda: dist.all_reduce(t)),
            ],
            iters,
            rounds,
        )
        busbw = 2 * (n - 1) / n * nbytes / ours / 1e9
        size = f"{nbytes >> 20} MB" if nbytes >= 1 << 20 else f"{nbytes >> 10} KB"
        rows.append([size, f"{raw * 1e6:.1f}", f"{raw_own * 1e6:.1f}", f"{ours * 1e6:.1f}", f"{unchecked * 1e6:.1f}",
                     f"{(ours / raw_own - 1) * 100:+.1f}%", f"{(unchecked / raw_own - 1) * 100:+.1f}%",
                     f"{(ours / raw - 1) * 100:+.1f}%", f"{busbw:.2f}"])
    return rows


def _mlp_bp(bp):
    layers = []
    for i, (a, b) in enumerate(zip(SHAPE, SHAPE[1:])):
        layers.append(bp.nn.Linear(a, b))
        if i < len(SHAPE) - 2:
            layers.append(bp.nn.ReLU())
    return bp.nn.Sequential(*layers)


def bp_step_times(smoke, distributed):
    """(step, no_sync step, all-reduce alone) in seconds for backprop; only step when not distributed."""
    import backprop as bp

    bp.manual_seed(0)
    model = _mlp_bp(bp)
    x, y = bp.randn(BATCH, SHAPE[0]), bp.randint(0, SHAPE[-1], (BATCH,))
    steps, rounds = (2, 1) if smoke else (30, 5)
    if not distributed:
        opt = bp.optim.AdamW(model.parameters(), lr=1e-4)

        def step():
            opt.zero_grad()
            bp.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()

        step()
        best = float("inf")
        for _ in range(rounds):
            t0 = time.perf_counter()
            for _ in range(steps):
                step()
            best = min(best, (time.perf_counter() - t0) / steps)
        return best, None, None
    import backprop.distributed as dist
    from backprop.nn.parallel import DistributedDataParallel

    comm = dist.GroupMember.WORLD.comm
    ddp = DistributedDataParallel(model)
    opt = bp.optim.AdamW(ddp.parameters(), lr=1e-4)

    def step():
        opt.zero_grad()
        bp.nn.functional.cross_entropy(ddp(x), y).backward()
        opt.step()

    def local_step():
        with ddp.no_sync():
            step()

    grads = [b.flat for b in ddp._buckets]

    def reduce_alone():
        works = [dist.all_reduce(g, async_op=True) for g in grads]
        for w in works:
            w.wait()

    return tuple(_timed(comm, [step, local_step, _unchecked(reduce_alone)], steps, rounds))


def torch_step_times(smoke, distributed):
    import torch
    import torch.distributed as tdist

    torch.manual_seed(0)
    torch.set_num_threads(1)
    layers = []
    for i, (a, b) in enumerate(zip(SHAPE, SHAPE[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(SHAPE) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    x, y = torch.randn(BATCH, SHAPE[0]), torch.randint(0, SHAPE[-1], (BATCH,))
    steps, rounds = (2, 1) if smoke else (30, 5)

    def timed(*fns):
        """As `_timed`: the functions take turns in each round; the slowest rank counts."""
        best = [float("inf")] * len(fns)
        for fn in fns:
            fn()
        for _ in range(rounds):
            for k, fn in enumerate(fns):
                if distributed:
                    tdist.barrier()
                t0 = time.perf_counter()
                for _ in range(steps):
                    fn()
                elapsed = torch.tensor([(time.perf_counter() - t0) / steps])
                if distributed:
                    tdist.all_reduce(elapsed, op=tdist.ReduceOp.MAX)
                best[k] = min(best[k], elapsed.item())
        return best

    if not distributed:
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

        def step():
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()

        return timed(step)[0], None, None
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.AdamW(ddp.parameters(), lr=1e-4)

    def step():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(ddp(x), y).backward()
        opt.step()

    def local_step():
        with ddp.no_sync():
            step()

    step()
    grads = [p.grad for p in reversed(list(ddp.parameters()))]
    flat = torch.cat([g.reshape(-1) for g in grads])
    buckets = [flat[: 1 << 18], flat[1 << 18:]]  # 1 MiB first bucket, then the rest (one 25 MB bucket)

    def reduce_alone():
        works = [tdist.all_reduce(b, async_op=True) for b in buckets]
        for w in works:
            w.wait()

    return tuple(timed(step, local_step, reduce_alone))


# ---- processes ---------------------------------------------------------------------------------


def worker(args):
    """One rank of the backprop job: prints the tables on rank 0."""
    import backprop.distributed as dist

    dist.init_process_group("mpi")
    rows = allreduce_table(args.smoke)
    ddp = bp_step_times(args.smoke, True)
    if dist.get_rank() == 0:
        print_table(
            f"all_reduce (float32, in place, sum) at {dist.get_world_size()} ranks: backprop tensor vs mpi4py on NumPy, microseconds",
            ["size", "mpi4py", "mpi4py, same memory", "backprop", "no check", "overhead", "no check", "vs other array", "bus GB/s"],
            rows,
        )
        with open(args.result, "w") as f:
            json.dump({"backprop": ddp}, f)


def torch_worker(args):
    """One rank of the PyTorch (gloo) job; rank and size from the MPI launcher's environment."""
    import torch.distributed as tdist

    rank = int(os.environ.get("PMI_RANK", os.environ.get("OMPI_COMM_WORLD_RANK", 0)))
    size = int(os.environ.get("PMI_SIZE", os.environ.get("OMPI_COMM_WORLD_SIZE", 1)))
    tdist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{args.port}", rank=rank, world_size=size)
    times = torch_step_times(args.smoke, True)
    if rank == 0:
        with open(args.result, "w") as f:
            json.dump({"torch": times}, f)
    tdist.destroy_process_group()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torch_python(given):
    if given:
        return given
    try:
        import torch  # noqa: F401

        return sys.executable
    except ImportError:
        return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a quick pass of every row (CI)")
    parser.add_argument("-n", type=int, default=2, help="ranks of the distributed rows")
    parser.add_argument("--torch-python", help="a Python with torch for the PyTorch DDP (gloo) reference")
    parser.add_argument("--worker", choices=["backprop", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "backprop":
        return worker(args)
    if args.worker == "torch":
        return torch_worker(args)

    # One thread per process on both sides (PyTorch's set_num_threads(1) in torch_step_times),
    # so 2 ranks on a small machine do not fight over cores; mpiexec passes it to the ranks.
    os.environ.setdefault("RAYON_NUM_THREADS", "1")
    from backprop.distributed.run import find_mpiexec

    mpiexec = find_mpiexec()
    here = os.path.abspath(__file__)
    flags = ["--smoke"] if args.smoke else []
    result = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"bench_distributed_{os.getpid()}.json")
    bp_single = bp_step_times(args.smoke, False)[0]
    cmd = [mpiexec, "-n", str(args.n), sys.executable, here, "--worker", "backprop", "--result", result, *flags]
    subprocess.run(cmd, check=True, timeout=1200)
    with open(result) as f:
        bp_ddp = json.load(f)["backprop"]
    rows = [_step_row("backprop", bp_single, bp_ddp)]
    torch_python = _torch_python(args.torch_python)
    if torch_python is None:
        rows.append(["PyTorch DDP (gloo)", "missing", "missing", "missing", "missing", "missing"])
    else:
        single = subprocess.run(
            [torch_python, "-c", f"import sys; sys.path.insert(0, {os.path.dirname(here)!r}); import bench_distributed as b; "
             f"print(b.torch_step_times({args.smoke}, False)[0])"],
            capture_output=True, text=True, check=True, timeout=600,
        )
        t_single = float(single.stdout.split()[-1])
        cmd = [mpiexec, "-n", str(args.n), torch_python, here, "--worker", "torch", "--result", result,
               "--port", str(_free_port()), *flags]
        subprocess.run(cmd, check=True, timeout=1200)
        with open(result) as f:
            rows.append(_step_row("PyTorch DDP (gloo)", t_single, json.load(f)["torch"]))
    os.unlink(result)
    print_table(
        f"MLP {'-'.join(map(str, SHAPE))} train step (batch {BATCH} per rank, AdamW), milliseconds; {args.n} ranks on this machine",
        ["", "1 rank", f"{args.n} ranks DDP", "no_sync (compute)", "all-reduce alone", "hidden"],
        rows,
    )


def _step_row(name, single, ddp):
    step, local, alone = ddp
    hidden = max(0.0, min(1.0, (local + alone - step) / alone)) if alone else None
    return [name, fmt(single * 1e3), fmt(step * 1e3), fmt(local * 1e3), fmt(alone * 1e3), "missing" if hidden is None else f"{hidden:.0%}"]


if __name__ == "__main__":
    main()
