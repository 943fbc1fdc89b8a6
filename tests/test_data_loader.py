"""DataLoader with worker processes (fork, spawn, forkserver; ordering, seeds, errors, early
break, timeouts, persistent workers, iterable data sets sharded by get_worker_info), the
loader's argument rules, samplers, the data set combinators and default_collate/convert,
with PyTorch's behaviour as the contract."""

import collections
import multiprocessing
import os
import pickle
import time

import numpy as np
import pytest

import backprop as bp
from backprop.data import (
    BatchSampler,
    ChainDataset,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    StackDataset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    default_convert,
    get_worker_info,
    random_split,
)
from conftest import assert_close

WAIT = 60  # seconds: a hung worker fails the test instead of hanging the suite


# ---- data sets used in worker processes (module level, so spawn can pickle them) -------


class Numbers(Dataset):
    """Sample i is (float tensor [i], i, the pid that loaded it, a random draw)."""

    def __init__(self, n=20, fail_at=None, exit_at=None, sleep=0.0, error=ValueError):
        self.n, self.fail_at, self.exit_at, self.sleep, self.error = n, fail_at, exit_at, sleep, error

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.fail_at:
            raise self.error(f"sample {i} is broken")
        if i == self.exit_at:
            os._exit(3)
        if self.sleep:
            time.sleep(self.sleep)
        return bp.tensor([float(i)]), i, os.getpid(), float(bp.rand(()).item())


class Stream(IterableDataset):
    """0..n-1, each worker yielding its share."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))

    def __len__(self):
        return self.n


class Rendezvous(Dataset):
    """Each worker's first sample waits for the other worker: passes only if they run at once."""

    def __init__(self, barrier):
        self.barrier = barrier

    def __len__(self):
        return 4

    def __getitem__(self, i):
        if i < 2:
            self.barrier.wait(timeout=30)
        return i


class BigOps(Dataset):
    """Samples made by kernels large enough to run on backprop's CPU thread pool."""

    def __len__(self):
        return 2

    def __getitem__(self, i):
        a = bp.ones(600, 600)
        return float((a @ a).sum().item()) + float((a * 2.0).exp().sum().item() > 0)


def record_init(worker_id):
    info = get_worker_info()
    assert info.id == worker_id
    os.environ["BP_TEST_WORKER"] = f"{worker_id}/{info.num_workers}/{info.seed}"


def broken_init(worker_id):
    raise OSError(f"worker {worker_id} cannot open its shard")


class InitRecord(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return os.environ.get("BP_TEST_WORKER", "")


def values(loader):
    return [b[1].tolist() for b in loader]


# ---- workers -----------------------------------------------------------------------------


@pytest.mark.parametrize("context", ["fork", "spawn", "forkserver"])
def test_workers_give_the_batches_of_the_main_process(context):
    ds = Numbers(23)
    kwargs = dict(batch_size=4, shuffle=True, generator=5)
    want = values(DataLoader(ds, **kwargs))
    loader = DataLoader(ds, num_workers=2, multiprocessing_context=context, timeout=WAIT, **kwargs)
    batches = list(loader)
    assert [b[1].tolist() for b in batches] == want  # the same order, from a generator seed
    assert len({p for b in batches for p in b[2].tolist()}) == 2  # two processes did the work
    assert batches[0][0].dtype == bp.float32 and batches[0][0].shape == (4, 1)
    assert not multiprocessing.active_children()


def test_workers_load_in_parallel():
    barrier = multiprocessing.get_context("fork").Barrier(2)
    loader = DataLoader(Rendezvous(barrier), batch_size=1, num_workers=2, multiprocessing_context="fork", timeout=WAIT)
    assert sorted(int(b) for b in loader) == [0, 1, 2, 3]  # with one worker at a time the barrier breaks


def test_worker_seeds_follow_the_generator_and_differ_between_workers():
    def draws(seed):
        loader = DataLoader(Numbers(8), batch_size=2, num_workers=2, generator=seed, timeout=WAIT)
        return [b[3].tolist() for b in loader]

    a, b = draws(1), draws(1)
    assert a == b and draws(2) != a
    assert a[0] != a[1]  # worker 0 and worker 1 draw different numbers


def test_worker_init_fn_and_get_worker_info():
    assert get_worker_info() is None
    loader = DataLoader(InitRecord(), batch_size=None, num_workers=2, worker_init_fn=record_init, generator=3, timeout=WAIT)
    seen = list(loader)
    ids = sorted({s.split("/")[0] for s in seen})
    assert ids == ["0", "1"] and all(s.split("/")[1] == "2" for s in seen)
    seeds = {int(s.split("/")[0]): int(s.split("/")[2]) for s in seen}
    assert seeds[1] == seeds[0] + 1  # base_seed + worker id, as PyTorch


def test_iterable_dataset_is_sharded_across_workers():
    for in_order in (True, False):
        loader = DataLoader(Stream(21), batch_size=4, num_workers=3, in_order=in_order, timeout=WAIT)
        items = [x for b in loader for x in b.tolist()]
        assert sorted(items) == list(range(21))
    # Without workers (and with batch_size=None) the stream is read as it is.
    assert [int(x) for x in DataLoader(Stream(5), batch_size=None)] == [0, 1, 2, 3, 4]
    assert len(DataLoader(Stream(10), batch_size=4)) == 3 and len(DataLoader(Stream(10), batch_size=4, drop_last=True)) == 2


def test_a_workers_exception_is_reraised_with_its_traceback():
    loader = DataLoader(Numbers(20, fail_at=13), batch_size=4, num_workers=2, timeout=WAIT)
    got = []
    with pytest.raises(ValueError) as info:
        for b in loader:
            got.append(b[1].tolist())
    msg = str(info.value)
    assert "Caught ValueError in DataLoader worker process 1" in msg
    assert "Original Traceback" in msg and "__getitem__" in msg and "sample 13 is broken" in msg
    assert got == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    del info
    assert not multiprocessing.active_children()  # the dropped iterator shut its workers down
    with pytest.raises(KeyError, match="sample 2 is broken"):
        list(DataLoader(Numbers(4, fail_at=2, error=KeyError), num_workers=1, timeout=WAIT))


def test_a_failing_worker_init_fn_is_reported_from_that_worker():
    with pytest.raises(OSError, match="worker 0 cannot open its shard") as info:
        list(DataLoader(Numbers(4), num_workers=1, worker_init_fn=broken_init, timeout=WAIT))
    assert "in DataLoader worker process 0" in str(info.value) and "broken_init" in str(info.value)
    del info  # the traceback holds the iterator, and so its workers


def test_early_break_shuts_the_workers_down():
    loader = DataLoader(Numbers(40), batch_size=2, num_workers=2, timeout=WAIT)
    pids = set()
    for i, b in enumerate(loader):
        pids.update(b[2].tolist())
        if i == 1:
            break
    assert pids and not pids & {p.pid for p in multiprocessing.active_children()}


def test_persistent_workers_survive_epochs_and_a_break():
    loader = DataLoader(Numbers(12), batch_size=3, num_workers=2, persistent_workers=True, timeout=WAIT)
    first = list(loader)
    pids = {p for b in first for p in b[2].tolist()}
    for i, _ in enumerate(loader):
        if i == 0:
            break  # the stale batches of this epoch must not leak into the next
    second = list(loader)
    assert [b[1].tolist() for b in second] == [b[1].tolist() for b in first] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]]
    assert {p for b in second for p in b[2].tolist()} == pids
    assert len(multiprocessing.active_children()) == 2
    del loader, first, second
    import gc

    gc.collect()
    assert not multiprocessing.active_children()


def test_timeout_and_a_dead_worker_are_runtime_errors():
    with pytest.raises(RuntimeError, match="timed out after 0.3 seconds"):
        list(DataLoader(Numbers(2, sleep=1.5), num_workers=1, timeout=0.3))
    with pytest.raises(RuntimeError, match="exited unexpectedly"):
        list(DataLoader(Numbers(4, exit_at=1), num_workers=1))
    assert not multiprocessing.active_children()


def test_workers_start_safely_after_the_thread_pool_runs():
    from backprop.data import dataloader

    a = bp.ones(600, 600)
    (a @ a).sum().item()  # the parent's CPU thread pool is running now
    assert not dataloader._fork_is_safe()
    loader = DataLoader(BigOps(), batch_size=None, num_workers=1, timeout=WAIT)
    assert loader._context().get_start_method() != "fork"
    assert [float(x) for x in loader] == [600.0**3 + 1.0] * 2  # parallel kernels in a worker


def test_an_unpicklable_loader_under_spawn_is_a_clear_error():
    loader = DataLoader(Numbers(4), num_workers=1, collate_fn=lambda b: b, multiprocessing_context="spawn")
    with pytest.raises(RuntimeError, match="must be picklable"):
        next(iter(loader))
    assert not multiprocessing.active_children()


def test_in_order_false_and_custom_batch_sampler_with_workers():
    loader = DataLoader(Numbers(10), batch_sampler=[[9, 0], [3], [4, 5, 6]], num_workers=2, in_order=False, timeout=WAIT)
    assert sorted(map(sorted, values(loader))) == [[0, 9], [3], [4, 5, 6]]


def test_tensors_pickle_with_dtype_shape_and_requires_grad():
    cases = [bp.randn(3, 4, dtype=bp.float64), bp.arange(5), bp.tensor([True, False]), bp.tensor(2.5), bp.randn(4, 6)[:, ::2], bp.zeros(0, 3)]
    for t in cases:
        u = pickle.loads(pickle.dumps(t))
        assert u.dtype == t.dtype and tuple(u.shape) == tuple(t.shape)
        np.testing.assert_array_equal(u.numpy(), t.numpy())
    w = bp.randn(2, requires_grad=True)
    assert pickle.loads(pickle.dumps(w)).requires_grad


# ---- the loader's arguments ----------------------------------------------------------------


def test_argument_rules_match_pytorch():
    ds = TensorDataset(bp.arange(10))
    cases = [
        (dict(num_workers=-1), "num_workers"),
        (dict(timeout=-1), "timeout option should be non-negative"),
        (dict(prefetch_factor=2), "prefetch_factor option could only be specified in multiprocessing"),
        (dict(persistent_workers=True), "persistent_workers option needs num_workers > 0"),
        (dict(multiprocessing_context="fork"), "num_workers > 0"),
        (dict(sampler=SequentialSampler(ds), shuffle=True), "mutually exclusive with shuffle"),
        (dict(batch_sampler=[[0]], batch_size=2), "batch_sampler option is mutually exclusive"),
        (dict(batch_sampler=[[0]], drop_last=True), "batch_sampler option is mutually exclusive"),
        (dict(batch_size=None, drop_last=True), "batch_size=None option disables auto-batching"),
        (dict(num_workers=1, multiprocessing_context="teleport"), "valid start method"),
    ]
    for kwargs, match in cases:
        with pytest.raises(ValueError, match=match):
            DataLoader(ds, **kwargs)
    for name in ("shuffle", "sampler", "batch_sampler"):
        with pytest.raises(ValueError, match=f"expected unspecified {name} option"):
            DataLoader(Stream(3), **{name: True if name == "shuffle" else [[0]]})
    loader = DataLoader(ds, batch_size=4)
    with pytest.raises(ValueError, match="should not be set after DataLoader is initialized"):
        loader.batch_size = 2
    assert DataLoader(ds, num_workers=2).prefetch_factor == 2 and loader.prefetch_factor is None
    assert DataLoader(ds, pin_memory=True).pin_memory  # accepted; nothing to pin on the CPU


def test_batch_size_none_sampler_and_batch_sampler():
    ds = TensorDataset(bp.arange(6) * 10)
    items = list(DataLoader(ds, batch_size=None))
    assert len(items) == 6 and items[2][0].shape == () and items[2][0].item() == 20
    arrays = list(DataLoader([np.array([1.5, 2.5])], batch_size=None))  # default_convert: arrays become tensors
    assert isinstance(arrays[0], bp.Tensor) and arrays[0].dtype == bp.float64
    picked = DataLoader(ds, batch_size=2, sampler=[5, 0, 3])
    assert [b[0].tolist() for b in picked] == [[50, 0], [30]] and len(picked) == 2
    custom = DataLoader(ds, batch_sampler=[[1, 2, 3], [0]])
    assert [b[0].tolist() for b in custom] == [[10, 20, 30], [0]] and len(custom) == 2
    # A user collate_fn sees the samples.
    sizes = list(DataLoader(ds, batch_size=4, collate_fn=len))
    assert sizes == [4, 2]


def test_generator_argument_accepts_seeds_and_numpy_generators():
    ds = TensorDataset(bp.arange(30))

    def order(gen):
        return [b[0].tolist() for b in DataLoader(ds, batch_size=30, shuffle=True, generator=gen)]

    assert order(4) == order(4) != order(5)
    assert order(np.random.default_rng(2)) == order(np.random.default_rng(2))
    loader = DataLoader(ds, batch_size=30, shuffle=True, generator=4)
    assert list(loader)[0][0].tolist() != list(loader)[0][0].tolist()  # the stream advances per epoch
    with pytest.raises(TypeError, match="generator must be"):
        DataLoader(ds, shuffle=True, generator="seed")


# ---- samplers ------------------------------------------------------------------------------


def test_sequential_and_random_samplers():
    data = list(range(10))
    assert list(SequentialSampler(data)) == data and len(SequentialSampler(data)) == 10
    rs = RandomSampler(data, generator=0)
    a, b = list(rs), list(rs)
    assert sorted(a) == sorted(b) == data and a != b
    # Without replacement, more samples than the data set repeats whole permutations.
    long = list(RandomSampler(data, num_samples=25, generator=1))
    assert len(long) == 25 and sorted(long[:10]) == sorted(long[10:20]) == data and len(set(long[20:])) == 5
    drawn = list(RandomSampler(data, replacement=True, num_samples=200, generator=2))
    assert len(drawn) == 200 and set(drawn) == set(data)
    with pytest.raises(TypeError, match="replacement should be a boolean"):
        RandomSampler(data, replacement=1)
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        RandomSampler(data, num_samples=0)
    bp.manual_seed(7)
    c = list(RandomSampler(data))
    bp.manual_seed(7)
    assert list(RandomSampler(data)) == c


def test_subset_and_weighted_samplers():
    s = list(SubsetRandomSampler([3, 8, 1, 9], generator=0))
    assert sorted(s) == [1, 3, 8, 9] and len(SubsetRandomSampler([3, 8])) == 2
    w = WeightedRandomSampler([0.0, 1.0, 3.0, 0.0], num_samples=4000, generator=0)
    counts = np.bincount(list(w), minlength=4)
    assert counts[0] == counts[3] == 0 and 2.6 < counts[2] / counts[1] < 3.4
    unique = list(WeightedRandomSampler([1, 1, 1, 5], 3, replacement=False, generator=0))
    assert len(set(unique)) == 3
    with pytest.raises(RuntimeError, match="without replacement"):
        WeightedRandomSampler([1, 0, 1], 3, replacement=False)
    with pytest.raises(ValueError, match="1d sequence"):
        WeightedRandomSampler([[1.0, 2.0]], 2)
    with pytest.raises(RuntimeError, match="non-negative"):
        WeightedRandomSampler([1.0, -1.0], 2)


def test_batch_sampler():
    assert list(BatchSampler(SequentialSampler(range(10)), 3, drop_last=False)) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert list(BatchSampler(SequentialSampler(range(10)), 3, drop_last=True)) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert list(BatchSampler([4, 2, 7], 2, False)) == [[4, 2], [7]]
    assert len(BatchSampler(range(10), 3, False)) == 4 and len(BatchSampler(range(10), 3, True)) == 3
    with pytest.raises(ValueError, match="batch_size should be a positive integer value"):
        BatchSampler(range(3), 0, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean value"):
        BatchSampler(range(3), 2, 0)


# ---- data sets -----------------------------------------------------------------------------


def test_concat_chain_and_stack_datasets():
    a, b = TensorDataset(bp.arange(3)), TensorDataset(bp.arange(10, 12))
    c = a + b
    assert isinstance(c, ConcatDataset) and len(c) == 5 and c.cumulative_sizes == [3, 5]
    assert [int(c[i][0]) for i in range(5)] == [0, 1, 2, 10, 11] and int(c[-1][0]) == 11
    with pytest.raises(IndexError):
        c[5]
    with pytest.raises(ValueError, match="empty"):
        ConcatDataset([])
    with pytest.raises(TypeError, match="ChainDataset"):
        ConcatDataset([Stream(2)])
    chain = Stream(3) + Stream(2)
    assert isinstance(chain, ChainDataset) and list(chain) == [0, 1, 2, 0, 1] and len(chain) == 5
    s = StackDataset(a, TensorDataset(bp.arange(3) * 2))
    assert len(s) == 3 and int(s[2][1][0]) == 4
    d = StackDataset(x=a, y=list("abc"))
    assert d[1]["y"] == "b"
    batch = next(iter(DataLoader(d, batch_size=3)))
    assert batch["y"] == ["a", "b", "c"] and batch["x"][0].tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="size mismatch"):
        StackDataset(a, b)
    with pytest.raises(ValueError, match="not both"):
        StackDataset(a, y=a)


def test_random_split_with_fractions_and_generators():
    ds = TensorDataset(bp.arange(11))
    parts = random_split(ds, [0.5, 0.5], generator=0)
    assert [len(p) for p in parts] == [6, 5]  # PyTorch: floor, then the remainder round-robin
    assert sorted(int(p[i][0]) for p in parts for i in range(len(p))) == list(range(11))
    assert [len(p) for p in random_split(range(10), [0.3, 0.3, 0.4])] == [3, 3, 4]
    first = [int(i) for i in random_split(ds, [5, 6], generator=3)[0].indices.tolist()]
    assert first == [int(i) for i in random_split(ds, [5, 6], generator=np.random.default_rng(3))[0].indices.tolist()]
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        random_split(range(2), [1.0, 0.0])
    with pytest.raises(ValueError, match="add up"):
        random_split(ds, [5, 5])


# ---- collation -----------------------------------------------------------------------------


def test_default_collate_follows_pytorch():
    Point = collections.namedtuple("Point", "x y")
    out = default_collate([np.array([1, 2], dtype=np.int32), np.array([3, 4], dtype=np.int32)])
    assert out.shape == (2, 2) and out.tolist() == [[1, 2], [3, 4]]
    assert default_collate([np.float64(1.5), np.float64(2.5)]).dtype == bp.float64
    assert default_collate([1.0, 2.0]).dtype == bp.float64  # Python floats: float64, as PyTorch
    assert default_collate([1, 2]).dtype == bp.int64 and default_collate([True, False]).dtype == bp.bool
    assert default_collate(["a", "b"]) == ["a", "b"]
    nested = default_collate([{"p": Point(1, np.zeros(2)), "s": ("u", 0.5)}, {"p": Point(2, np.ones(2)), "s": ("v", 1.5)}])
    assert isinstance(nested["p"], Point) and nested["p"].x.tolist() == [1, 2]
    assert_close(nested["p"].y, np.array([[0.0, 0.0], [1.0, 1.0]]))
    assert nested["s"][0] == ["u", "v"] and isinstance(nested["s"], list)  # tuples collate to lists
    od = default_collate([collections.OrderedDict(a=1), collections.OrderedDict(a=2)])
    assert isinstance(od, collections.OrderedDict) and od["a"].tolist() == [1, 2]
    assert default_collate([bp.ones(2), bp.zeros(2)]).shape == (2, 2)
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="found object"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="found <U1"):
        default_collate([np.array(["a"]), np.array(["b"])])


def test_default_convert():
    Point = collections.namedtuple("Point", "x y")
    out = default_convert({"a": np.arange(3), "b": (np.float32(2.0), "s"), "p": Point(np.ones(1), 3)})
    assert isinstance(out["a"], bp.Tensor) and out["a"].tolist() == [0, 1, 2]
    assert isinstance(out["b"], list) and out["b"][0].dtype == bp.float32 and out["b"][1] == "s"
    assert isinstance(out["p"], Point) and out["p"].y == 3 and isinstance(out["p"].x, bp.Tensor)
    assert default_convert("text") == "text" and default_convert(np.array(["a"]))[0] == "a"


# ---- backprop.utils.data -------------------------------------------------------------------


def test_utils_data_is_backprop_data_under_pytorchs_name(monkeypatch):
    import importlib.machinery
    import sys
    import types

    import backprop.data.sampler
    from backprop.utils.data import DataLoader as D, TensorDataset as T, get_worker_info as g

    assert D is DataLoader and T is TensorDataset and g is get_worker_info
    import backprop.utils.data.sampler as aliased

    assert aliased is backprop.data.sampler
    from backprop.utils.data.dataloader import default_collate as dc

    assert dc is default_collate and bp.utils.data.random_split is random_split
    # A submodule added to backprop.data later (distributed.py) resolves the same way.
    probe = types.ModuleType("backprop.data._probe")
    probe.__spec__ = importlib.machinery.ModuleSpec("backprop.data._probe", None)
    monkeypatch.setitem(sys.modules, "backprop.data._probe", probe)
    import backprop.utils.data._probe as p

    assert p is probe
    monkeypatch.delitem(sys.modules, "backprop.utils.data._probe")
    with pytest.raises(ModuleNotFoundError):
        import backprop.utils.data.no_such_module  # noqa: F401
