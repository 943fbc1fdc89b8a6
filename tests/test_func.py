"""`backprop.func`: grad, grad_and_value, vjp, jvp, jacrev, jacfwd, hessian, functional_call,
against analytic values, float64 central differences and explicit loops."""

import numpy as np
import pytest

import backprop as bp
import backprop.nn as nn
import backprop.nn.functional as F
from backprop.func import functional_call, grad, grad_and_value, hessian, jacfwd, jacrev, jvp, vjp, vmap
from conftest import Square, assert_close, central_difference_vjp, on, to_np

RNG = np.random.default_rng(0)


def f_np(x, y):
    return np.sin(x) * y.sum() + x**2


def f_bp(x, y):
    return x.sin() * y.sum() + x * x


def numeric_jacobian(f, arrays, argnum, eps=1e-6):
    """d f / d arrays[argnum] as an array of shape out.shape + in.shape, by central differences."""
    out = f(*arrays)
    x = arrays[argnum]
    jac = np.zeros(out.shape + x.shape)
    for idx in np.ndindex(*x.shape):
        plus = [a.copy() for a in arrays]
        minus = [a.copy() for a in arrays]
        plus[argnum][idx] += eps
        minus[argnum][idx] -= eps
        jac[(...,) + idx] = (f(*plus) - f(*minus)) / (2 * eps)
    return jac


def test_grad_matches_central_differences():
    x = RNG.standard_normal(4)
    y = RNG.standard_normal(3)
    gx, gy = grad(lambda a, b: f_bp(a, b).sum(), argnums=(0, 1))(bp.tensor(x), bp.tensor(y))
    want_x, want_y = central_difference_vjp(f_np, [x, y], np.ones(4))
    assert_close(gx, want_x, atol=1e-6)
    assert_close(gy, want_y, atol=1e-6)
    # default argnums=0 returns one gradient, not a tuple
    g = grad(lambda a, b: f_bp(a, b).sum())(bp.tensor(x), bp.tensor(y))
    assert isinstance(g, bp.Tensor)
    assert_close(g, want_x, atol=1e-6)


def test_grad_on_the_gpu(device):
    x = on(device, [0.5, -1.0, 2.0])
    g = grad(lambda a: (a.tanh() * a).sum())(x)
    xn = np.array([0.5, -1.0, 2.0])
    assert_close(g, np.tanh(xn) + xn * (1 - np.tanh(xn) ** 2), rtol=1e-5)


def test_grad_and_value_has_aux_and_pytrees():
    x = bp.tensor([1.0, 2.0, 3.0])

    def f(p, scale):
        loss = (p["w"] * p["w"]).sum() * scale + p["b"][0][0]
        return loss, {"loss_copy": loss * 1, "n": 3}

    params = {"w": x, "b": [bp.tensor([5.0])]}
    g, (value, aux) = grad_and_value(f, has_aux=True)(params, 2.0)
    assert_close(g["w"], [4.0, 8.0, 12.0])
    assert_close(g["b"][0], [1.0])
    assert value.item() == 33.0 and aux["n"] == 3 and aux["loss_copy"].item() == 33.0
    assert not value.requires_grad and not x.requires_grad  # the inputs are left alone
    g2, aux2 = grad(f, has_aux=True)(params, 2.0)
    assert_close(g2["w"], [4.0, 8.0, 12.0]) and aux2["n"] == 3


def test_grad_errors_and_unused_inputs():
    x = bp.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="scalar"):
        grad(lambda a: a * 2)(x)
    with pytest.raises(RuntimeError, match="scalar"):  # one element is not enough: 0-d, as torch.func
        grad(lambda a: a.sum(0, keepdim=True))(x)
    with pytest.raises(RuntimeError, match="argnums"):
        grad(lambda a: a.sum(), argnums=3)(x)
    with pytest.raises(RuntimeError, match="has_aux"):
        grad(lambda a: a.sum(), has_aux=True)(x)
    # an input the output does not use gets a zero gradient (as torch.func does)
    g = grad(lambda a, b: (a * 3).sum(), argnums=1)(x, bp.tensor([7.0]))
    assert g.tolist() == [0.0]


def test_higher_order_grad():
    x = bp.tensor(0.7, dtype=bp.float64)
    d1 = grad(lambda a: a.sin())(x)
    d2 = grad(grad(lambda a: a.sin()))(x)
    d3 = grad(grad(grad(lambda a: a.sin())))(x)
    assert_close(d1, np.cos(0.7))
    assert_close(d2, -np.sin(0.7))
    assert_close(d3, -np.cos(0.7))


def test_vjp_and_jvp_against_the_jacobian():
    x = RNG.standard_normal(4)
    y = RNG.standard_normal(3)
    jx = numeric_jacobian(f_np, [x, y], 0)
    jy = numeric_jacobian(f_np, [x, y], 1)
    u = RNG.standard_normal(4)
    out, vjp_fn = vjp(f_bp, bp.tensor(x), bp.tensor(y))
    assert_close(out, f_np(x, y))
    vx, vy = vjp_fn(bp.tensor(u))
    assert_close(vx, u @ jx, atol=1e-6)
    assert_close(vy, u @ jy, atol=1e-6)
    tx, ty = RNG.standard_normal(4), RNG.standard_normal(3)
    out, jv = jvp(f_bp, (bp.tensor(x), bp.tensor(y)), (bp.tensor(tx), bp.tensor(ty)))
    assert_close(out, f_np(x, y))
    assert_close(jv, jx @ tx + jy @ ty, atol=1e-6)
    with pytest.raises(RuntimeError, match="shape"):
        vjp_fn(bp.ones(5))
    with pytest.raises(RuntimeError, match="tangent"):
        jvp(f_bp, (bp.tensor(x), bp.tensor(y)), (bp.ones(2), bp.tensor(ty)))


def _calls(f):
    calls = []

    def counted(*args):
        calls.append(1)
        return f(*args)

    return counted, calls


def _scale_in_place(x):
    y = x * 2
    y.add_(1)
    return y.exp()


@pytest.mark.parametrize(
    "f, forward_pass",
    [
        (lambda x: (x @ x.T).tanh().softmax(-1), True),
        (lambda x: {"a": x.sin(), "b": (x.relu().mean(), F.cross_entropy(x, bp.tensor([0, 2, 1])))}, True),
        (grad(lambda x: (x**3).sum()), True),  # forward over reverse
        (jacrev(lambda x: (x.sin() * x).sum(1)), True),
        (lambda x: jvp(lambda z: z.sin() * z, (x,), (x.cos(),))[1], True),  # the inner one by double-vjp
        (lambda x: vmap(lambda r: (r * r).sum())(x), True),
        (_scale_in_place, False),  # in-place on a tensor carrying a tangent
        (lambda x: Square.apply(x).sum(), False),  # a custom Function without jvp
    ],
    ids=["mlp", "pytree", "grad", "jacrev", "jvp", "vmap", "in-place", "custom Function"],
)
def test_jvp_runs_one_forward_pass_and_agrees_with_central_differences(f, forward_pass):
    x = RNG.standard_normal((3, 3))
    t = RNG.standard_normal((3, 3))
    counted, calls = _calls(f)
    out, jv = jvp(counted, (bp.tensor(x),), (bp.tensor(t),))
    # Forward AD runs f once; where it cannot serve, f runs again on the double-vjp path.
    assert len(calls) == (1 if forward_pass else 2)
    eps = 1e-6
    hi = f(bp.tensor(x + eps * t))
    lo = f(bp.tensor(x - eps * t))
    leaves = bp.func._flatten(out)[0]
    for o, j, h, l in zip(leaves, bp.func._flatten(jv)[0], bp.func._flatten(hi)[0], bp.func._flatten(lo)[0]):
        assert j.shape == o.shape and j.dtype == o.dtype
        assert_close(j, (to_np(h) - to_np(l)) / (2 * eps), atol=1e-6)


def test_jvp_inside_grad_and_vmap_differentiates_through_the_tangent():
    x, t = bp.tensor(RNG.standard_normal(4)), bp.tensor(RNG.standard_normal(4))
    g = grad(lambda x: jvp(lambda z: (z**2).sum(), (x,), (t,))[1])(x)  # d/dx <2x, t> = 2t
    assert_close(g, 2 * to_np(t))
    per_row = vmap(lambda xi, ti: jvp(lambda z: z.sin(), (xi,), (ti,))[1])(bp.stack([x, t]), bp.stack([t, x]))
    assert_close(per_row, np.stack([np.cos(to_np(x)) * to_np(t), np.cos(to_np(t)) * to_np(x)]))


def test_vjp_has_aux_and_several_outputs():
    x = bp.tensor([1.0, 2.0])
    (a, b), fn, aux = vjp(lambda t: ((t * t, t.sum()), "aux"), x, has_aux=True)
    assert aux == "aux"
    (g,) = fn((bp.tensor([1.0, 1.0]), bp.tensor(10.0)))
    assert_close(g, [12.0, 14.0])


def test_jacrev_jacfwd_hessian():
    x = RNG.standard_normal(3)
    y = RNG.standard_normal(2)
    jx = numeric_jacobian(f_np, [x, y], 0)
    for jac in (jacrev, jacfwd):
        got = jac(f_bp)(bp.tensor(x), bp.tensor(y))
        assert got.shape == (3, 3)
        assert_close(got, jx, atol=1e-6)
        gx, gy = jac(f_bp, argnums=(0, 1))(bp.tensor(x), bp.tensor(y))
        assert_close(gy, numeric_jacobian(f_np, [x, y], 1), atol=1e-6)
    # matrix input: out.shape + in.shape
    m = bp.tensor(RNG.standard_normal((2, 3)))
    J = jacrev(lambda a: a.sum(0))(m)
    assert J.shape == (3, 2, 3)
    assert_close(J, np.einsum("ik,j->kji", np.eye(3), np.ones(2)))
    # Hessian of sum(x^3 * y0) + x0 * x1: diag(6 x y0) plus the cross terms
    def g(a, b):
        return (a**3).sum() * b[0] + a[0] * a[1]

    H = hessian(g)(bp.tensor(x), bp.tensor(y))
    want = np.diag(6 * x * y[0])
    want[0, 1] += 1
    want[1, 0] += 1
    assert_close(H, want, atol=1e-6)


def test_jacrev_of_a_batch_through_vmap():
    xs = bp.tensor(RNG.standard_normal((4, 3)))
    got = vmap(jacrev(lambda a: a.sin() * a.sum()))(xs)
    want = np.stack([numeric_jacobian(lambda a: np.sin(a) * a.sum(), [x], 0) for x in xs.numpy()])
    assert got.shape == (4, 3, 3)
    assert_close(got, want, atol=1e-6)


def test_functional_call_replaces_and_restores():
    bp.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    x = bp.ones(1, 3)
    before = to_np(model(x))
    zero = {"0.weight": bp.zeros(2, 3), "0.bias": bp.tensor([1.0, -1.0])}
    assert_close(functional_call(model, zero, (x,)), [[1.0, 0.0]])
    assert_close(functional_call(model, zero, x), [[1.0, 0.0]])  # a single arg need not be a tuple
    assert_close(model(x), before)
    # a tuple of dicts, partial replacement, kwargs
    out = functional_call(model, ({"0.weight": bp.zeros(2, 3)}, {}), args=(), kwargs={"input": x})
    assert_close(out, np.maximum(to_np(model[0].bias), 0)[None])
    with pytest.raises(ValueError, match="more than one"):
        functional_call(model, ({"0.bias": bp.zeros(2)}, {"0.bias": bp.zeros(2)}), (x,))
    # an unknown name is a plain attribute for the call (PyTorch ignores it the same way)
    assert_close(functional_call(model, {"0.wieght": bp.zeros(2, 3)}, (x,)), before)
    assert "wieght" not in model[0].__dict__
    with pytest.raises(RuntimeError, match=r"Missing key\(s\): '0.bias'"):
        functional_call(model, {"0.weight": bp.zeros(2, 3)}, (x,), strict=True)
    with pytest.raises(RuntimeError, match=r"Unexpected key\(s\): '0.wieght'"):
        functional_call(model, {"0.weight": bp.zeros(2, 3), "0.bias": bp.zeros(2), "0.wieght": bp.ones(1)}, (x,), strict=True)
    with pytest.raises(KeyError, match="submodule"):
        functional_call(model, {"7.weight": bp.zeros(2, 3)}, (x,))


def test_functional_call_gradients_and_tied_weights():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.Linear(2, 2, bias=False)
            self.dec = nn.Linear(2, 2, bias=False)
            self.dec.weight = self.enc.weight

        def forward(self, x):
            return self.dec(self.enc(x))

    m = Tied()
    w = bp.tensor([[1.0, 2.0], [3.0, 4.0]])
    x = bp.tensor([[1.0, 1.0]])
    out = functional_call(m, {"enc.weight": w}, (x,))  # dec.weight follows: it is the same tensor
    assert_close(out, to_np(x) @ w.numpy().T @ w.numpy().T)
    out_untied = functional_call(m, {"enc.weight": w}, (x,), tie_weights=False)
    assert_close(out_untied, to_np(x) @ w.numpy().T @ to_np(m.dec.weight).T)
    # gradients through functional_call reach the given tensors, not the module's parameters
    g = grad(lambda p: functional_call(m, p, (x,)).sum())({"enc.weight": w})
    (want,) = central_difference_vjp(lambda a: np.ones((1, 2)) @ a.T @ a.T, [w.numpy().astype(np.float64)], np.ones((1, 2)))
    assert_close(g["enc.weight"], want, atol=1e-4)
    assert m.enc.weight.grad is None


def test_functional_call_buffers():
    class WithBuffer(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("offset", bp.tensor([1.0, 2.0]))

        def forward(self, x):
            return x + self.offset

    m = WithBuffer()
    assert_close(functional_call(m, {"offset": bp.tensor([10.0, 20.0])}, (bp.zeros(2),)), [10.0, 20.0])
    assert_close(m(bp.zeros(2)), [1.0, 2.0])


def test_per_sample_gradients_with_torch_numbers():
    """torch.func: vmap(grad(loss), in_dims=(None, 0, 0)) for a fixed 2-2-2 linear+tanh model."""
    model = nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 2))
    params = {
        "0.weight": bp.tensor([[0.1, -0.2], [0.3, 0.4]]),
        "0.bias": bp.tensor([0.0, 0.1]),
        "2.weight": bp.tensor([[0.5, -0.5], [0.25, 0.75]]),
        "2.bias": bp.tensor([0.05, -0.05]),
    }
    x = bp.tensor([[1.0, 2.0], [-1.0, 0.5]])
    y = bp.tensor([1, 0])

    def loss(p, xi, yi):
        return F.cross_entropy(functional_call(model, p, (xi.unsqueeze(0),)), yi.unsqueeze(0))

    g = vmap(grad(loss), in_dims=(None, 0, 0))(params, x, y)
    # torch.func 2.x, same model, parameters and data
    assert_close(g["2.bias"], [[0.266023, -0.266023], [-0.487339, 0.487339]], atol=1e-5)
    assert_close(g["0.bias"], [[0.060862, -0.101428], [-0.117088, 0.609173]], atol=1e-5)
    assert_close(g["0.weight"][1], [[0.117088, -0.058544], [-0.609173, 0.304587]], atol=1e-5)
    assert_close(g["2.weight"][0], [[-0.0774958, 0.2217711], [0.0774958, -0.221771]], atol=1e-5)


def test_vjp_and_jvp_under_vmap():
    xs = bp.tensor(RNG.standard_normal((3, 4)))
    ts = bp.tensor(RNG.standard_normal((3, 4)))
    _, jv = vmap(lambda x, t: jvp(lambda a: a.sin() * a, (x,), (t,)))(xs, ts)
    x = xs.numpy()
    assert_close(jv, (np.cos(x) * x + np.sin(x)) * ts.numpy(), atol=1e-6)
    got = vmap(lambda x, t: vjp(lambda a: a.exp().sum(0, keepdim=True) * a, x)[1](t)[0])(xs, ts)
    want = [
        central_difference_vjp(lambda a: np.exp(a).sum(0, keepdims=True) * a, [x[i]], ts.numpy()[i])[0] for i in range(3)
    ]
    assert_close(got, np.stack(want), atol=1e-5)


def test_transforms_compose_grad_of_vmap_of_grad_and_vmap_of_hessian():
    x = bp.tensor([0.1, 0.5, 0.9], dtype=bp.float64)
    g = grad(lambda a: vmap(grad(lambda t: t.sin()))(a).sum())(x)
    assert_close(g, -np.sin(x.numpy()))
    H = vmap(hessian(lambda t: (t**3).sum()))(bp.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=bp.float64))
    assert_close(H, [[[6.0, 0.0], [0.0, 12.0]], [[18.0, 0.0], [0.0, 24.0]]])
