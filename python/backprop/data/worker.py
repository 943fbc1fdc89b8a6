"""The DataLoader's worker processes: what runs inside one, and `get_worker_info`.

A worker takes `(task, index)` messages from its own index queue, fetches that batch, and
puts `(task, kind, payload)` on the shared result queue: the batch pickled (so a batch that
cannot be pickled is reported as that worker's error, not lost in a feeder thread), an
`ExceptionWrapper`, or the end of an iterable data set's share. `None` on the index queue
asks it to exit; a `ResumeIteration` starts a new epoch for persistent workers. A worker also
exits when the main process is gone.
"""

import multiprocessing
import pickle
import queue
import random
import sys
import traceback

# How often (seconds) a blocked worker or main process checks that the other side is alive.
STATUS_CHECK_INTERVAL = 1.0

BATCH, ERROR, END = "batch", "error", "end"

_worker_info = None


class WorkerInfo:
    """What `get_worker_info()` returns inside a worker: `id` (0..num_workers-1),
    `num_workers`, `seed` (this worker's seed for this epoch) and `dataset` (the worker's
    copy of the data set)."""

    __initialized = False

    def __init__(self, **kwargs) -> None:
        for k, v in kwargs.items():
            setattr(self, k, v)
        self.__keys = tuple(kwargs)
        self.__initialized = True

    def __setattr__(self, key, val):
        if self.__initialized:
            raise RuntimeError(f"Cannot assign attributes to {type(self).__name__} objects")
        super().__setattr__(key, val)

    def __repr__(self):
        items = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__keys)
        return f"{type(self).__name__}({items})"


def get_worker_info():
    """Inside a DataLoader worker process: its `WorkerInfo`; in the main process: None.

    An `IterableDataset` uses it to split its stream between workers, for example
    `itertools.islice(stream, info.id, None, info.num_workers)`."""
    return _worker_info


class ExceptionWrapper:
    """An exception raised in a worker, carried to the main process with its traceback."""

    def __init__(self, exc_info, where) -> None:
        self.exc_type = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self):
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = _KeyErrorMessage(msg)  # KeyError repr()s its message; keep the newlines readable
        try:
            exception = self.exc_type(msg)
        except Exception:
            raise RuntimeError(msg) from None
        try:
            raise exception
        finally:
            del exception  # no frame <-> traceback cycle keeping the loader's workers alive


class _KeyErrorMessage(str):
    def __repr__(self):
        return str(self)


class ResumeIteration:
    """Starts a new epoch in a persistent worker (answered by echoing it back)."""

    def __init__(self, epoch) -> None:
        self.epoch = epoch


def _seed_everything(seed):
    import numpy as np

    from backprop import manual_seed

    random.seed(seed)
    manual_seed(seed)
    np.random.seed(seed % 2**32)


def _make_fetcher(spec):
    from backprop.data.fetch import IterableFetcher, MapFetcher

    if spec["iterable"]:
        return IterableFetcher(spec["dataset"], spec["auto_collation"], spec["collate_fn"], spec["batch_size"], spec["drop_last"])
    return MapFetcher(spec["dataset"], spec["auto_collation"], spec["collate_fn"])


def _pack(task, data):
    try:
        return (task, BATCH, pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception:
        return (task, ERROR, ExceptionWrapper(sys.exc_info(), "while sending a batch from a DataLoader worker process"))


def _wrap_error(task, worker_id):
    wrapper = ExceptionWrapper(sys.exc_info(), f"in DataLoader worker process {worker_id}")
    try:
        pickle.dumps(wrapper.exc_type)
    except Exception:
        wrapper.exc_type = RuntimeError
    return (task, ERROR, wrapper)


def worker_loop(spec, index_queue, result_queue, worker_id, num_workers, seed, worker_init_fn):
    """The body of worker process `worker_id` (see the module docstring)."""
    global _worker_info

    try:
        _seed_everything(seed)
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=spec["dataset"])
        init_error = None
        fetcher = None
        try:
            if worker_init_fn is not None:
                worker_init_fn(worker_id)
            fetcher = _make_fetcher(spec)
        except Exception:
            init_error = sys.exc_info()
        ended = False
        parent = multiprocessing.parent_process()
        while True:
            try:
                message = index_queue.get(timeout=STATUS_CHECK_INTERVAL)
            except queue.Empty:
                if parent is not None and not parent.is_alive():
                    break
                continue
            if message is None:
                break
            if isinstance(message, ResumeIteration):
                ended = False
                if spec["iterable"] and init_error is None:
                    try:
                        fetcher = _make_fetcher(spec)
                    except Exception:
                        init_error = sys.exc_info()
                result_queue.put((message, None, None))
                continue
            task, index = message
            if init_error is not None:
                exc_info, init_error = init_error, None
                try:
                    raise exc_info[1].with_traceback(exc_info[2])
                except Exception:
                    result_queue.put(_wrap_error(task, worker_id))
                continue
            if ended:
                result_queue.put((task, END, worker_id))
                continue
            try:
                data = fetcher.fetch(index)
            except StopIteration:
                if not spec["iterable"]:
                    result_queue.put(_wrap_error(task, worker_id))
                    continue
                ended = True
                result_queue.put((task, END, worker_id))
                continue
            except Exception:
                result_queue.put(_wrap_error(task, worker_id))
                continue
            result_queue.put(_pack(task, data))
    except KeyboardInterrupt:
        pass
    # Exit without waiting for the main process to read what is still buffered.
    result_queue.cancel_join_thread()
    result_queue.close()
