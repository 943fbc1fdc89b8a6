"""Random sampling: `Generator`, `generator=` on every sampler, the distributions (moments and
Kolmogorov-Smirnov tests with fixed seeds, so they are deterministic), PyTorch's errors, and
reproducibility on the CPU and the GPU. The CPU (xoshiro256++) and GPU (Philox) streams of
uniform and normal samples differ from each other; the host-drawn samplers (exponential,
Bernoulli, Poisson, multinomial, ...) give the same numbers on both devices."""

import numpy as np
import pytest
from scipy import stats

import backprop as bp
from conftest import to_np


def test_generator_seeding_state_and_device():
    g = bp.Generator()
    assert g.initial_seed() == 67280421310721  # PyTorch's default seed for a new Generator
    assert g.device == bp.device("cpu") and bp.Generator(device="gpu").device.type == "gpu"
    assert g.manual_seed(5) is g and g.initial_seed() == 5
    a = bp.rand(7, generator=g)
    g.manual_seed(5)
    assert np.array_equal(to_np(bp.rand(7, generator=g)), to_np(a))
    state = g.get_state()
    assert state.dtype == bp.int64 and state.shape == (5,)
    b = bp.randn(4, generator=g)
    assert g.set_state(state) is g
    assert np.array_equal(to_np(bp.randn(4, generator=g)), to_np(b))
    s = g.seed()
    assert isinstance(s, int) and g.initial_seed() == s and 0 <= s < 2**63
    assert g.manual_seed(-1).initial_seed() == 2**64 - 1  # negative seeds wrap, as in PyTorch
    with pytest.raises(ValueError, match="seed"):
        g.manual_seed(2**64)
    with pytest.raises(TypeError, match="seed must be an int"):
        g.manual_seed(1.5)
    with pytest.raises(ValueError, match="shape \\(5,\\)"):
        g.set_state(bp.zeros(5))
    with pytest.raises(ValueError, match="all-zero"):
        g.set_state(bp.zeros(5, dtype=bp.int64))
    assert "Generator" in repr(g)


def test_a_private_generator_leaves_the_global_stream_alone():
    bp.manual_seed(3)
    expected = to_np(bp.rand(5))
    bp.manual_seed(3)
    g = bp.Generator().manual_seed(3)
    private = to_np(bp.rand(5, generator=g))
    assert np.array_equal(to_np(bp.rand(5)), expected)
    assert np.array_equal(private, expected)  # same seed, same stream


def test_global_generator_functions():
    assert isinstance(bp.manual_seed(11), bp.Generator)
    assert bp.initial_seed() == 11 and bp.default_generator.initial_seed() == 11
    state = bp.get_rng_state()
    a = to_np(bp.randn(6))
    bp.set_rng_state(state)
    assert np.array_equal(to_np(bp.randn(6)), a)
    s = bp.seed()
    assert bp.initial_seed() == s
    assert bp.random.initial_seed() == s and bp.random.get_rng_state is bp.get_rng_state
    bp.manual_seed(2)
    with bp.random.fork_rng():
        bp.rand(100)
    after_fork = to_np(bp.rand(3))
    bp.manual_seed(2)
    assert np.array_equal(to_np(bp.rand(3)), after_fork)
    with pytest.raises(TypeError, match="Generator"):
        bp.rand(2, generator=3)


def test_every_sampler_takes_generator(device):
    x = bp.zeros(3, 4, device=device)
    probs = bp.tensor([[0.2, 0.3, 0.5], [1.0, 1.0, 0.0]], device=device)

    def draws(g):
        return [
            bp.rand(3, generator=g, device=device),
            bp.randn(3, generator=g, device=device),
            bp.randint(0, 9, (5,), generator=g, device=device),
            bp.randperm(6, generator=g, device=device),
            bp.rand_like(x, generator=g),
            bp.randn_like(x, generator=g),
            bp.randint_like(x, 3, 8, generator=g),
            bp.normal(0.0, 2.0, size=(3,), generator=g, device=device),
            bp.normal(bp.zeros(3, device=device), 1.0, generator=g),
            bp.bernoulli(bp.full((5,), 0.5, device=device), generator=g),
            bp.poisson(bp.full((5,), 3.0, device=device), generator=g),
            bp.multinomial(probs, 2, generator=g),
            x.clone().uniform_(-1, 1, generator=g),
            x.clone().normal_(1, 2, generator=g),
            x.clone().bernoulli_(0.3, generator=g),
            x.clone().exponential_(2.0, generator=g),
            x.clone().geometric_(0.4, generator=g),
            x.clone().cauchy_(generator=g),
            x.clone().log_normal_(generator=g),
            x.clone().random_(0, 10, generator=g),
        ]

    first = [to_np(t) for t in draws(bp.Generator(device=device).manual_seed(9))]
    again = [to_np(t) for t in draws(bp.Generator(device=device).manual_seed(9))]
    other = [to_np(t) for t in draws(bp.Generator(device=device).manual_seed(10))]
    for a, b in zip(first, again):
        assert np.array_equal(a, b)
    assert sum(not np.array_equal(a, b) for a, b in zip(first, other)) >= len(first) - 2


def test_generator_device_must_match(device):
    other = "gpu" if device == "cpu" else "cpu"
    with pytest.raises(bp.DeviceError, match="device type for generator"):
        bp.rand(2, device=device, generator=bp.Generator(device=other))
    # The default generator drives every device.
    bp.rand(2, device=device, generator=bp.default_generator)


def test_global_seed_reproduces_on_each_device(device):
    bp.manual_seed(123)
    a = [to_np(bp.rand(9, device=device)), to_np(bp.randn(9, device=device)), to_np(bp.randint(5, (9,), device=device))]
    bp.manual_seed(123)
    b = [to_np(bp.rand(9, device=device)), to_np(bp.randn(9, device=device)), to_np(bp.randint(5, (9,), device=device))]
    for x, y in zip(a, b):
        assert np.array_equal(x, y)


def test_host_drawn_samplers_match_across_devices(device):
    g_cpu, g_dev = bp.Generator().manual_seed(4), bp.Generator(device=device).manual_seed(4)
    a = bp.zeros(50).exponential_(generator=g_cpu)
    b = bp.zeros(50, device=device).exponential_(generator=g_dev)
    np.testing.assert_allclose(to_np(b), to_np(a), rtol=1e-6)


SEED = 20261201


def _ks(sample, cdf, *args):
    return stats.kstest(np.asarray(sample, dtype=np.float64).ravel(), cdf, args=args).pvalue


def test_continuous_distributions_ks(device):
    g = bp.Generator(device=device).manual_seed(SEED)
    n = 4000
    z = bp.zeros(n, device=device)
    assert _ks(to_np(z.clone().uniform_(-2, 3, generator=g)), "uniform", -2, 5) > 1e-3
    assert _ks(to_np(z.clone().normal_(1.5, 0.5, generator=g)), "norm", 1.5, 0.5) > 1e-3
    assert _ks(to_np(bp.randn(n, generator=g, device=device)), "norm") > 1e-3
    assert _ks(to_np(z.clone().exponential_(3.0, generator=g)), "expon", 0, 1 / 3.0) > 1e-3
    assert _ks(to_np(z.clone().cauchy_(1.0, 2.0, generator=g)), "cauchy", 1.0, 2.0) > 1e-3
    assert _ks(to_np(z.clone().log_normal_(0.5, 0.4, generator=g)), "lognorm", 0.4, 0, np.exp(0.5)) > 1e-3
    mean = bp.tensor(np.full((3, 2000), [[-3.0], [0.0], [5.0]], dtype=np.float32), device=device)
    std = bp.tensor(np.tile(np.float32([0.5, 1.0, 2.0, 3.0]), 500), device=device)
    s = to_np(bp.normal(mean, std, generator=g))
    assert s.shape == (3, 2000)
    for i, m in enumerate([-3.0, 0.0, 5.0]):
        for j, sd in enumerate([0.5, 1.0, 2.0, 3.0]):
            assert _ks(s[i, j::4], "norm", m, sd) > 1e-4


def test_discrete_distributions_moments(device):
    g = bp.Generator(device=device).manual_seed(SEED)
    n = 20000
    z = bp.zeros(n, device=device)
    geo = to_np(z.clone().geometric_(0.25, generator=g))
    assert geo.min() >= 1 and np.all(geo == np.round(geo))
    assert abs(geo.mean() - 4.0) < 0.1 and abs(geo.var() - 12.0) < 1.0
    b = to_np(bp.bernoulli(bp.full((n,), 0.3, device=device), generator=g))
    assert set(np.unique(b)) <= {0.0, 1.0} and abs(b.mean() - 0.3) < 0.015
    b = to_np(z.clone().bernoulli_(bp.tensor(np.tile(np.float32([0.1, 0.9]), n // 2), device=device), generator=g))
    assert abs(b[0::2].mean() - 0.1) < 0.015 and abs(b[1::2].mean() - 0.9) < 0.015
    r = to_np(z.clone().random_(3, 7, generator=g))
    assert set(np.unique(r)) == {3.0, 4.0, 5.0, 6.0}
    counts = np.bincount(r.astype(int) - 3)
    assert stats.chisquare(counts).pvalue > 1e-3
    rates = [0.0, 0.7, 6.0, 25.0, 400.0]
    lam = bp.tensor(np.tile(np.float32(rates), 4000), device=device)
    p = to_np(bp.poisson(lam, generator=g)).reshape(4000, 5)
    assert np.all(p[:, 0] == 0)
    for k, rate in enumerate(rates[1:], 1):
        assert abs(p[:, k].mean() - rate) < 4 * np.sqrt(rate / 4000)
        assert abs(p[:, k].var() / rate - 1) < 0.1


def test_poisson_matches_scipy_pmf():
    g = bp.Generator().manual_seed(SEED)
    for rate in (3.0, 40.0):
        s = to_np(bp.poisson(bp.full((20000,), rate, dtype=bp.float64), generator=g)).astype(int)
        ks = np.arange(s.max() + 1)
        observed = np.bincount(s, minlength=len(ks))
        expected = stats.poisson.pmf(ks, rate) * len(s)
        keep = expected > 5  # pool the sparse tails
        obs = np.append(observed[keep], observed[~keep].sum())
        exp = np.append(expected[keep], len(s) - expected[keep].sum())
        assert stats.chisquare(obs, exp).pvalue > 1e-3


def test_multinomial(device):
    g = bp.Generator(device=device).manual_seed(SEED)
    w = bp.tensor([1.0, 0.0, 3.0, 6.0], device=device)
    s = bp.multinomial(w, 20000, replacement=True, generator=g)
    assert s.dtype == bp.int64 and s.shape == (20000,) and s.device.type == device
    counts = np.bincount(to_np(s), minlength=4)
    assert counts[1] == 0
    assert stats.chisquare(counts[[0, 2, 3]], np.array([0.1, 0.3, 0.6]) * 20000).pvalue > 1e-3
    rows = bp.tensor([[1.0, 1.0, 1.0, 1.0], [0.0, 5.0, 0.0, 1.0]], device=device)
    out = to_np(rows.multinomial(4, generator=g))
    assert out.shape == (2, 4)
    assert sorted(out[0]) == [0, 1, 2, 3]
    assert sorted(out[1][:2]) == [1, 3] and list(out[1][2:]) == [0, 2]  # weight 0 last, in order
    # Without replacement, the first draw follows the weights.
    firsts = np.bincount([to_np(bp.multinomial(w, 2, generator=g))[0] for _ in range(600)], minlength=4)
    assert firsts[1] == 0 and stats.chisquare(firsts[[0, 2, 3]], np.array([0.1, 0.3, 0.6]) * 600).pvalue > 1e-3
    # Second draws without replacement: P(second = 2 | first = 3) = 3/4 of the rest.
    pairs = to_np(bp.multinomial(bp.tensor([[0.0, 0.0, 1.0, 3.0]], device=device).expand(3000, 4).contiguous(), 2, generator=g))
    second_given_third = pairs[pairs[:, 0] == 3, 1]
    assert set(second_given_third) == {2}


def test_sampler_errors_name_the_problem():
    cases = [
        (lambda: bp.multinomial(bp.tensor([0.0, 0.0]), 1), ValueError, "sum of probabilities <= 0"),
        (lambda: bp.multinomial(bp.tensor([1.0, 1.0]), 3), ValueError, "without replacement"),
        (lambda: bp.multinomial(bp.tensor([-1.0, 1.0]), 1), ValueError, "element < 0"),
        (lambda: bp.multinomial(bp.tensor([1.0, float("nan")]), 1), ValueError, "nan"),
        (lambda: bp.multinomial(bp.ones(2, 2, 2), 1), ValueError, "1 or 2 dim"),
        (lambda: bp.multinomial(bp.ones(3), 0), ValueError, "n_sample <= 0"),
        (lambda: bp.multinomial(bp.ones(3, dtype=bp.int64), 1), bp.DTypeError, "floating-point"),
        (lambda: bp.normal(bp.zeros(2), -1.0), ValueError, "std >= 0.0"),
        (lambda: bp.normal(0.0, 1.0), TypeError, "size="),
        (lambda: bp.normal(bp.zeros(2), 1.0, size=(2,)), TypeError, "size="),
        (lambda: bp.normal(bp.zeros(6), bp.ones(2, 3)), bp.ShapeError, "normal"),
        (lambda: bp.bernoulli(bp.tensor([2.0])), ValueError, "0 <= p <= 1"),
        (lambda: bp.bernoulli(bp.ones(2, dtype=bp.int64)), bp.DTypeError, "float"),
        (lambda: bp.poisson(bp.tensor([-1.0])), ValueError, "non-negative"),
        (lambda: bp.poisson(bp.tensor([1])), bp.DTypeError, "float"),
        (lambda: bp.zeros(3).exponential_(-1.0), ValueError, "lambda > 0.0"),
        (lambda: bp.zeros(3, dtype=bp.int64).exponential_(), bp.DTypeError, "floating-point"),
        (lambda: bp.zeros(3).geometric_(0.0), ValueError, "in \\(0, 1\\)"),
        (lambda: bp.zeros(3).geometric_(1.5), ValueError, "in \\(0, 1\\)"),
        (lambda: bp.zeros(3).bernoulli_(1.5), ValueError, "\\[0, 1\\]"),
        (lambda: bp.zeros(3).uniform_(2, 1), ValueError, "from=2"),
        (lambda: bp.zeros(3, dtype=bp.int64).uniform_(), bp.DTypeError, "floating-point"),
        (lambda: bp.zeros(3).log_normal_(0, -1), ValueError, "std > 0.0"),
        (lambda: bp.zeros(3).cauchy_(0, 0), ValueError, "sigma > 0.0"),
        (lambda: bp.zeros(3).random_(5, 2), ValueError, "from"),
        (lambda: bp.randint_like(bp.zeros(2), 3, 3), ValueError, "smaller than high"),
    ]
    for f, error, message in cases:
        with pytest.raises(error, match=message):
            f()


def test_sampler_shapes_dtypes_and_signatures():
    g = bp.Generator().manual_seed(1)
    assert bp.normal(bp.zeros(2, 3), bp.ones(3), generator=g).shape == (2, 3)
    assert bp.normal(0.0, bp.ones(2), generator=g).shape == (2,)
    out = bp.normal(1.0, 2.0, (2,), generator=g, dtype=bp.float64)
    assert out.dtype == bp.float64 and out.shape == (2,)
    assert bp.normal(bp.zeros(2, dtype=bp.float64), 1.0).dtype == bp.float64
    assert bp.normal(bp.zeros(3, requires_grad=True), 1.0).grad_fn is None
    assert bp.bernoulli(bp.ones(4), p=0.0).tolist() == [0.0] * 4
    assert bp.ones(4).bernoulli(p=1.0).tolist() == [1.0] * 4
    assert bp.randint_like(bp.zeros(3, dtype=bp.int64), 5).dtype == bp.int64
    assert bp.randint_like(bp.zeros(3), 5).dtype == bp.float32
    assert bp.randperm(4, dtype=bp.float32).dtype == bp.float32
    ints = bp.zeros(1000, dtype=bp.int64).random_(generator=g)
    assert ints.min().item() >= 0 and ints.max().item() > 2**60
    floats = bp.zeros(1000).random_(generator=g)
    assert floats.min().item() >= 0 and floats.max().item() <= 2**24
    assert set(bp.zeros(50, dtype=bp.bool).random_(generator=g).tolist()) == {False, True}
    assert set(bp.zeros(200).random_(4, generator=g).tolist()) == {0.0, 1.0, 2.0, 3.0}
    assert bp.zeros(5, dtype=bp.int64).geometric_(0.5, generator=g).dtype == bp.int64
    x = bp.zeros(4)
    assert x.exponential_() is x and x.min().item() > 0
    assert bp.multinomial(bp.ones(0, 3), 1).shape == (0, 1)


def test_inplace_samplers_refuse_leaves_that_require_grad():
    w = bp.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError):
        w.exponential_()
    with bp.no_grad():
        w.uniform_()  # what nn.init does


def test_dropout_draws_from_the_global_generator():
    x = bp.ones(1000)
    bp.manual_seed(8)
    a = to_np(bp.nn.functional.dropout(x, 0.5))
    bp.manual_seed(8)
    assert np.array_equal(to_np(bp.nn.functional.dropout(x, 0.5)), a)


def test_data_samplers_take_a_backprop_generator():
    from backprop.data import DataLoader, RandomSampler, TensorDataset, random_split

    ds = TensorDataset(bp.arange(20))
    orders = []
    for _ in range(2):
        g = bp.Generator().manual_seed(7)
        sampler = RandomSampler(ds, generator=g)
        orders.append((list(sampler), list(sampler)))
    assert orders[0] == orders[1] and orders[0][0] != orders[0][1]
    assert sorted(orders[0][0]) == list(range(20))
    g = bp.Generator().manual_seed(7)
    first = [len(s) for s in random_split(ds, [15, 5], generator=g)]
    assert first == [15, 5]
    a = random_split(ds, [10, 10], generator=bp.Generator().manual_seed(1))[0].indices
    b = random_split(ds, [10, 10], generator=bp.Generator().manual_seed(1))[0].indices
    assert list(a) == list(b)
    batches = [to_np(b[0]).tolist() for b in DataLoader(ds, batch_size=20, shuffle=True, generator=bp.Generator().manual_seed(3))]
    again = [to_np(b[0]).tolist() for b in DataLoader(ds, batch_size=20, shuffle=True, generator=bp.Generator().manual_seed(3))]
    assert batches == again


def test_pytorch_agrees_on_the_contract():
    torch = pytest.importorskip("torch")
    assert torch.Generator().initial_seed() == bp.Generator().initial_seed()
    assert torch.multinomial(torch.tensor([1.0, 0.0, 0.0]), 2).tolist()[1] in (1, 2)
