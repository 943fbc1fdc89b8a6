"""Collectives with PyTorch's names and argument rules, each one MPI call.

Every tensor argument goes to MPI through `buffers.HostBuffer` (a CPU tensor's own memory).
With `async_op=True` the non-blocking MPI call is used and a `Work` is returned; otherwise the
call returns None once done. Before the data, ranks agree on what they pass (`_agree`): one
all-reduce of a few integers, so ranks that disagree on a shape, dtype or root all raise
instead of hanging or corrupting memory (`set_metadata_checks(False)` skips it).
"""

import enum
import functools
import math
import time
import warnings
import zlib

import numpy as np

import backprop as bp
from backprop.distributed.buffers import HostBuffer, copy_into, host_array, numpy_dtype
from backprop.distributed.errors import DistBackendError, DistError
from backprop.distributed.process_group import GroupMember, _mpi, _resolve, _State


class ReduceOp(enum.Enum):
    """How `all_reduce`, `reduce` and `reduce_scatter_tensor` combine the ranks' values."""

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    BAND = "band"
    BOR = "bor"
    BXOR = "bxor"


ReduceOp.RedOpType = ReduceOp


def _mpi_reduction(op, dtype, what):
    """(MPI op, whether to divide by the group size afterwards)."""
    found = _REDUCTIONS.get((op, dtype)) if isinstance(op, ReduceOp) else None
    if found is not None:
        return found
    if not isinstance(op, ReduceOp):
        raise TypeError(f"{what}: op must be a ReduceOp (for example ReduceOp.SUM), got {op!r}")
    kind = "bool" if dtype == bp.bool else "float" if dtype.is_floating_point else "int"
    table = _reduction_table(kind)
    if op.value not in table:
        raise TypeError(f"{what}: ReduceOp.{op.name} does not apply to {dtype} tensors")
    found = _REDUCTIONS[(op, dtype)] = (table[op.value], op is ReduceOp.AVG)
    return found


_REDUCTIONS = {}  # (ReduceOp, dtype) -> what _mpi_reduction found: every collective asks


@functools.cache
def _reduction_table(kind):
    MPI = _mpi()
    if kind == "bool":
        return {"sum": MPI.LOR, "max": MPI.LOR, "bor": MPI.LOR, "product": MPI.LAND, "min": MPI.LAND, "band": MPI.LAND, "bxor": MPI.LXOR}
    if kind == "float":
        return {"sum": MPI.SUM, "avg": MPI.SUM, "product": MPI.PROD, "min": MPI.MIN, "max": MPI.MAX}
    return {"sum": MPI.SUM, "product": MPI.PROD, "min": MPI.MIN, "max": MPI.MAX, "band": MPI.BAND, "bor": MPI.BOR, "bxor": MPI.BXOR}


# ---- waiting -------------------------------------------------------------------------------


def _wait_all(pg, requests, what, timeout):
    MPI = _mpi()
    if timeout is None:
        MPI.Request.Waitall(requests)
        return
    deadline = time.monotonic() + timeout
    pause = 0.0
    while not MPI.Request.Testall(requests):
        if time.monotonic() > deadline:
            raise DistBackendError(
                f"{what}: rank {pg.rank()} of {pg.size()} timed out after {timeout:g} s waiting for the other ranks "
                f"(one of them stopped, or called a different collective); the job cannot continue"
            )
        time.sleep(pause)
        pause = min(pause * 2 or 1e-5, 1e-3)


class Work:
    """A collective started with `async_op=True`: `wait()` blocks until it is done (and its
    results are in the output tensors); `is_completed()` asks without blocking."""

    def __init__(self, pg, what, requests, finish=None, result=()) -> None:
        self._pg = pg
        self._what = what
        self._requests = requests
        self._finish = finish
        self._result = list(result)
        self._done = False
        self._exception = None

    def _complete(self):
        self._done = True
        if self._finish is not None:
            finish, self._finish = self._finish, None
            try:
                finish()
            except Exception as e:
                self._exception = e
                raise

    def is_completed(self):
        """True once the collective finished (polls it without blocking)."""
        if not self._done and _mpi().Request.Testall(self._requests):
            self._complete()
        return self._done

    def wait(self, timeout=None):
        """Blocks until done; `timeout` (a `datetime.timedelta`) overrides the group's."""
        if not self._done:
            seconds = timeout.total_seconds() if timeout is not None else self._pg.timeout
            _wait_all(self._pg, self._requests, self._what, seconds)
            self._complete()
        return True

    def synchronize(self):
        """Blocks until the collective finished (PyTorch's name for `wait()` without a timeout)."""
        self.wait()

    def is_success(self):
        """True when the collective finished without an exception."""
        return self._done and self._exception is None

    def exception(self):
        """The exception the collective raised while finishing, or None."""
        return self._exception

    def result(self):
        """The output tensors of the collective, as a list."""
        return list(self._result)

    def __repr__(self):
        return f"Work({self._what}, completed={self._done})"


def _launch(pg, what, start, finish=None, async_op=False, result=()):
    """Runs a collective: `start(blocking)` issues the MPI call (returning the requests of a
    non-blocking one), `finish()` moves results into place once it is done."""
    if async_op or pg.timeout is not None:
        work = Work(pg, what, start(False), finish, result)
        if async_op:
            return work
        work.wait()
        return None
    start(True)
    if finish is not None:
        finish()
    return None


# ---- agreement between ranks ------------------------------------------------------------------

_OPS = [
    "all_reduce", "broadcast", "reduce", "all_gather", "all_gather_into_tensor", "reduce_scatter_tensor",
    "gather", "scatter", "all_to_all_single",
]


@functools.lru_cache(maxsize=1024)
def _agreement(what, dtype, shape, extra, ok):
    """The integers `_agree` reduces for one call signature, as an array to send and the
    list every rank gets back when all agree (cached by the objects themselves: the same few
    signatures repeat, and turning them into text on every call cost a microsecond)."""
    shape = tuple(shape)
    fields = [
        _OPS.index(what),
        zlib.crc32(str(dtype).encode()),
        len(shape),
        math.prod(shape),
        zlib.crc32(repr(shape).encode()),
        zlib.crc32(repr(extra).encode()),
        int(ok),
    ]
    expected = fields + [-f for f in fields]
    return np.array(expected, dtype=np.int64), expected


def _describe(tensor):
    return f"{str(tensor.dtype).removeprefix('backprop.')} {list(tensor.shape)}"


def _agree(pg, what, tensor, extra=(), local_error=None, meanwhile=None):
    """Raises on every rank unless all ranks call `what` with the same dtype, shape and
    `extra` (roots, reduce ops, sizes) and none of them found its own arguments bad.

    `meanwhile()`, the call's own preparation (its buffers), runs while the check is in
    flight, so the check's latency hides the preparation's; its result is returned."""
    if pg.size() == 1 or not _State.check_metadata:
        if local_error is not None:
            raise local_error
        return None if meanwhile is None else meanwhile()
    MPI = _mpi()
    template, expected = _agreement(what, tensor.dtype, tensor.shape, extra, local_error is None)
    v = template.copy()
    request = pg.comm.Iallreduce(MPI.IN_PLACE, v, op=MPI.MAX)
    try:
        prepared = None if meanwhile is None or local_error is not None else meanwhile()
    finally:
        _wait_all(pg, [request], what, pg.timeout)
    # Each field f is sent as f and -f: after MAX every rank holds (max f, -min f), equal to
    # its own (f, -f) on every rank exactly when all ranks agree, and on none otherwise.
    agreed = v.tolist() == expected
    if agreed and local_error is None:
        return prepared
    if agreed:  # every rank found the same problem with its arguments
        raise local_error
    mine = (what, _describe(tensor), extra, None if local_error is None else str(local_error))
    everyone = pg.comm.allgather(mine)
    if local_error is not None:
        raise local_error
    parts = []
    for r, (op, desc, ex, err) in zip(pg.global_ranks, everyone):
        detail = f"{op}({desc}{', ' + ', '.join(map(str, ex)) if ex else ''})"
        parts.append(f"rank {r}: {detail}" + (f" [its arguments are invalid: {err}]" if err else ""))
    raise DistError(
        f"{what}: ranks disagree on the collective they call: {'; '.join(parts)}. "
        f"Every rank must call the same collective with tensors of the same shape and dtype and the same "
        f"root and reduce op"
    )


def _check_tensor(t, what, name="tensor"):
    if not isinstance(t, bp.Tensor):
        raise TypeError(f"{what}: {name} must be a backprop Tensor, got {type(t).__name__}")


def _member(group, what):
    """The ProcessGroup, or None (with PyTorch's warning) when this rank is not in it."""
    pg = _resolve(group)
    if pg is GroupMember.NON_GROUP_MEMBER:
        warnings.warn(f"Running {what} on a rank which does not belong to the given group.", stacklevel=3)
        return None
    return pg


def _root(pg, src, what, name):
    return pg.group_rank(src, f"{what}: {name}")


def _check_list(what, name, tensors, like, size):
    """A message (or None) when `tensors` is not `size` tensors of `like`'s shape and dtype."""
    if not isinstance(tensors, (list, tuple)):
        return TypeError(f"{what}: {name} must be a list of {size} tensors, got {type(tensors).__name__}")
    if len(tensors) != size:
        return ValueError(f"{what}: {name} must hold one tensor per rank ({size}), got {len(tensors)}")
    for i, t in enumerate(tensors):
        if not isinstance(t, bp.Tensor):
            return TypeError(f"{what}: {name}[{i}] must be a backprop Tensor, got {type(t).__name__}")
        if t.shape != like.shape or t.dtype != like.dtype:
            return ValueError(f"{what}: {name}[{i}] is {_describe(t)} but the tensor is {_describe(like)}; they must match")
    return None


# ---- the collectives ------------------------------------------------------------------------


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Combines `tensor` over all ranks with `op`, in place on every rank.

    Example::

        t = bp.tensor([float(dist.get_rank())])
        dist.all_reduce(t)          # t == 0 + 1 + ... on every rank
    """
    pg = _member(group, "all_reduce")
    if pg is None:
        return None
    _check_tensor(tensor, "all_reduce")
    mop, average = _mpi_reduction(op, tensor.dtype, "all_reduce")
    buf = _agree(pg, "all_reduce", tensor, (op.name,), meanwhile=lambda: HostBuffer(tensor))
    return _all_reduce(pg, tensor, mop, average, async_op, buf)


def _all_reduce(pg, tensor, mop, average, async_op, buf=None):
    MPI = _mpi()
    if buf is None:
        buf = HostBuffer(tensor)
    comm = pg.comm

    def start(blocking):
        if blocking:
            comm.Allreduce(MPI.IN_PLACE, buf.array, op=mop)
            return []
        return [comm.Iallreduce(MPI.IN_PLACE, buf.array, op=mop)]

    def finish():
        if average:
            np.divide(buf.array, pg.size(), out=buf.array)
        buf.store()

    return _launch(pg, "all_reduce", start, finish, async_op, (tensor,))


def broadcast(tensor, src=0, group=None, async_op=False):
    """Copies `tensor` of rank `src` (a world rank) into `tensor` on every rank."""
    pg = _member(group, "broadcast")
    if pg is None:
        return None
    _check_tensor(tensor, "broadcast")
    root = _root(pg, src, "broadcast", "src")
    _agree(pg, "broadcast", tensor, (f"src={src}",))
    is_root = pg.rank() == root
    buf = HostBuffer(tensor, read=is_root)
    comm = pg.comm

    def start(blocking):
        if blocking:
            comm.Bcast(buf.array, root=root)
            return []
        return [comm.Ibcast(buf.array, root=root)]

    return _launch(pg, "broadcast", start, None if is_root else buf.store, async_op, (tensor,))


def reduce(tensor, dst=0, op=ReduceOp.SUM, group=None, async_op=False):
    """Combines `tensor` over all ranks into `tensor` of rank `dst`; the others keep theirs."""
    pg = _member(group, "reduce")
    if pg is None:
        return None
    _check_tensor(tensor, "reduce")
    mop, average = _mpi_reduction(op, tensor.dtype, "reduce")
    root = _root(pg, dst, "reduce", "dst")
    _agree(pg, "reduce", tensor, (op.name, f"dst={dst}"))
    MPI = _mpi()
    is_root = pg.rank() == root
    buf = HostBuffer(tensor)
    comm = pg.comm
    send = MPI.IN_PLACE if is_root else buf.array
    recv = buf.array if is_root else None

    def start(blocking):
        if blocking:
            comm.Reduce(send, recv, op=mop, root=root)
            return []
        return [comm.Ireduce(send, recv, op=mop, root=root)]

    def finish():
        if is_root:
            if average:
                np.divide(buf.array, pg.size(), out=buf.array)
            buf.store()

    return _launch(pg, "reduce", start, finish, async_op, (tensor,))


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Fills `tensor_list[r]` with rank r's `tensor`, on every rank."""
    pg = _member(group, "all_gather")
    if pg is None:
        return None
    _check_tensor(tensor, "all_gather")
    bad = _check_list("all_gather", "tensor_list", tensor_list, tensor, pg.size())
    _agree(pg, "all_gather", tensor, local_error=bad)
    send = HostBuffer(tensor)
    recv = np.empty((pg.size(), *tensor.shape), dtype=send.array.dtype)
    comm = pg.comm

    def start(blocking):
        if blocking:
            comm.Allgather(send.array, recv)
            return []
        return [comm.Iallgather(send.array, recv)]

    def finish():
        for t, a in zip(tensor_list, recv):
            copy_into(t, a)

    return _launch(pg, "all_gather", start, finish, async_op, tensor_list)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """Concatenates every rank's `input_tensor` along dim 0 into `output_tensor` (of shape
    `[world * n, ...]`, or `[world, n, ...]` stacked)."""
    pg = _member(group, "all_gather_into_tensor")
    if pg is None:
        return None
    what = "all_gather_into_tensor"
    _check_tensor(input_tensor, what, "input_tensor")
    _check_tensor(output_tensor, what, "output_tensor")
    bad = None
    if output_tensor.dtype != input_tensor.dtype:
        bad = TypeError(f"{what}: output_tensor is {output_tensor.dtype} but input_tensor is {input_tensor.dtype}")
    elif output_tensor.numel() != pg.size() * input_tensor.numel():
        bad = ValueError(
            f"{what}: output_tensor {list(output_tensor.shape)} must hold world size ({pg.size()}) times "
            f"input_tensor {list(input_tensor.shape)}"
        )
    _agree(pg, what, input_tensor, local_error=bad)
    send = HostBuffer(input_tensor)
    recv = HostBuffer(output_tensor, read=False)
    comm = pg.comm

    def start(blocking):
        if blocking:
            comm.Allgather(send.array, recv.array)
            return []
        return [comm.Iallgather(send.array, recv.array)]

    return _launch(pg, what, start, recv.store, async_op, (output_tensor,))


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """Combines `input` (world * n elements along dim 0) over all ranks and leaves rank r's
    r-th part in `output`."""
    pg = _member(group, "reduce_scatter_tensor")
    if pg is None:
        return None
    what = "reduce_scatter_tensor"
    _check_tensor(input, what, "input")
    _check_tensor(output, what, "output")
    mop, average = _mpi_reduction(op, input.dtype, what)
    bad = None
    if output.dtype != input.dtype:
        bad = TypeError(f"{what}: output is {output.dtype} but input is {input.dtype}")
    elif input.numel() != pg.size() * output.numel():
        bad = ValueError(f"{what}: input {list(input.shape)} must hold world size ({pg.size()}) times output {list(output.shape)}")
    _agree(pg, what, input, (op.name,), local_error=bad)
    send = HostBuffer(input)
    recv = HostBuffer(output, read=False)
    comm = pg.comm

    def start(blocking):
        if blocking:
            comm.Reduce_scatter_block(send.array, recv.array, op=mop)
            return []
        return [comm.Ireduce_scatter_block(send.array, recv.array, op=mop)]

    def finish():
        if average:
            np.divide(recv.array, pg.size(), out=recv.array)
        recv.store()

    return _launch(pg, what, start, finish, async_op, (output,))


def gather(tensor, gather_list=None, dst=0, group=None, async_op=False):
    """Collects every rank's `tensor` into `gather_list` on rank `dst` (None elsewhere)."""
    pg = _member(group, "gather")
    if pg is None:
        return None
    _check_tensor(tensor, "gather")
    root = _root(pg, dst, "gather", "dst")
    is_root = pg.rank() == root
    bad = None
    if is_root:
        bad = _check_list("gather", "gather_list", gather_list, tensor, pg.size())
    elif gather_list:
        bad = ValueError(f"gather: gather_list is only given on the destination rank {dst}; pass None here")
    _agree(pg, "gather", tensor, (f"dst={dst}",), local_error=bad)
    send = HostBuffer(tensor)
    recv = np.empty((pg.size(), *tensor.shape), dtype=send.array.dtype) if is_root else None
    comm = pg.comm

    def start(blocking):
        if blocking:
            comm.Gather(send.array, recv, root=root)
            return []
        return [comm.Igather(send.array, recv, root=root)]

    def finish():
        if is_root:
            for t, a in zip(gather_list, recv):
                copy_into(t, a)

    return _launch(pg, "gather", start, finish, async_op, gather_list or ())


def scatter(tensor, scatter_list=None, src=0, group=None, async_op=False):
    """Rank r receives `scatter_list[r]` of rank `src` into `tensor`."""
    pg = _member(group, "scatter")
    if pg is None:
        return None
    _check_tensor(tensor, "scatter")
    root = _root(pg, src, "scatter", "src")
    is_root = pg.rank() == root
    bad = None
    if is_root:
        bad = _check_list("scatter", "scatter_list", scatter_list, tensor, pg.size())
    elif scatter_list:
        bad = ValueError(f"scatter: scatter_list is only given on the source rank {src}; pass None here")
    _agree(pg, "scatter", tensor, (f"src={src}",), local_error=bad)
    send = np.stack([host_array(t) for t in scatter_list]) if is_root else None
    recv = HostBuffer(tensor, read=False)
    comm = pg.comm

    def start(blocking):
        if blocking:
            comm.Scatter(send, recv.array, root=root)
            return []
        return [comm.Iscatter(send, recv.array, root=root)]

    return _launch(pg, "scatter", start, recv.store, async_op, (tensor,))


def all_to_all_single(output, input, output_split_sizes=None, input_split_sizes=None, group=None, async_op=False):
    """Rank r sends its i-th block of `input` (along dim 0) to rank i and receives rank i's
    r-th block into `output`; the blocks are equal unless split sizes are given."""
    pg = _member(group, "all_to_all_single")
    if pg is None:
        return None
    what = "all_to_all_single"
    _check_tensor(input, what, "input")
    _check_tensor(output, what, "output")
    n = pg.size()

    def splits(t, given, name):
        rows = t.shape[0] if t.dim() else 1
        if given is None:
            if rows % n:
                raise ValueError(f"{what}: {name} has {rows} rows, which the world size {n} does not divide; pass {name}_split_sizes")
            return [rows // n] * n
        given = [int(s) for s in given]
        if len(given) != n or any(s < 0 for s in given) or sum(given) != rows:
            raise ValueError(f"{what}: {name}_split_sizes {given} must be {n} non-negative sizes adding up to {rows}")
        return given

    in_splits = splits(input, input_split_sizes, "input")
    out_splits = splits(output, output_split_sizes, "output")
    if input.dtype != output.dtype or tuple(input.shape[1:]) != tuple(output.shape[1:]):
        raise ValueError(f"{what}: output {_describe(output)} and input {_describe(input)} must agree in dtype and in every dim but the first")
    row = int(np.prod(input.shape[1:], dtype=np.int64)) if input.dim() > 1 else 1
    if _State.check_metadata and n > 1:
        mine = (str(input.dtype), tuple(input.shape[1:]), in_splits, out_splits)
        everyone = pg.comm.allgather(mine)
        problems = []
        for i, (dt, rest, ins, _) in enumerate(everyone):
            if (dt, rest) != mine[:2]:
                problems.append(f"rank {pg.global_ranks[i]} sends {dt} rows of shape {list(rest)}")
        for i, (_, _, ins_i, _) in enumerate(everyone):
            for j, (_, _, _, outs_j) in enumerate(everyone):
                if ins_i[j] != outs_j[i]:
                    problems.append(f"rank {pg.global_ranks[i]} sends {ins_i[j]} rows to rank {pg.global_ranks[j]}, which expects {outs_j[i]}")
        if problems:
            raise DistError(f"{what}: ranks disagree: {'; '.join(problems[:6])}")
    send = HostBuffer(input)
    recv = HostBuffer(output, read=False)
    from mpi4py.util.dtlib import from_numpy_dtype

    mtype = from_numpy_dtype(send.array.dtype)
    counts_in = [s * row for s in in_splits]
    counts_out = [s * row for s in out_splits]
    displs_in = np.concatenate([[0], np.cumsum(counts_in)[:-1]]).astype(int).tolist()
    displs_out = np.concatenate([[0], np.cumsum(counts_out)[:-1]]).astype(int).tolist()
    s_spec = [send.array, (counts_in, displs_in), mtype]
    r_spec = [recv.array, (counts_out, displs_out), mtype]
    comm = pg.comm

    def start(blocking):
        if blocking:
            comm.Alltoallv(s_spec, r_spec)
            return []
        return [comm.Ialltoallv(s_spec, r_spec)]

    return _launch(pg, what, start, recv.store, async_op, (output,))


def barrier(group=None, async_op=False, device_ids=None):
    """Returns once every rank of `group` has called it."""
    pg = _member(group, "barrier")
    if pg is None:
        return None
    comm = pg.comm

    def start(blocking):
        if blocking:
            comm.Barrier()
            return []
        return [comm.Ibarrier()]

    return _launch(pg, "barrier", start, None, async_op)


def broadcast_object_list(object_list, src=0, group=None, device=None):
    """Replaces the items of `object_list` on every rank by those of rank `src` (pickled)."""
    pg = _member(group, "broadcast_object_list")
    if pg is None:
        return None
    root = _root(pg, src, "broadcast_object_list", "src")
    objs = pg.comm.bcast(list(object_list) if pg.rank() == root else len(object_list), root=root)
    if pg.rank() != root:
        if len(objs) != len(object_list):
            raise ValueError(
                f"broadcast_object_list: rank {src} sent {len(objs)} objects but this rank's list has {len(object_list)}; "
                f"pass lists of the same length on every rank"
            )
        object_list[:] = objs
    return None


def all_gather_object(object_list, obj, group=None):
    """Fills `object_list[r]` with rank r's `obj` (pickled), on every rank."""
    pg = _member(group, "all_gather_object")
    if pg is None:
        return None
    everyone = pg.comm.allgather(obj)
    if len(object_list) != len(everyone):
        raise ValueError(f"all_gather_object: object_list must have world size ({len(everyone)}) entries, got {len(object_list)}")
    object_list[:] = everyone
    return None
