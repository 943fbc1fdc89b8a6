"""Embedding, EmbeddingBag, Bilinear, LazyLinear, the channel and alpha dropouts, Unflatten,
Identity, and the functional helpers pad, normalize and one_hot."""

import math

import numpy as np
import pytest

import backprop as bp
from backprop import nn
from backprop.nn import functional as F
from conftest import assert_close, check_backward, on, to_np

RNG = np.random.default_rng(9)
W = RNG.standard_normal((6, 3))
IDX = np.array([[1, 0, 5], [5, 5, 2]])


# ---- embedding --------------------------------------------------------------------------


def test_embedding_lookup_and_gradient_accumulates_repeated_rows():
    out = check_backward(lambda w: F.embedding(bp.tensor(IDX), w), [W])
    np.testing.assert_allclose(out, W[IDX])


def test_embedding_padding_idx_gets_no_gradient_and_starts_at_zero():
    m = nn.Embedding(6, 3, padding_idx=5)
    assert_close(m.weight[5], np.zeros(3))
    m(bp.tensor(IDX)).sum().backward()
    g = to_np(m.weight.grad)
    np.testing.assert_allclose(g[5], 0)
    np.testing.assert_allclose(g[0], 1) and np.testing.assert_allclose(g[2], 1)
    assert repr(m) == "Embedding(6, 3, padding_idx=5)"
    assert nn.Embedding(6, 3, padding_idx=-1).padding_idx == 5


def test_embedding_scale_grad_by_freq():
    w = bp.tensor(W, requires_grad=True)
    F.embedding(bp.tensor(IDX), w, scale_grad_by_freq=True).sum().backward()
    # Row 5 occurs 3 times: each occurrence's gradient is divided by 3, so the sum is 1.
    np.testing.assert_allclose(to_np(w.grad)[[0, 1, 2, 5]], 1.0)
    np.testing.assert_allclose(to_np(w.grad)[[3, 4]], 0.0)


def test_embedding_max_norm_renormalises_looked_up_rows_in_place():
    weight = bp.tensor(W * 3)
    norms = np.linalg.norm(W * 3, axis=1)
    out = F.embedding(bp.tensor([0, 2]), weight, max_norm=1.0)
    expect = W * 3
    for r in (0, 2):
        if norms[r] > 1:
            expect[r] = expect[r] * (1.0 / (norms[r] + 1e-7))
    assert_close(weight, expect, rtol=1e-6)
    assert_close(out, expect[[0, 2]], rtol=1e-6)


def test_embedding_from_pretrained_and_errors():
    m = nn.Embedding.from_pretrained(bp.tensor(W))
    assert not m.weight.requires_grad and m.num_embeddings == 6
    assert nn.Embedding.from_pretrained(bp.tensor(W), freeze=False).weight.requires_grad
    assert_close(m(bp.tensor([2])), W[[2]])
    with pytest.raises(IndexError, match="out of range"):
        m(bp.tensor([6]))
    with pytest.raises(TypeError, match="int64"):
        m(bp.tensor([1.0]))
    with pytest.raises(ValueError, match="2-dimensional"):
        nn.Embedding.from_pretrained(bp.ones(3))


def test_embedding_on_each_device(device):
    m = nn.Embedding(6, 3).to(device)
    idx = on(device, IDX)
    out = m(idx)
    assert_close(out, to_np(m.weight)[IDX])
    out.sum().backward()
    counts = np.bincount(IDX.ravel(), minlength=6)[:, None] * np.ones(3)
    assert_close(m.weight.grad, counts)


def np_bag(w, bags, mode, psw=None):
    out = []
    for k, b in enumerate(bags):
        rows = w[b] * (psw[k][:, None] if psw is not None else 1)
        if len(b) == 0:
            out.append(np.zeros(w.shape[1]))
        else:
            out.append({"sum": rows.sum(0), "mean": rows.mean(0), "max": rows.max(0)}[mode])
    return np.array(out)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_2d_and_offsets(mode):
    out = check_backward(lambda w: F.embedding_bag(bp.tensor(IDX), w, mode=mode), [W])
    np.testing.assert_allclose(out, np_bag(W, list(IDX), mode))
    flat = np.array([1, 2, 4, 5, 4, 3, 2])
    offsets = np.array([0, 2, 2, 4])  # bag 1 is empty
    bags = [flat[0:2], flat[2:2], flat[2:4], flat[4:]]
    out = check_backward(lambda w: F.embedding_bag(bp.tensor(flat), w, bp.tensor(offsets), mode=mode), [W])
    np.testing.assert_allclose(out, np_bag(W, bags, mode))


def test_embedding_bag_per_sample_weights_padding_and_last_offset():
    flat = np.array([1, 2, 4, 5, 4])
    psw = RNG.standard_normal(5)
    bags = [flat[0:2], flat[2:5]]
    out = check_backward(lambda w, p: F.embedding_bag(bp.tensor(flat), w, bp.tensor([0, 2]), mode="sum", per_sample_weights=p), [W, psw])
    np.testing.assert_allclose(out, np_bag(W, bags, "sum", [psw[0:2], psw[2:5]]))
    m = nn.EmbeddingBag(6, 3, mode="mean", padding_idx=4)
    m2 = nn.EmbeddingBag(6, 3, mode="sum", include_last_offset=True)
    assert_close(m2(bp.tensor(flat), bp.tensor([0, 2, 5])), np_bag(to_np(m2.weight), bags, "sum"), rtol=1e-6)
    mean = m(bp.tensor(flat), bp.tensor([0, 2]))
    wt = to_np(m.weight)
    assert_close(mean, np.array([wt[[1, 2]].mean(0), wt[[5]].mean(0)]), rtol=1e-6)  # padding 4 left out
    assert repr(nn.EmbeddingBag(10, 3)) == "EmbeddingBag(10, 3, mode='mean')"
    with pytest.raises(NotImplementedError, match="per_sample_weights"):
        F.embedding_bag(bp.tensor(flat), bp.tensor(W), bp.tensor([0]), mode="mean", per_sample_weights=bp.ones(5))
    with pytest.raises(ValueError, match="offsets"):
        F.embedding_bag(bp.tensor(flat), bp.tensor(W))


def test_embedding_bag_on_each_device(device):
    m = nn.EmbeddingBag(6, 3, mode="max").to(device)
    out = m(on(device, IDX))
    assert_close(out, np_bag(to_np(m.weight), list(IDX), "max"))


# ---- bilinear and lazy linear -----------------------------------------------------------


def test_bilinear_against_einsum_with_gradients():
    x1, x2 = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 2))
    w, b = RNG.standard_normal((5, 3, 2)), RNG.standard_normal(5)
    out = check_backward(lambda a, c, w_, b_: F.bilinear(a, c, w_, b_), [x1, x2, w, b])
    np.testing.assert_allclose(out, np.einsum("ni,kij,nj->nk", x1, w, x2) + b, rtol=1e-10)
    m = nn.Bilinear(3, 2, 5)
    assert tuple(m.weight.shape) == (5, 3, 2) and abs(to_np(m.weight)).max() <= 1 / math.sqrt(3)
    assert repr(m) == "Bilinear(in1_features=3, in2_features=2, out_features=5, bias=True)"
    assert tuple(m(bp.ones(7, 2, 3), bp.ones(7, 2, 2)).shape) == (7, 2, 5)


def test_bilinear_on_each_device(device):
    m = nn.Bilinear(3, 2, 4).to(device)
    x1, x2 = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 2))
    expect = np.einsum("ni,kij,nj->nk", x1, to_np(m.weight), x2) + to_np(m.bias)
    assert_close(m(on(device, x1), on(device, x2)), expect, rtol=1e-4, atol=1e-5)


def test_lazy_linear_infers_in_features_on_first_call():
    m = nn.LazyLinear(4)
    assert repr(m) == "LazyLinear(in_features=0, out_features=4, bias=True)"
    y = m(bp.ones(2, 7))
    assert type(m) is nn.Linear and m.in_features == 7 and tuple(y.shape) == (2, 4)
    assert tuple(m.weight.shape) == (4, 7)
    lazy = nn.LazyLinear(4)
    lazy.load_state_dict(m.state_dict())
    assert type(lazy) is nn.Linear
    assert_close(lazy.weight, to_np(m.weight))


def test_lazy_linear_moved_before_its_first_call(device):
    m = nn.LazyLinear(3).to(device)
    y = m(on(device, np.ones((2, 5), np.float32)))
    assert m.weight.device.type == device and y.device.type == device and tuple(m.weight.shape) == (3, 5)


def test_identity_accepts_any_arguments_and_unflatten():
    x = bp.ones(2, 6)
    assert nn.Identity(54, unused="x")(x) is x
    assert tuple(nn.Unflatten(1, (2, 3))(x).shape) == (2, 2, 3)
    assert repr(nn.Unflatten(1, (2, 3))) == "Unflatten(dim=1, unflattened_size=(2, 3))"


# ---- dropouts ---------------------------------------------------------------------------


def test_dropout1d_zeroes_whole_channels():
    bp.manual_seed(1)
    x = bp.ones(8, 16, 5)
    y = to_np(nn.Dropout1d(0.5)(x))
    per_channel = y.reshape(8, 16, 5)
    assert np.all((per_channel == 0).all(2) | (per_channel == 2).all(2))
    assert 0.3 < (per_channel[:, :, 0] == 0).mean() < 0.7
    assert tuple(nn.Dropout1d(0.5)(bp.ones(16, 5)).shape) == (16, 5)
    m = nn.Dropout1d(0.5).eval()
    assert_close(m(x), np.ones((8, 16, 5)))
    with pytest.raises(RuntimeError, match="2D or 3D"):
        nn.Dropout1d()(bp.ones(2, 2, 2, 2))
    assert repr(nn.Dropout1d()) == "Dropout1d(p=0.5, inplace=False)"


def test_alpha_dropout_keeps_mean_and_variance_of_selu_activations():
    bp.manual_seed(2)
    x = bp.randn(200000)
    y = to_np(nn.AlphaDropout(0.2)(x))
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02
    alpha = 1.7580993408473766
    a = 1 / math.sqrt((alpha**2 * 0.2 + 1) * 0.8)
    dropped = -alpha * a + alpha * a * 0.2  # what a dropped unit becomes
    assert np.isclose(y, dropped, atol=1e-6).mean() == pytest.approx(0.2, abs=0.01)
    assert_close(nn.AlphaDropout(0.2).eval()(x), to_np(x))


def test_feature_alpha_dropout_drops_whole_channels(device):
    bp.manual_seed(3)
    y = to_np(nn.FeatureAlphaDropout(0.5)(on(device, np.zeros((4, 32, 6)))))
    assert np.all(np.ptp(y, axis=2) < 1e-6)
    assert len(np.unique(np.round(y, 5))) == 2


# ---- pad, normalize, one_hot ------------------------------------------------------------


def test_pad_modes_against_numpy():
    x = RNG.standard_normal((2, 3, 4))
    cases = [
        ((1, 2), "constant", np.pad(x, ((0, 0), (0, 0), (1, 2)), constant_values=0.5), 0.5),
        ((1, 2, 2, 0), "constant", np.pad(x, ((0, 0), (2, 0), (1, 2))), None),
        ((2, 3), "reflect", np.pad(x, ((0, 0), (0, 0), (2, 3)), mode="reflect"), None),
        ((1, 1, 2, 2), "replicate", np.pad(x, ((0, 0), (2, 2), (1, 1)), mode="edge"), None),
        ((3, 1), "circular", np.pad(x, ((0, 0), (0, 0), (3, 1)), mode="wrap"), None),
        ((-1, 1), "constant", np.pad(x, ((0, 0), (0, 0), (0, 1)))[:, :, 1:], None),
    ]
    for pad, mode, ref, value in cases:
        out = check_backward(lambda t: F.pad(t, pad, mode=mode, value=value), [x])
        np.testing.assert_allclose(out, ref, err_msg=f"{pad} {mode}")
    with pytest.raises(RuntimeError, match="less than the corresponding input dimension"):
        F.pad(bp.ones(1, 3), (3, 0), mode="reflect")
    with pytest.raises(ValueError, match="divisible by 2"):
        F.pad(bp.ones(2), (1,))


def test_pad_on_each_device(device):
    x = RNG.standard_normal((2, 5))
    assert_close(F.pad(on(device, x), (2, 1), mode="reflect"), np.pad(x, ((0, 0), (2, 1)), mode="reflect"), rtol=1e-6)
    assert_close(F.pad(on(device, x), (1, 1), value=-1.0), np.pad(x, ((0, 0), (1, 1)), constant_values=-1), rtol=1e-6)


def test_normalize():
    x = RNG.standard_normal((3, 4))
    out = check_backward(lambda t: F.normalize(t), [x])
    np.testing.assert_allclose(out, x / np.linalg.norm(x, axis=1, keepdims=True), rtol=1e-12)
    out = check_backward(lambda t: F.normalize(t, p=1.0, dim=0), [x])
    np.testing.assert_allclose(out, x / np.abs(x).sum(0, keepdims=True), rtol=1e-12)
    assert_close(F.normalize(bp.zeros(1, 3)), np.zeros((1, 3)))


def test_one_hot():
    y = F.one_hot(bp.tensor([0, 2, 1]))
    assert y.dtype == bp.int64 and to_np(y).tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 0]]
    assert tuple(F.one_hot(bp.tensor([[1], [0]]), 4).shape) == (2, 1, 4)
    with pytest.raises(RuntimeError, match="non-negative"):
        F.one_hot(bp.tensor([-1, 0]))
    with pytest.raises(RuntimeError, match="smaller than num_classes"):
        F.one_hot(bp.tensor([3]), 3)
