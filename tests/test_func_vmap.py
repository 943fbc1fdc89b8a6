"""`backprop.func.vmap`: batching rules checked against an explicit Python loop."""

import numpy as np
import pytest

import backprop as bp
import backprop.nn as nn
import backprop.nn.functional as F
from backprop.func import functional_call, grad, vmap
from conftest import assert_close, on, to_np


def loop(fn, *args, in_dims=0):
    """The reference: fn on each slice, stacked along dim 0."""
    dims = in_dims if isinstance(in_dims, tuple) else (in_dims,) * len(args)
    n = next(a.shape[d] for a, d in zip(args, dims) if d is not None)
    outs = [fn(*[a if d is None else a.select(d, i) for a, d in zip(args, dims)]) for i in range(n)]
    if isinstance(outs[0], tuple):
        return tuple(np.stack([to_np(o[j]) for o in outs]) for j in range(len(outs[0])))
    return np.stack([to_np(o) for o in outs])


W = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)

CASES = {
    "unary_chain": lambda x: (x.exp() * 0.5 + x.sin()).tanh().relu().sigmoid(),
    "module_functions": lambda x: bp.exp(bp.tanh(x)) - bp.sqrt(bp.abs(x) + 1.0),
    "scalar_and_reflected": lambda x: 2.0 / (1.0 + x * x) - 3.0 ** x.clamp(-1, 1),
    "broadcast_unbatched": lambda x: x * bp.tensor(W[0, :3]) + bp.tensor(W[:2, :3]),
    "sum_all": lambda x: x.sum(),
    "sum_dim": lambda x: x.sum(0),
    "sum_neg_dim_keepdim": lambda x: x.sum(-1, keepdim=True),
    "sum_tuple": lambda x: x.sum((0, 1)),
    "mean_var_std": lambda x: x.mean(1) + x.var(0).sum() + x.std(),
    "max_dim": lambda x: x.max(1),
    "max_all": lambda x: x.max(),
    "argmax_dim": lambda x: x.argmax(0),
    "argmax_all": lambda x: x.argmax(),
    "amax_logsumexp": lambda x: x.amax(-1) + bp.logsumexp(x, 0)[:1],
    "softmax": lambda x: F.softmax(x, dim=-1) + x.log_softmax(0),
    "matmul_unbatched_right": lambda x: x @ bp.tensor(W),
    "matmul_unbatched_left": lambda x: bp.tensor(W[:2, :2]).t() @ x,
    "matmul_vec": lambda x: x[0] @ x.t(),
    "mm_func": lambda x: bp.matmul(x, x.t()),
    "reshape_view": lambda x: x.reshape(-1).view(3, 2) * 2,
    "flatten": lambda x: x.flatten(),
    "transpose_permute": lambda x: x.transpose(0, 1).permute(1, 0).t(),
    "T": lambda x: x.T,
    "unsqueeze_squeeze": lambda x: x.unsqueeze(0).unsqueeze(-1).squeeze(-1).squeeze(0),
    "expand": lambda x: x[:, :1].expand(2, 5),
    "getitem": lambda x: x[1, ::2] + x[..., 0].sum(),
    "getitem_none": lambda x: x[None, :, 1],
    "getitem_index_tensor": lambda x: x[:, bp.tensor([2, 0])],
    "cat_stack": lambda x: bp.cat([x, x * 2], dim=1)[:, 1:4] + bp.stack([x, x], 0).sum(0),
    "stack_with_unbatched": lambda x: bp.stack([x, bp.ones(2, 3)], dim=-1),
    "where_masked_fill": lambda x: bp.where(x > 0, x, -x).masked_fill(x < -0.5, 7.0),
    "comparisons": lambda x: ((x > 0) & (x < 1)).float() + (x == x).float(),
    "split_chunk_unbind": lambda x: x.split(1, dim=1)[0] + x.chunk(3, 1)[2] + x.unbind(1)[1].unsqueeze(1),
    "select_narrow_index_select": lambda x: x.select(1, 0) + x.narrow(1, 1, 1).squeeze(1)
    + x.index_select(1, bp.tensor([2])).squeeze(1),
    "gather": lambda x: x.gather(1, bp.tensor([[0], [2]])),
    "like_factories": lambda x: bp.zeros_like(x) + bp.ones_like(x) * x,
    "linear": lambda x: F.linear(x, bp.tensor(W.T[:, :3]), bp.tensor(W[0])),
    "python_composites": lambda x: F.softplus(x) + F.relu6(x * 4) + F.hardtanh(x),
    "norm": lambda x: x.norm() + x.norm(2, dim=0).sum(),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_vmap_matches_a_loop(name):
    fn = CASES[name]
    x = bp.tensor(np.random.default_rng(1).standard_normal((4, 2, 3)).astype(np.float32))
    got = vmap(fn)(x)
    want = loop(fn, x)
    if isinstance(want, tuple):
        for g, w in zip(got, want):
            assert_close(g, w, rtol=1e-5, atol=1e-5)
    else:
        assert tuple(got.shape) == want.shape
        assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_vmap_on_the_gpu(device):
    x = on(device, np.random.default_rng(2).standard_normal((3, 4, 5)).astype(np.float32))
    w = on(device, np.random.default_rng(3).standard_normal((5, 2)).astype(np.float32))

    def f(a):
        return F.log_softmax(a @ w, dim=-1).sum(0) + a.mean()

    assert_close(vmap(f)(x), loop(f, x), rtol=1e-4, atol=1e-5)


def test_in_dims_out_dims_and_several_arguments():
    rng = np.random.default_rng(4)
    a = bp.tensor(rng.standard_normal((3, 5)).astype(np.float32))  # batch along dim 1
    b = bp.tensor(rng.standard_normal((5, 3)).astype(np.float32))  # batch along dim 0
    c = bp.tensor(rng.standard_normal(3).astype(np.float32))  # not batched
    out = vmap(lambda x, y, z: x * y + z, in_dims=(1, 0, None), out_dims=1)(a, b, c)
    want = (a.numpy().T * b.numpy() + c.numpy()).T
    assert out.shape == (3, 5)
    assert_close(out, want)
    # several outputs, each with its own out_dim; an output that does not vary is expanded
    s, t, k = vmap(lambda x: (x.sum(), x * 2, bp.ones(2)), in_dims=1, out_dims=(0, 1, 0))(a)
    assert_close(s, a.numpy().sum(0))
    assert_close(t, a.numpy() * 2)
    assert k.shape == (5, 2)


def test_pytree_inputs_and_outputs():
    x = bp.tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3))
    out = vmap(lambda d: {"s": d["a"] + d["b"], "p": [d["a"] * d["b"]]})({"a": x, "b": x * 10})
    assert_close(out["s"], x.numpy() * 11)
    assert_close(out["p"][0], x.numpy() ** 2 * 10)


def test_nested_vmap_two_batch_dims():
    rng = np.random.default_rng(5)
    x = bp.tensor(rng.standard_normal((2, 3, 4)).astype(np.float32))
    y = bp.tensor(rng.standard_normal((3, 4)).astype(np.float32))

    def f(a, b):  # logical a: (4,), b: (4,)
        return (a * b).sum() + a.max()

    # outer over x's dim 0 (y unbatched), inner over dim 0 of both
    got = vmap(vmap(f), in_dims=(0, None))(x, y)
    want = np.array([[to_np(f(x[i, j], y[j])) for j in range(3)] for i in range(2)])
    assert got.shape == (2, 3)
    assert_close(got, want, atol=1e-5)
    # outer over x's dim 1, inner over x's (remaining) dim 0: results land as (3, 2)
    got2 = vmap(vmap(lambda a: a.sum()), in_dims=1)(x)
    assert_close(got2, x.numpy().sum(-1).T, atol=1e-5)
    # a tensor from the outer level captured inside the inner function
    got3 = vmap(lambda a: vmap(lambda b: (a * b).sum())(y))(x[:, 0])
    assert_close(got3, x.numpy()[:, 0] @ y.numpy().T, atol=1e-5)


def test_matmul_rules_against_a_loop():
    rng = np.random.default_rng(6)
    A = bp.tensor(rng.standard_normal((3, 4, 5)).astype(np.float32))
    B = bp.tensor(rng.standard_normal((3, 5, 2)).astype(np.float32))
    v = bp.tensor(rng.standard_normal((3, 5)).astype(np.float32))
    assert_close(vmap(bp.matmul)(A, B), A.numpy() @ B.numpy(), atol=1e-5)
    assert_close(vmap(lambda a, b: a @ b)(A, v), np.einsum("bij,bj->bi", A.numpy(), v.numpy()), atol=1e-5)
    assert_close(vmap(lambda b, a: b @ a)(v, B), np.einsum("bj,bjk->bk", v.numpy(), B.numpy()), atol=1e-5)
    assert_close(vmap(lambda a, b: a @ b)(v, v), (v.numpy() ** 2).sum(1), atol=1e-5)
    # batched weight in linear (e.g. per-sample parameters)
    x = bp.tensor(rng.standard_normal((3, 4)).astype(np.float32))
    Wb = bp.tensor(rng.standard_normal((3, 2, 4)).astype(np.float32))
    assert_close(vmap(F.linear)(x, Wb), np.einsum("bi,boi->bo", x.numpy(), Wb.numpy()), atol=1e-5)


def test_losses_reduce_per_sample():
    rng = np.random.default_rng(7)
    logits = bp.tensor(rng.standard_normal((4, 3, 5)).astype(np.float32))
    target = bp.tensor(rng.integers(0, 5, (4, 3)))
    weight = bp.tensor(rng.uniform(0.5, 2, 5).astype(np.float32))
    for kw in ({}, {"reduction": "sum"}, {"reduction": "none"}, {"weight": weight}, {"label_smoothing": 0.1}):
        got = vmap(lambda a, t: F.cross_entropy(a, t, **kw))(logits, target)
        assert_close(got, loop(lambda a, t: F.cross_entropy(a, t, **kw), logits, target), atol=1e-5)
    got = vmap(lambda a, t: F.nll_loss(a.log_softmax(-1), t))(logits, target)
    assert_close(got, loop(lambda a, t: F.nll_loss(a.log_softmax(-1), t), logits, target), atol=1e-5)
    # one sample of shape (C,) with a 0-d class target
    got = vmap(F.cross_entropy)(logits[:, 0], target[:, 0])
    assert_close(got, loop(F.cross_entropy, logits[:, 0], target[:, 0]), atol=1e-5)
    y = bp.tensor(rng.standard_normal((4, 3, 5)).astype(np.float32))
    assert_close(vmap(F.mse_loss)(logits, y), loop(F.mse_loss, logits, y), atol=1e-5)


def test_modules_under_vmap_and_chunk_size():
    bp.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 2), nn.LogSoftmax(dim=-1))
    x = bp.randn(7, 3)
    want = loop(model, x)
    assert_close(vmap(model)(x), want, atol=1e-5)
    assert_close(vmap(model, chunk_size=3)(x), want, atol=1e-5)


def test_per_sample_gradients_of_a_small_mlp():
    bp.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))
    params = {k: v.detach() for k, v in model.named_parameters()}
    x = bp.randn(5, 4)
    y = bp.tensor([0, 2, 1, 1, 0])

    def loss(p, xi, yi):
        return F.cross_entropy(functional_call(model, p, (xi.unsqueeze(0),)), yi.unsqueeze(0))

    per_sample = vmap(grad(loss), in_dims=(None, 0, 0))(params, x, y)
    for i in range(5):
        model.zero_grad()
        F.cross_entropy(model(x[i : i + 1]), y[i : i + 1]).backward()
        for name, p in model.named_parameters():
            assert per_sample[name].shape == (5, *p.shape)
            assert_close(per_sample[name][i], p.grad, atol=1e-6, err_msg=name)


def test_grad_of_vmap_and_vmap_of_grad_agree():
    x = bp.tensor(np.linspace(-1, 1, 6).reshape(2, 3))
    f = lambda a: (a.sin() * a).sum()  # noqa: E731
    per_row = vmap(grad(f))(x)
    assert_close(per_row, np.sin(x.numpy()) + x.numpy() * np.cos(x.numpy()))
    whole = grad(lambda a: vmap(f)(a).sum())(x)
    assert_close(whole, per_row)


def test_randomness_modes():
    x = bp.ones(6, 50)
    with pytest.raises(RuntimeError, match="randomness='different'"):
        vmap(lambda a: F.dropout(a, 0.5))(x)
    bp.manual_seed(0)
    same = vmap(lambda a: F.dropout(a, 0.5), randomness="same")(x).numpy()
    assert (same == same[0]).all() and 0 < (same[0] == 0).sum() < 50
    diff = vmap(lambda a: F.dropout(a, 0.5), randomness="different")(x).numpy()
    assert not (diff == diff[0]).all()
    assert set(np.unique(diff)) <= {0.0, 2.0}
    # eval-mode dropout is not random and needs no randomness flag
    assert_close(vmap(lambda a: F.dropout(a, 0.5, training=False))(x), x.numpy())


def test_clear_errors():
    x = bp.ones(3, 2)
    with pytest.raises(RuntimeError, match="item"):
        vmap(lambda a: a.sum().item())(x)
    with pytest.raises(NotImplementedError, match="no batching rule"):
        vmap(lambda a: bp.tensor(a))(x)
    with pytest.raises(NotImplementedError, match="no batching rule for Tensor.zero_"):
        vmap(lambda a: a.zero_())(x)
    with pytest.raises(ValueError, match="different sizes"):
        vmap(lambda a, b: a + b)(x, bp.ones(4, 2))
    with pytest.raises(ValueError, match="out of range"):
        vmap(lambda a: a, in_dims=2)(x)
    with pytest.raises(ValueError, match="in_dims"):
        vmap(lambda a, b: a, in_dims=(0,))(x, x)
    with pytest.raises(ValueError, match="at least one"):
        vmap(lambda a: a, in_dims=None)(x)
    with pytest.raises(NotImplementedError, match="in-place"):

        def setitem(a):
            a[0] = 1.0
            return a

        vmap(setitem)(x)


def test_module_functions_are_restored_after_vmap():
    exp = bp.exp
    linear = F.linear
    with pytest.raises(ZeroDivisionError):
        vmap(lambda a: 1 / 0)(bp.ones(2))
    vmap(bp.exp)(bp.ones(2))
    assert bp.exp is exp and F.linear is linear


def test_max_min_of_two_tensors():
    a = bp.tensor([[1.0, 5.0], [3.0, -1.0]])
    b = bp.tensor([2.0, 2.0])
    assert_close(vmap(lambda x: x.max(b))(a), np.maximum(a.numpy(), b.numpy()))
    assert_close(vmap(lambda x: bp.min(x, b))(a), np.minimum(a.numpy(), b.numpy()))


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=25, deadline=None)
@given(
    shape=st.lists(st.integers(1, 3), min_size=1, max_size=3),
    batch=st.integers(1, 3),
    in_dim=st.integers(0, 3),
    op=st.sampled_from(["sum", "mean", "amax", "softmax", "transpose", "mul_bcast", "reshape"]),
    dim=st.integers(-3, 2),
)
def test_property_vmap_equals_loop(shape, batch, in_dim, op, dim):
    in_dim = in_dim % (len(shape) + 1)
    full = list(shape)
    full.insert(in_dim, batch)
    dim = dim % len(shape)
    x = bp.tensor(np.random.default_rng(len(full) + batch).standard_normal(full).astype(np.float32))
    fns = {
        "sum": lambda a: a.sum(dim),
        "mean": lambda a: a.mean(dim, keepdim=True),
        "amax": lambda a: a.amax(dim),
        "softmax": lambda a: a.softmax(dim),
        "transpose": lambda a: a.transpose(dim, -1) * 2,
        "mul_bcast": lambda a: a * bp.ones(*shape[dim:]),
        "reshape": lambda a: a.reshape(-1)[:1],
    }
    fn = fns[op]
    got = vmap(fn, in_dims=in_dim)(x)
    want = loop(fn, x, in_dims=in_dim)
    assert tuple(got.shape) == want.shape
    assert_close(got, want, atol=1e-5)


@pytest.mark.parametrize(
    "make",
    [
        lambda: nn.CrossEntropyLoss(),
        lambda: nn.CrossEntropyLoss(weight=bp.tensor([0.5, 1.0, 2.0, 1.5, 1.0]), reduction="sum"),
        lambda: nn.NLLLoss(),
        lambda: nn.MultiMarginLoss(),
        lambda: nn.MultiMarginLoss(weight=bp.tensor([0.5, 1.0, 2.0, 1.5, 1.0])),
    ],
)
def test_loss_modules_under_vmap(make):
    """Loss modules pass their options positionally; the rules accept both forms."""
    loss = make()
    rng = np.random.default_rng(8)
    logits = bp.tensor(rng.standard_normal((4, 3, 5)).astype(np.float32))
    target = bp.tensor(rng.integers(0, 5, (4, 3)))
    assert_close(vmap(loss)(logits, target), loop(loss, logits, target), atol=1e-5)


def test_maxout_and_flatten_modules_under_vmap():
    bp.manual_seed(2)
    model = nn.Sequential(nn.Flatten(0), nn.Maxout(6, 2, 3))
    x = bp.randn(4, 2, 3)
    assert_close(vmap(model)(x), loop(model, x), atol=1e-5)
