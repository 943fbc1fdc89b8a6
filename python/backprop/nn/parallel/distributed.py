"""`DistributedDataParallel`: every rank holds the whole model and a share of each batch;
gradients are averaged over the ranks during backward.

Parameters are grouped into buckets in reverse registration order (roughly the order their
gradients become ready in backward), the first bucket small (1 MiB) so communication
starts early, the rest up to `bucket_cap_mb`. Each parameter has a post-accumulate-grad
hook: it copies the finished gradient into its bucket, and when a bucket is full it is
all-reduced with a non-blocking MPI call while backward carries on with earlier layers.
Buckets are launched strictly in order, so every rank issues the same MPI calls in the same
order whatever order its hooks ran in. When the last bucket is launched (the last hook of
the backward) all of them are waited for and the averages written back into `.grad`, so
`backward()` returns with synchronised gradients, as in PyTorch.
"""

import contextlib
import functools

import backprop as bp
from backprop.nn.module import Module

_FIRST_BUCKET_BYTES = 1024 * 1024


class _Bucket:
    """A flat buffer holding the gradients of some parameters of one dtype and device."""

    def __init__(self, indices, params):
        self.indices = indices
        first = params[indices[0]]
        sizes = [params[i].numel() for i in indices]
        self.flat = bp.zeros(sum(sizes), dtype=first.dtype, device=first.device)
        self.views = {}
        offset = 0
        for i, n in zip(indices, sizes):
            self.views[i] = self.flat[offset : offset + n].view(tuple(params[i].shape))
            offset += n
        self.left = len(indices)
        self.work = None


def _assign_buckets(params, cap_bytes):
    """Parameter indices per bucket: reverse order, one open bucket per (dtype, device), the
    first of each closed at 1 MiB and the others at `cap_bytes` (PyTorch's rule)."""
    open_buckets = {}
    done = []
    for i in reversed(range(len(params))):
        p = params[i]
        key = (str(p.dtype), str(p.device))
        entry = open_buckets.setdefault(key, {"indices": [], "bytes": 0, "limit": min(_FIRST_BUCKET_BYTES, cap_bytes)})
        entry["indices"].append(i)
        entry["bytes"] += p.numel() * p.element_size()
        if entry["bytes"] >= entry["limit"]:
            done.append(entry["indices"])
            open_buckets[key] = {"indices": [], "bytes": 0, "limit": cap_bytes}
    done += [e["indices"] for e in open_buckets.values() if e["indices"]]
    return done


class DistributedDataParallel(Module):
    """Data-parallel training of `module` over the ranks of `process_group` (default: all).

    At construction, parameters and buffers are broadcast from the group's first rank, so
    all replicas start equal; every backward then leaves each parameter's `.grad` equal to
    the average over the ranks. `no_sync()` skips the averaging (gradients accumulate
    locally, and the next synchronised backward averages the sum). Parameters that do not
    take part in a forward are an error naming them, unless `find_unused_parameters=True`.

    Example::

        dist.init_process_group("mpi")
        model = DistributedDataParallel(MLP())
        loss = F.cross_entropy(model(x), y)
        loss.backward()           # .grad is the average over all ranks
        optimizer.step()
    """

    def __init__(
        self,
        module,
        device_ids=None,
        output_device=None,
        dim=0,
        broadcast_buffers=True,
        process_group=None,
        bucket_cap_mb=None,
        find_unused_parameters=False,
        check_reduction=False,
        gradient_as_bucket_view=False,
        static_graph=False,
    ):
        super().__init__()
        from backprop.distributed import collectives
        from backprop.distributed.process_group import _resolve

        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: module must be an nn.Module, got {type(module).__name__}")
        if bucket_cap_mb is None:
            bucket_cap_mb = 25
        if not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, got {bucket_cap_mb}")
        self.module = module
        pg = _resolve(process_group)
        d = self.__dict__
        d["process_group"] = pg
        d["broadcast_buffers"] = broadcast_buffers
        d["find_unused_parameters"] = find_unused_parameters
        d["gradient_as_bucket_view"] = gradient_as_bucket_view
        d["require_backward_grad_sync"] = True
        d["bucket_bytes_cap"] = int(bucket_cap_mb * 1024 * 1024)
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any parameter that requires a gradient.")
        d["_names"] = [n for n, _ in named]
        d["_params"] = [p for _, p in named]
        d["_collectives"] = collectives
        self._verify_same_model()
        self._sync_state()
        d["_buckets"] = [_Bucket(ix, self._params) for ix in _assign_buckets(self._params, self.bucket_bytes_cap)]
        d["_bucket_of"] = {i: b for b in self._buckets for i in b.indices}
        d["_armed"] = False
        d["_ready"] = set()
        d["_next"] = 0
        d["_handles"] = [p.register_post_accumulate_grad_hook(functools.partial(self._grad_ready, i)) for i, p in enumerate(self._params)]

    # ---- construction ---------------------------------------------------------------------

    def _verify_same_model(self):
        """Every rank must hold the same parameters (names, shapes, dtypes), or buckets differ."""
        mine = [(n, tuple(p.shape), str(p.dtype)) for n, p in zip(self._names, self._params)]
        pg = self.process_group
        everyone = pg.comm.allgather(mine)
        for r, theirs in zip(pg.global_ranks, everyone):
            if theirs != everyone[0]:
                first = next((a, b) for a, b in zip(everyone[0] + [None] * len(theirs), theirs + [None] * len(everyone[0])) if a != b)
                raise RuntimeError(
                    f"DistributedDataParallel: rank {r} has a different model than rank {pg.global_ranks[0]} "
                    f"({len(theirs)} vs {len(everyone[0])} parameters; first difference: {first[1]} vs {first[0]}); "
                    f"every rank must build the same module"
                )

    def _sync_state(self):
        """Broadcasts parameters and buffers from the group's first rank."""
        src = self.process_group.global_ranks[0]
        with bp.no_grad():
            for p in self._params:
                self._collectives.broadcast(p.detach(), src=src, group=self.process_group)
            for b in self.module.buffers():
                self._collectives.broadcast(b, src=src, group=self.process_group)

    # ---- forward --------------------------------------------------------------------------

    def forward(self, *inputs, **kwargs):
        if self._armed and self._ready:
            self._raise_unfinished()
        if self.broadcast_buffers and self.process_group.size() > 1:
            src = self.process_group.global_ranks[0]
            with bp.no_grad():
                for b in self.module.buffers():
                    self._collectives.broadcast(b, src=src, group=self.process_group)
        output = self.module(*inputs, **kwargs)
        if bp.is_grad_enabled() and self.require_backward_grad_sync:
            self._arm()
            if self.find_unused_parameters:
                reached = _leaves_reached(output)
                for i, p in enumerate(self._params):
                    if p._handle_id not in reached:
                        self._mark_ready(i, used=False)
        else:
            self.__dict__["_armed"] = False
        return output

    @contextlib.contextmanager
    def no_sync(self):
        """Backward passes inside skip the averaging; gradients accumulate locally until the
        first synchronised backward after it.

        Example::

            with model.no_sync():
                model(x1).sum().backward()   # local accumulation
            model(x2).sum().backward()       # averages x1's and x2's gradients
        """
        previous = self.require_backward_grad_sync
        self.__dict__["require_backward_grad_sync"] = False
        try:
            yield
        finally:
            self.__dict__["require_backward_grad_sync"] = previous

    # ---- during backward ------------------------------------------------------------------

    def _arm(self):
        d = self.__dict__
        d["_armed"] = True
        d["_ready"] = set()
        import numpy as np

        d["_used"] = np.ones(len(self._params), dtype=np.uint8)
        d["_next"] = 0
        for b in self._buckets:
            b.left = len(b.indices)
            b.work = None

    def _grad_ready(self, i, _leaf):
        if self._armed:
            for b in self._buckets[: self._next]:
                b.work.is_completed()  # MPI progresses in-flight reductions only inside MPI calls
            self._mark_ready(i, used=True)

    def _mark_ready(self, i, used):
        if i in self._ready:
            raise RuntimeError(
                f"DistributedDataParallel: parameter {self._names[i]} got its gradient twice in one iteration "
                f"(a second backward through the same forward, or retain_graph=True); call the model again "
                f"before each backward, or accumulate under no_sync()"
            )
        self._ready.add(i)
        bucket = self._bucket_of[i]
        view = bucket.views[i]
        p = self._params[i]
        with bp.no_grad():
            if not used:
                self._used[i] = 0
                view.zero_()
            elif p.grad is not None and p.grad._handle_id != view._handle_id:
                view.copy_(p.grad)
                if self.gradient_as_bucket_view:
                    p.grad = view
        bucket.left -= 1
        if bucket.left == 0:
            self._launch_ready()

    def _launch_ready(self):
        while self._next < len(self._buckets) and self._buckets[self._next].left == 0:
            b = self._buckets[self._next]
            b.work = self._collectives._all_reduce(self.process_group, b.flat, _mpi_sum(), False, async_op=True)
            self.__dict__["_next"] = self._next + 1
        if self._next == len(self._buckets):
            self._finish()

    def _finish(self):
        """Waits for every bucket and writes the averages into `.grad`."""
        self.__dict__["_armed"] = False
        pg = self.process_group
        used = self._used
        if self.find_unused_parameters and pg.size() > 1:
            MPI = _mpi()
            pg.comm.Allreduce(MPI.IN_PLACE, used, op=MPI.MAX)
        world = pg.size()
        with bp.no_grad():
            for b in self._buckets:
                b.work.wait()
                if world > 1:
                    b.flat.div_(world)
                for i in b.indices:
                    if not used[i]:
                        continue  # no rank used it: its .grad stays as it was
                    p, view = self._params[i], b.views[i]
                    if self.gradient_as_bucket_view:
                        if p.grad is None or p.grad._handle_id != view._handle_id:
                            p.grad = view
                    elif p.grad is None:
                        p.grad = view.clone()
                    else:
                        p.grad.copy_(view)

    def _raise_unfinished(self):
        missing = [n for i, n in enumerate(self._names) if i not in self._ready]
        self.__dict__["_armed"] = False
        raise RuntimeError(
            "Expected to have finished reduction in the prior iteration before starting a new one. This error "
            "indicates that your module has parameters that were not used in producing loss. Parameters which did "
            f"not receive grad for rank {bp.distributed.get_rank()}: {', '.join(missing)}. Pass "
            "find_unused_parameters=True to DistributedDataParallel, or make sure all forward outputs take part "
            "in the loss."
        )

    def extra_repr(self):
        return ""


def _mpi():
    from backprop.distributed.process_group import _mpi as mpi

    return mpi()


def _mpi_sum():
    return _mpi().SUM


def _leaves_reached(output):
    """Engine identities of the leaves the autograd graph of `output` reaches."""
    roots = []
    stack = [output]
    while stack:
        o = stack.pop()
        if isinstance(o, bp.Tensor):
            if o.grad_fn is not None:
                roots.append(o.grad_fn)
            elif o.requires_grad:
                roots.append(o)
        elif isinstance(o, (list, tuple)):
            stack.extend(o)
        elif isinstance(o, dict):
            stack.extend(o.values())
    reached = set()
    seen = set()
    nodes = []
    for r in roots:
        if isinstance(r, bp.Tensor):
            reached.add(r._handle_id)
        else:
            nodes.append(r)
    while nodes:
        node = nodes.pop()
        variable = getattr(node, "variable", None)
        if variable is not None:
            reached.add(variable._handle_id)
            continue
        for fn, _ in node.next_functions:
            if fn is not None and fn not in seen:  # nodes compare (and hash) by the engine node
                seen.add(fn)
                nodes.append(fn)
    return reached
