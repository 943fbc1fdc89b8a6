"""`DataLoader`: batches from a data set, in the main process or in worker processes.

The loader turns a sampler's indices into batches (`backprop.data.fetch`). With
`num_workers > 0` it starts that many processes (`backprop.data.worker`), keeps
`prefetch_factor` batches in flight per worker, hands batches to workers round-robin and
yields them in order (or as they arrive, with `in_order=False`). Workers are shut down when
an epoch ends, when the iterator is dropped (a `break`), or when an error propagates;
`persistent_workers=True` keeps them for the next epoch instead.

For data sets with `__getitems__` (TensorDataset, the MNIST sets) a batch is one indexing
operation on whole tensors: a slice view when reading in order, a gather by an index tensor
when shuffled. Other data sets are read one sample at a time and collated.

Start method: `multiprocessing_context` (a name or a context) if given, else multiprocessing's
default, except that the default 'fork' is used only while it is safe, that is, while
backprop's CPU thread pool has not started: once it has, a forked child could block forever
in a parallel kernel (the pool's threads do not survive a fork), so workers are started with
'forkserver' instead, which needs a picklable data set. Pass `multiprocessing_context="fork"`
to fork regardless.
"""

from typing import Any, Iterator

import itertools
import multiprocessing
import os
import pickle
import queue
import threading
import time

from backprop.data import worker as _worker
from backprop.data._random import draw_seed, resolve
from backprop.data.collate import default_collate, default_convert  # noqa: F401  (PyTorch exports them here too)
from backprop.data.dataset import IterableDataset
from backprop.data.fetch import IterableFetcher, MapFetcher
from backprop.data.sampler import BatchSampler, RandomSampler, SequentialSampler

_FROZEN = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset", "persistent_workers")


class DataLoader:
    """Iterates over `dataset` in batches, with PyTorch's arguments.

    batch_size: samples per batch; None turns auto-batching off (each sample is converted by
        `default_convert`, or `collate_fn`, and yielded alone).
    shuffle: a new random order every epoch (a `RandomSampler` drawing from `generator`).
    sampler / batch_sampler: the order of indices, or of whole batches of indices.
    num_workers: worker processes that load batches in parallel (0: the main process).
    collate_fn: how a list of samples becomes a batch (`default_collate`).
    pin_memory, pin_memory_device: accepted for compatibility; backprop's CPU tensors are
        what GPU uploads read from, so there is nothing to pin.
    drop_last: skip the last batch when it would be smaller than `batch_size`.
    timeout: seconds to wait for a worker's batch before a RuntimeError (0: no limit).
    worker_init_fn: called as `worker_init_fn(worker_id)` in each worker after seeding it.
    multiprocessing_context: 'fork', 'spawn', 'forkserver' or a context object.
    generator: the source of the shuffle order and of the workers' base seed: None (backprop's
        global generator, so `bp.manual_seed` makes it reproducible), an int seed or a
        `numpy.random.Generator` (see `backprop.data._random`).
    prefetch_factor: batches in flight per worker (2 when `num_workers > 0`).
    persistent_workers: keep the workers alive between epochs.
    in_order: yield batches in sampler order (False: as soon as any worker has one).
    seed: backprop's shorthand for an int `generator`.

    Each worker `i` is seeded with `base_seed + i` (Python's `random`, NumPy's global
    generator and backprop's), `base_seed` being drawn from `generator` every epoch.
    """

    def __init__(
        self,
        dataset,
        batch_size=1,
        shuffle=None,
        sampler=None,
        batch_sampler=None,
        num_workers=0,
        collate_fn=None,
        pin_memory=False,
        drop_last=False,
        timeout=0,
        worker_init_fn=None,
        multiprocessing_context=None,
        generator=None,
        *,
        prefetch_factor=None,
        persistent_workers=False,
        pin_memory_device="",
        in_order=True,
        seed=None,
    ) -> None:
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers option should be a non-negative integer (got {num_workers!r}); use num_workers=0 to disable multiprocessing")
        if not timeout >= 0:
            raise ValueError(f"DataLoader: timeout option should be non-negative, got {timeout!r}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(
                "DataLoader: prefetch_factor option could only be specified in multiprocessing; "
                "let num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to None"
            )
        if prefetch_factor is not None and (isinstance(prefetch_factor, bool) or not isinstance(prefetch_factor, int) or prefetch_factor < 1):
            raise ValueError(f"DataLoader: prefetch_factor should be a positive integer, got {prefetch_factor!r}")
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")
        if multiprocessing_context is not None and num_workers == 0:
            raise ValueError(
                "DataLoader: multiprocessing_context can only be used with multi-process loading "
                f"(num_workers > 0), but got num_workers={num_workers}"
            )
        if generator is not None and seed is not None:
            raise ValueError("DataLoader: pass either generator or seed, not both")
        generator = seed if seed is not None else generator
        iterable = isinstance(dataset, IterableDataset)
        if iterable:
            for name, value in (("shuffle", shuffle), ("sampler", sampler), ("batch_sampler", batch_sampler)):
                if value not in (None, False):
                    raise ValueError(f"DataLoader with IterableDataset: expected unspecified {name} option, but got {name}={value!r}")
        elif sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None:
            if drop_last:
                raise ValueError("DataLoader: batch_size=None option disables auto-batching and is mutually exclusive with drop_last")
        elif isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size should be a positive integer value, but got batch_size={batch_size!r}")
        self._rng = resolve(generator, "DataLoader")
        if not iterable:
            if sampler is None:
                sampler = RandomSampler(dataset, generator=self._rng) if shuffle else SequentialSampler(dataset)
            if batch_size is not None and batch_sampler is None:
                batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.collate_fn = collate_fn
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.generator = generator
        self.prefetch_factor = 2 if num_workers > 0 and prefetch_factor is None else prefetch_factor
        self.persistent_workers = persistent_workers
        self.in_order = in_order
        self._iterable = iterable
        self._iterator = None
        if multiprocessing_context is not None:
            self._context()  # a bad name or object is an error now, not at the first epoch
        self._initialized = True

    def __setattr__(self, name, value):
        if getattr(self, "_initialized", False) and name in _FROZEN:
            raise ValueError(f"DataLoader: {name} attribute should not be set after DataLoader is initialized")
        super().__setattr__(name, value)

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None if not self._iterable else self.batch_size is not None

    def _fetcher(self):
        if self._iterable:
            return IterableFetcher(self.dataset, self._auto_collation, self.collate_fn, self.batch_size, self.drop_last)
        return MapFetcher(self.dataset, self._auto_collation, self.collate_fn)

    def _index_stream(self):
        return _index_stream(self._iterable, self.sampler, self.batch_sampler)

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)
            if self.batch_size is not None:
                n = n // self.batch_size if self.drop_last else -(-n // self.batch_size)
            return n
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)

    def __iter__(self) -> Iterator[Any]:
        if self.num_workers == 0:
            return _single_process(self)
        if self.persistent_workers:
            if self._iterator is None or self._iterator._closed:
                self._iterator = _MultiProcessIter(self)
            else:
                self._iterator._reset()
            return self._iterator
        return _MultiProcessIter(self)

    def _context(self):
        mc = self.multiprocessing_context
        if mc is None:
            ctx = multiprocessing.get_context()
            if ctx.get_start_method() != "fork" or _fork_is_safe() or "forkserver" not in multiprocessing.get_all_start_methods():
                return ctx
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["backprop", "backprop.data"])
            return ctx
        if isinstance(mc, str):
            methods = multiprocessing.get_all_start_methods()
            if mc not in methods:
                raise ValueError(
                    f"DataLoader: multiprocessing_context option should specify a valid start method in {methods!r}, "
                    f"but got multiprocessing_context={mc!r}"
                )
            return multiprocessing.get_context(mc)
        if not isinstance(mc, multiprocessing.context.BaseContext):
            raise TypeError(
                "DataLoader: multiprocessing_context option should be a valid context object or a string "
                f"specifying the start method, but got multiprocessing_context={mc!r}"
            )
        return mc

    def __del__(self):
        it = self.__dict__.get("_iterator")
        if it is not None:
            it._shutdown()


def _fork_is_safe():
    """True while this process runs no threads that Python did not start (backprop's CPU
    pool starts with the first parallel kernel; threads do not survive a fork)."""
    try:
        return len(os.listdir("/proc/self/task")) <= threading.active_count()
    except OSError:
        return False


def _index_stream(iterable, sampler, batch_sampler):
    """What each batch is fetched from (see `backprop.data.fetch`)."""
    if iterable:
        return itertools.repeat(None)
    if batch_sampler is None:
        return iter(sampler)
    if isinstance(batch_sampler, BatchSampler):
        return batch_sampler._batches()
    return iter(batch_sampler)


def _single_process(loader):
    # Drawn and unused, as PyTorch does, so that the shuffle order from a given generator is
    # the same with and without workers.
    draw_seed(loader._rng)
    fetcher = loader._fetcher()
    for index in loader._index_stream():
        try:
            batch = fetcher.fetch(index)
        except StopIteration:
            if loader._iterable:
                return
            raise
        yield batch


class _MultiProcessIter:
    """One set of worker processes and the bookkeeping of the batches in flight."""

    def __init__(self, loader) -> None:
        # No reference to the loader: a persistent loader holds its iterator, and a cycle
        # would leave shutting the workers down to the garbage collector, which may close the
        # queues first.
        self._stream = (loader._iterable, loader.sampler, loader.batch_sampler)
        self._closed = True  # until the workers exist, there is nothing to shut down
        ctx = loader._context()
        self._num_workers = loader.num_workers
        self._in_order = loader.in_order
        self._timeout = loader.timeout
        self._prefetch = loader.prefetch_factor * loader.num_workers
        self._persistent = loader.persistent_workers
        spec = {
            "dataset": loader.dataset,
            "iterable": loader._iterable,
            "auto_collation": loader._auto_collation,
            "collate_fn": loader.collate_fn,
            "batch_size": loader.batch_size,
            "drop_last": loader.drop_last,
        }
        base_seed = draw_seed(loader._rng)
        self._result_queue = ctx.Queue()
        self._index_queues, self._workers = [], []
        self._closed = False
        try:
            for i in range(self._num_workers):
                index_queue = ctx.Queue()
                index_queue.cancel_join_thread()
                w = ctx.Process(
                    target=_worker.worker_loop,
                    args=(spec, index_queue, self._result_queue, i, self._num_workers, base_seed + i, loader.worker_init_fn),
                    daemon=True,
                )
                self._index_queues.append(index_queue)
                self._workers.append(w)
                w.start()
        except (pickle.PicklingError, AttributeError, TypeError) as e:
            self._shutdown()
            if ctx.get_start_method() == "fork":
                raise
            raise RuntimeError(
                f"DataLoader: cannot start worker processes with the {ctx.get_start_method()!r} start method: "
                f"the data set, collate_fn and worker_init_fn must be picklable ({type(e).__name__}: {e}). "
                + (
                    "backprop chose this start method because its CPU thread pool is running, which makes forking unsafe; "
                    "make them picklable (module-level functions and classes), or create the loader's iterator before "
                    "running large tensor operations."
                    if loader.multiprocessing_context is None
                    else ""
                )
            ) from e
        except BaseException:
            self._shutdown()
            raise
        self._epoch = 0
        self._start_epoch()

    def _start_epoch(self):
        self._indices = _index_stream(*self._stream)
        self._sent = 0  # task ids handed out so far
        self._next = 0  # the next task id to yield (in order)
        self._pending = {}  # task id -> worker id, for batches not yet received
        self._buffer = {}  # task id -> received message, waiting for its turn
        self._active = [True] * self._num_workers
        self._cycle = itertools.cycle(range(self._num_workers))
        for _ in range(self._prefetch):
            if not self._put_index():
                break

    def _reset(self):
        """A new epoch on the same (persistent) workers: stale batches of an unfinished
        epoch are discarded until every worker has acknowledged the restart."""
        self._epoch += 1
        resume = _worker.ResumeIteration(self._epoch)
        for q in self._index_queues:
            q.put(resume)
        acks = 0
        while acks < self._num_workers:
            task, _, _ = self._get()
            if isinstance(task, _worker.ResumeIteration) and task.epoch == self._epoch:
                acks += 1
        self._start_epoch()

    def _put_index(self):
        """Hands the next batch to the next active worker; False when there is none."""
        for _ in range(self._num_workers):
            worker_id = next(self._cycle)
            if self._active[worker_id]:
                break
        else:
            return False
        try:
            index = next(self._indices)
        except StopIteration:
            return False
        self._index_queues[worker_id].put((self._sent, index))
        self._pending[self._sent] = worker_id
        self._sent += 1
        return True

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self):
        if self._closed:
            raise StopIteration
        while True:
            if self._in_order:
                while self._next < self._sent and self._next not in self._buffer and self._next not in self._pending:
                    self._next += 1  # a task answered by the end of an iterable worker's stream
                if self._next in self._buffer:
                    message = self._buffer.pop(self._next)
                    self._next += 1
                    self._put_index()
                    return self._unpack(message)
            if not self._pending:
                if not self._buffer:
                    if not self._persistent:
                        self._shutdown()
                    raise StopIteration
            task, kind, payload = self._get()
            if isinstance(task, _worker.ResumeIteration):
                continue
            self._pending.pop(task, None)
            if kind == _worker.END:
                self._active[payload] = False
                continue
            if self._in_order and task != self._next:
                self._buffer[task] = (kind, payload)
                continue
            if self._in_order:
                self._next += 1
            self._put_index()
            return self._unpack((kind, payload))

    def _unpack(self, message):
        kind, payload = message
        if kind == _worker.ERROR:
            payload.reraise()
        return pickle.loads(payload)

    def _get(self):
        """The next message from any worker; RuntimeError on a timeout or a dead worker."""
        deadline = time.monotonic() + self._timeout if self._timeout > 0 else None
        while True:
            wait = _worker.STATUS_CHECK_INTERVAL
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0:
                    self._shutdown()
                    raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")
            try:
                return self._result_queue.get(timeout=wait)
            except queue.Empty:
                pass
            dead = [w for w in self._workers if not w.is_alive()]
            if dead:
                pids = ", ".join(f"{w.pid} (exit code {w.exitcode})" for w in dead)
                self._shutdown()
                raise RuntimeError(f"DataLoader worker (pid(s) {pids}) exited unexpectedly")

    def _shutdown(self):
        """Stops the workers (asking first, then terminating) and closes the queues."""
        if self._closed:
            return
        self._closed = True
        try:
            for q in self._index_queues:
                try:
                    q.put(None)
                except (OSError, ValueError):
                    pass
            for w in self._workers:
                if w.pid is None:
                    continue
                w.join(timeout=5.0)
                if w.is_alive():
                    w.terminate()
                    w.join(timeout=5.0)
            for q in self._index_queues + [self._result_queue]:
                q.cancel_join_thread()
                q.close()
        except Exception:
            pass  # interpreter shutdown: multiprocessing's own exit handler ends daemonic workers

    def __del__(self):
        self._shutdown()
