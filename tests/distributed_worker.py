"""What each rank runs in `test_distributed.py` (started there under `mpiexec`).

`python distributed_worker.py SCENARIO OUT_JSON [ARGS]`: rank 0 writes the scenario's
findings to OUT_JSON (every rank checks its own results and the failures are gathered).
Each rank's inputs come from a seed derived from its rank, so any rank can rebuild every
other rank's inputs and the expected results are computed with NumPy.
"""

import datetime
import json
import os
import sys
import time

import numpy as np

import backprop as bp
import backprop.distributed as dist

DTYPES = {"float32": bp.float32, "float64": bp.float64, "int64": bp.int64, "bool": bp.bool}


def values(seed, rank, shape, dtype, small=False):
    rng = np.random.default_rng(1000 * seed + rank)
    if dtype == "bool":
        return rng.random(shape) > 0.5
    if dtype == "int64":
        return rng.integers(-3 if small else -50, 4 if small else 50, size=shape).astype(np.int64)
    if small:
        return rng.uniform(0.5, 1.5, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def reduce_np(op, arrays):
    stack = np.stack(arrays)
    if stack.dtype == np.bool_:
        return {"SUM": np.any, "MAX": np.any, "PRODUCT": np.all, "MIN": np.all}[op](stack, axis=0)
    out = {"SUM": np.sum, "AVG": np.sum, "PRODUCT": np.prod, "MAX": np.max, "MIN": np.min}[op](stack, axis=0)
    if op == "AVG":
        out = out / len(arrays)
    return out.astype(stack.dtype)


class Checker:
    def __init__(self):
        self.failures = []
        self.count = 0

    def close(self, what, got, want):
        self.count += 1
        got = np.asarray(got)
        want = np.asarray(want)
        if got.shape != want.shape or got.dtype != want.dtype:
            self.failures.append(f"{what}: got {got.dtype}{list(got.shape)}, want {want.dtype}{list(want.shape)}")
            return
        if got.dtype.kind == "f":
            tol = 1e-5 if got.dtype == np.float32 else 1e-12
            ok = np.allclose(got, want, rtol=tol, atol=tol)
        else:
            ok = np.array_equal(got, want)
        if not ok:
            self.failures.append(f"{what}: got {got.tolist()}, want {want.tolist()}")

    def true(self, what, cond):
        self.count += 1
        if not cond:
            self.failures.append(what)


def make_input(seed, rank, shape, dtype, strided, small=False):
    """(tensor, base array or None): strided inputs are every other column of a wider array."""
    a = values(seed, rank, shape, dtype, small)
    if not strided:
        return bp.from_numpy(a.copy()), None
    wide = np.zeros((shape[0], 2 * shape[1]), dtype=a.dtype)
    wide[:, ::2] = a
    wide[:, 1::2] = values(seed + 7, rank, shape, dtype, small)
    t = bp.from_numpy(wide)[:, ::2]
    assert not t.is_contiguous()
    return t, wide


def run_collective(fn, async_op, *args, **kwargs):
    if not async_op:
        assert fn(*args, **kwargs) is None
        return
    work = fn(*args, async_op=True, **kwargs)
    work.wait()
    assert work.is_completed()


def collectives(out):
    dist.init_process_group("mpi")
    r, n = dist.get_rank(), dist.get_world_size()
    c = Checker()
    seed = 0
    for dname, dtype in DTYPES.items():
        floating = dname.startswith("float")
        for strided in (False, True):
            for async_op in (False, True):
                tag = f"{dname} {'strided' if strided else 'contiguous'} {'async' if async_op else 'sync'}"
                ops = ["SUM", "MAX", "MIN", "PRODUCT"] + (["AVG"] if floating else [])
                for op in ops:
                    seed += 1
                    small = op == "PRODUCT"
                    t, wide = make_input(seed, r, (3, 4), dname, strided, small)
                    run_collective(dist.all_reduce, async_op, t, op=getattr(dist.ReduceOp, op))
                    want = reduce_np(op, [values(seed, k, (3, 4), dname, small) for k in range(n)])
                    c.close(f"all_reduce {op} {tag}", t.numpy(), want)
                    if wide is not None:
                        c.close(f"all_reduce {op} {tag}: other columns untouched", wide[:, 1::2], values(seed + 7, r, (3, 4), dname, small))

                seed += 1
                t, _ = make_input(seed, r, (3, 4), dname, strided)
                run_collective(dist.broadcast, async_op, t, src=n - 1)
                c.close(f"broadcast {tag}", t.numpy(), values(seed, n - 1, (3, 4), dname))

                seed += 1
                t, _ = make_input(seed, r, (3, 4), dname, strided)
                run_collective(dist.reduce, async_op, t, dst=0, op=dist.ReduceOp.MAX)
                if r == 0:
                    c.close(f"reduce {tag}", t.numpy(), reduce_np("MAX", [values(seed, k, (3, 4), dname) for k in range(n)]))

                seed += 1
                t, _ = make_input(seed, r, (3, 4), dname, strided)
                outs = [bp.zeros(3, 4, dtype=dtype) for _ in range(n)]
                run_collective(dist.all_gather, async_op, outs, t)
                for k in range(n):
                    c.close(f"all_gather [{k}] {tag}", outs[k].numpy(), values(seed, k, (3, 4), dname))

                out_t = bp.zeros(n * 3, 4, dtype=dtype)
                run_collective(dist.all_gather_into_tensor, async_op, out_t, t)
                c.close(f"all_gather_into_tensor {tag}", out_t.numpy(), np.concatenate([values(seed, k, (3, 4), dname) for k in range(n)]))

                if dname != "bool":
                    seed += 1
                    inp, _ = make_input(seed, r, (2 * n, 4), dname, strided)
                    o = bp.zeros(2, 4, dtype=dtype)
                    run_collective(dist.reduce_scatter_tensor, async_op, o, inp)
                    full = reduce_np("SUM", [values(seed, k, (2 * n, 4), dname) for k in range(n)])
                    c.close(f"reduce_scatter_tensor {tag}", o.numpy(), full[2 * r : 2 * r + 2])

                seed += 1
                t, _ = make_input(seed, r, (3, 4), dname, strided)
                gl = [bp.zeros(3, 4, dtype=dtype) for _ in range(n)] if r == 0 else None
                run_collective(dist.gather, async_op, t, gl, dst=0)
                if r == 0:
                    for k in range(n):
                        c.close(f"gather [{k}] {tag}", gl[k].numpy(), values(seed, k, (3, 4), dname))

                seed += 1
                recv, _ = make_input(seed + 500, r, (3, 4), dname, strided)
                sl = [bp.from_numpy(values(seed, k, (3, 4), dname)) for k in range(n)] if r == 0 else None
                run_collective(dist.scatter, async_op, recv, sl, src=0)
                c.close(f"scatter {tag}", recv.numpy(), values(seed, r, (3, 4), dname))

                seed += 1
                inp, _ = make_input(seed, r, (2 * n, 3), dname, strided)
                o = bp.zeros(2 * n, 3, dtype=dtype)
                run_collective(dist.all_to_all_single, async_op, o, inp)
                want = np.concatenate([values(seed, k, (2 * n, 3), dname)[2 * r : 2 * r + 2] for k in range(n)])
                c.close(f"all_to_all_single {tag}", o.numpy(), want)

                # uneven splits: rank i sends i + j + 1 rows to rank j
                seed += 1
                rows_in = [r + j + 1 for j in range(n)]
                rows_out = [i + r + 1 for i in range(n)]
                inp = bp.from_numpy(values(seed, r, (sum(rows_in), 2), dname))
                o = bp.zeros(sum(rows_out), 2, dtype=dtype)
                run_collective(dist.all_to_all_single, async_op, o, inp, rows_out, rows_in)
                parts = []
                for i in range(n):
                    src_rows = [i + j + 1 for j in range(n)]
                    start = sum(src_rows[:r])
                    parts.append(values(seed, i, (sum(src_rows), 2), dname)[start : start + src_rows[r]])
                c.close(f"all_to_all_single uneven {tag}", o.numpy(), np.concatenate(parts))

    # 0-d and empty tensors
    t = bp.tensor(float(r + 1))
    dist.all_reduce(t)
    c.close("all_reduce 0-d", t.numpy(), np.float32(n * (n + 1) / 2))
    e = bp.zeros(0, 3)
    dist.all_reduce(e)
    c.true("all_reduce of an empty tensor keeps its shape", tuple(e.shape) == (0, 3))

    # CPU tensors go to MPI as their own memory: the address MPI sees is the tensor's.
    from mpi4py import MPI

    group = dist.GroupMember.WORLD
    real = group.comm
    seen = []

    class Spy:
        def __getattr__(self, name):
            return getattr(real, name)

        def Allreduce(self, send, recv, op):
            seen.append(MPI.buffer(recv).address)
            return real.Allreduce(send, recv, op=op)

        def Iallreduce(self, send, recv, op):
            seen.append(MPI.buffer(recv).address)
            return real.Iallreduce(send, recv, op=op)

        def Bcast(self, buf, root):
            seen.append(MPI.buffer(buf).address)
            return real.Bcast(buf, root=root)

    group.comm = Spy()
    dist.set_metadata_checks(False)  # only the data calls go through the spy
    try:
        t = bp.ones(1000)
        dist.all_reduce(t)
        p = bp.nn.Parameter(bp.ones(10, 10))
        dist.all_reduce(p.detach(), async_op=True).wait()
        b = bp.zeros(64)
        dist.broadcast(b, src=0)
    finally:
        group.comm = real
        dist.set_metadata_checks(True)
    c.true(f"zero copy: MPI saw addresses {seen}", seen == [t.data_ptr(), p.data_ptr(), b.data_ptr()])
    c.close("zero copy all_reduce result", t.numpy(), np.full(1000, n, np.float32))

    # barrier, objects
    dist.barrier()
    dist.barrier(async_op=True).wait()
    objs = [{"rank": r}, "x"] if r == 1 else [None, None]
    dist.broadcast_object_list(objs, src=1)
    c.true(f"broadcast_object_list {objs}", objs == [{"rank": 1}, "x"])
    everyone = [None] * n
    dist.all_gather_object(everyone, ("r", r))
    c.true(f"all_gather_object {everyone}", everyone == [("r", k) for k in range(n)])

    # groups: the first and last rank
    members = [0, n - 1]
    g = dist.new_group(members)
    if r in members:
        c.true("get_rank(group)", dist.get_rank(g) == members.index(r))
        c.true("get_world_size(group)", dist.get_world_size(g) == 2)
        t = bp.tensor([float(r)])
        dist.all_reduce(t, group=g)
        c.close("all_reduce in a group", t.numpy(), np.array([float(n - 1)], np.float32))
        t = bp.tensor([float(r)])
        dist.broadcast(t, src=n - 1, group=g)
        c.close("broadcast in a group from a world rank", t.numpy(), np.array([float(n - 1)], np.float32))
    else:
        c.true("non-member gets NON_GROUP_MEMBER", g is dist.GroupMember.NON_GROUP_MEMBER)
        c.true("non-member rank is -1", dist.get_rank(g) == -1)
    c.true("get_backend", dist.get_backend() == "mpi")
    c.true("is_initialized", dist.is_initialized())
    report(out, c)
    dist.destroy_process_group()


def report(out, c):
    failures = dist.GroupMember.WORLD.comm.gather((dist.get_rank(), c.count, c.failures), root=0)
    if dist.get_rank() == 0:
        with open(out, "w") as f:
            json.dump({"ranks": failures, "world": dist.get_world_size()}, f)


# ---- DistributedDataParallel ------------------------------------------------------------------


def MLP():
    """The demo's (the lecture's) MLP, small, without dropout so runs are comparable."""
    from backprop.demo import MLP as LectureMLP

    return LectureMLP(in_features=20, hidden=32, classes=5, p=0.0)


def batches(step, world, per_rank, device):
    """The global batch of `step` (per_rank samples for each rank, concatenated)."""
    rng = np.random.default_rng(step)
    x = rng.standard_normal((world * per_rank, 20)).astype(np.float32)
    y = rng.integers(0, 5, world * per_rank)
    return bp.from_numpy(x).to(device), bp.from_numpy(y).to(device)


def ddp(out, device):
    from backprop.nn.parallel import DistributedDataParallel as DDP

    dist.init_process_group("mpi")
    r, n = dist.get_rank(), dist.get_world_size()
    c = Checker()
    per_rank, steps = 8, 20
    # (bucket_cap_mb, micro-batches accumulated, gradient_as_bucket_view, buckets expected)
    configs = [(25, 1, False, 1), (0.0002, 1, False, 3), (0.001, 2, False, 2), (25, 2, True, 1)]
    if device == "gpu":
        configs = [(25, 1, False, 1), (0.001, 2, True, 2)]
        t = bp.tensor([float(r + 1), 1.0], device="gpu")
        dist.all_reduce(t)
        c.close("all_reduce of a gpu tensor", t.cpu().numpy(), np.array([n * (n + 1) / 2, n], np.float32))
        t = bp.tensor([float(r)], device="gpu")
        dist.broadcast(t, src=n - 1, async_op=True).wait()
        c.close("broadcast of a gpu tensor", t.cpu().numpy(), np.array([n - 1.0], np.float32))
    for cap_mb, accumulate, as_view, n_buckets in configs:
        tag = f"bucket_cap_mb={cap_mb} accumulate={accumulate} gradient_as_bucket_view={as_view} on {device}"
        bp.manual_seed(100 + r)  # different initialisations: DDP must broadcast rank 0's
        model = DDP(MLP().to(device), bucket_cap_mb=cap_mb, gradient_as_bucket_view=as_view)
        bp.manual_seed(100)
        reference = MLP().to(device)  # rank 0's initialisation, trained on the whole batch in one process
        opt = bp.optim.AdamW(model.parameters(), lr=1e-2)
        ref_opt = bp.optim.AdamW(reference.parameters(), lr=1e-2)
        c.true(f"{tag}: {len(model._buckets)} buckets, expected {n_buckets}", len(model._buckets) == n_buckets)
        for step in range(steps):
            opt.zero_grad()
            ref_opt.zero_grad()
            for micro in range(accumulate):
                x, y = batches(step * 10 + micro, n, per_rank, device)
                mine = slice(r * per_rank, (r + 1) * per_rank)
                loss = bp.nn.functional.cross_entropy(model(x[mine]), y[mine]) / accumulate
                if micro < accumulate - 1:
                    with model.no_sync():
                        bp.nn.functional.cross_entropy(model(x[mine]), y[mine]).div(accumulate).backward()
                else:
                    loss.backward()
                bp.nn.functional.cross_entropy(reference(x), y).div(accumulate).backward()
            opt.step()
            ref_opt.step()
        for (name, p), q in zip(model.module.named_parameters(), reference.parameters()):
            diff = float(np.abs(p.detach().cpu().numpy() - q.detach().cpu().numpy()).max())
            c.true(f"{tag}: {name} differs from one-process training by {diff}", diff < 2e-5)
        c.true(f"{tag}: state_dict keys {list(model.state_dict())[:2]}", list(model.state_dict()) == ["module." + k for k in reference.state_dict()])
    report(out, c)


def ddp_unused(out):
    """A parameter that takes no part: an error naming it, or fine with find_unused_parameters."""
    from backprop.nn.parallel import DistributedDataParallel as DDP

    dist.init_process_group("mpi")
    r = dist.get_rank()
    c = Checker()

    class TwoHeads(bp.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = bp.nn.Linear(4, 4)
            self.unused = bp.nn.Linear(4, 2)

        def forward(self, x):
            return self.body(x)

    bp.manual_seed(0)
    model = DDP(TwoHeads(), find_unused_parameters=True)
    x = bp.ones(2, 4) * (r + 1)
    model(x).sum().backward()
    c.true("find_unused_parameters: unused grads stay None", model.module.unused.weight.grad is None)
    c.close("find_unused_parameters: used grads are averaged", model.module.body.bias.grad.numpy(), np.full(4, 2.0, np.float32))
    strict = DDP(TwoHeads())
    strict(x).sum().backward()
    try:
        strict(x)
        c.true("unused parameters without find_unused_parameters raise", False)
    except RuntimeError as e:
        c.true(f"the error names the parameters: {e}", "unused.weight" in str(e) and "find_unused_parameters=True" in str(e))

    class WithBuffer(bp.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = bp.nn.Linear(2, 2)
            self.register_buffer("stat", bp.full((3,), float(r)))

        def forward(self, x):
            self.stat.add_(1.0)  # a running statistic each rank updates on its own
            return self.lin(x)

    bp.manual_seed(r)
    m = DDP(WithBuffer())
    c.close("parameters are rank 0's after construction", m.module.lin.weight.detach().numpy(), _rank0_linear_weight())
    c.close("buffers are rank 0's after construction", m.module.stat.numpy(), np.zeros(3, np.float32))
    m(bp.ones(1, 2))
    m(bp.ones(1, 2))  # broadcast_buffers: rank 0's buffer (now 1) replaces each rank's before the forward
    c.close("broadcast_buffers before each forward", m.module.stat.numpy(), np.full(3, 2.0, np.float32))
    report(out, c)


def _rank0_linear_weight():
    bp.manual_seed(0)
    return bp.nn.Linear(2, 2).weight.detach().numpy()


# ---- failures ----------------------------------------------------------------------------------


def mismatch(out):
    """Each rank writes what it raised to OUT.<rank> (stdout of two ranks can interleave)."""
    dist.init_process_group("mpi")
    r = dist.get_rank()
    lines = []
    t = bp.zeros(4 + r, 3)
    try:
        dist.all_reduce(t)
        lines.append(f"rank {r}: no error")
    except dist.DistError as e:
        lines.append(f"rank {r} raised {type(e).__name__}: {e}")
    t = bp.zeros(3, dtype=bp.float32 if r == 0 else bp.float64)
    try:
        dist.broadcast(t, src=0)
    except dist.DistError as e:
        lines.append(f"rank {r} dtype: {e}")
    dist.barrier()
    with open(f"{out}.{r}", "w") as f:
        f.write("\n".join(lines) + "\n")


def raises(out):
    dist.init_process_group("mpi")
    r = dist.get_rank()
    dist.barrier()
    if r == 1:
        raise ValueError("boom from rank 1")
    dist.all_reduce(bp.ones(3))  # rank 0 would wait here forever without the abort
    time.sleep(60)


def timeout(out):
    dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=1))
    if dist.get_rank() == 1:
        time.sleep(60)
    dist.all_reduce(bp.ones(3))


def init_checks(out):
    c = Checker()

    def expect(what, exc, fn, match=""):
        try:
            fn()
        except exc as e:
            c.true(f"{what}: message {e}", match in str(e))
        except Exception as e:
            c.true(f"{what}: raised {type(e).__name__}: {e}, expected {exc.__name__}", False)
        else:
            c.true(f"{what}: no error", False)

    expect("collective before init", ValueError, lambda: dist.all_reduce(bp.ones(2)), "has not been initialized")
    expect("get_rank before init", ValueError, dist.get_rank, "init_process_group")
    expect("nccl", ValueError, lambda: dist.init_process_group("nccl"), "backend='mpi'")
    expect("timeout type", TypeError, lambda: dist.init_process_group("mpi", timeout=5), "timedelta")
    expect("bad rank", ValueError, lambda: dist.init_process_group("mpi", rank=3), "rank=3")
    expect("bad world_size", ValueError, lambda: dist.init_process_group("mpi", world_size=4), "world_size=4")
    expect("bad init_method", ValueError, lambda: dist.init_process_group("mpi", init_method="bogus"), "env://")
    os.environ["WORLD_SIZE"] = "7"
    expect("env WORLD_SIZE", ValueError, lambda: dist.init_process_group("mpi", init_method="env://"), "WORLD_SIZE=7")
    del os.environ["WORLD_SIZE"]
    c.true("still not initialised after the errors", not dist.is_initialized())
    dist.init_process_group(backend="mpi", init_method="tcp://127.0.0.1:29500", rank=0, world_size=1)
    expect("twice", RuntimeError, lambda: dist.init_process_group("mpi"), "twice")
    t = bp.tensor([2.0, 3.0])
    dist.all_reduce(t, op=dist.ReduceOp.AVG)
    c.close("world of one", t.numpy(), np.array([2.0, 3.0], np.float32))
    expect("AVG of ints", TypeError, lambda: dist.all_reduce(bp.tensor([1, 2]), op=dist.ReduceOp.AVG), "AVG")
    expect("not a tensor", TypeError, lambda: dist.all_reduce([1.0]), "Tensor")
    expect("src outside", ValueError, lambda: dist.broadcast(bp.ones(1), src=3), "src=3")
    expect("list length", ValueError, lambda: dist.all_gather([bp.ones(1)] * 2, bp.ones(1)), "one tensor per rank")
    with open(out, "w") as f:
        json.dump({"ranks": [[0, c.count, c.failures]], "world": 1}, f)
    dist.destroy_process_group()
    expect("after destroy", ValueError, lambda: dist.barrier(), "has not been initialized")
    if c.failures:
        with open(out, "w") as f:
            json.dump({"ranks": [[0, c.count, c.failures]], "world": 1}, f)


if __name__ == "__main__":
    scenario, out = sys.argv[1], sys.argv[2]
    globals()[scenario](out, *sys.argv[3:])
