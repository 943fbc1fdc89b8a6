"""Engine semantics: accumulation, retain_graph, create_graph (higher derivatives), no_grad,
hooks, in-place detection, deep graphs, autograd.grad, and every graph-misuse error."""

import gc
import threading

import numpy as np
import pytest

import backprop as bp


def test_leaf_gradients_accumulate_across_backwards():
    x = bp.tensor(2.0, requires_grad=True)
    (x * 3).backward()
    (x * 4).backward()
    assert x.grad.item() == 7.0
    x.grad = None
    (x * x).backward()
    assert x.grad.item() == 4.0


def test_first_gradient_is_stored_without_aliasing_other_leaves():
    a = bp.tensor([1.0, 2.0], requires_grad=True)
    b = bp.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()  # add hands the same upstream gradient to both
    a.grad.zero_()
    assert b.grad.tolist() == [1.0, 1.0]
    assert a.grad.is_contiguous()


def test_backward_twice_needs_retain_graph():
    x = bp.tensor(3.0, requires_grad=True)
    y = x * x
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.item() == 12.0
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_graphs_without_saved_tensors_can_be_rerun():
    x = bp.tensor(3.0, requires_grad=True)
    y = x + 1
    y.backward()
    y.backward()
    assert x.grad.item() == 2.0


def test_non_scalar_backward_needs_a_gradient():
    x = bp.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="only for scalar outputs"):
        (x * 2).backward()
    with pytest.raises(bp.ShapeError, match="shape"):
        (x * 2).backward(bp.tensor([1.0, 2.0, 3.0]))
    (x * 2).backward(bp.tensor([1.0, -1.0]))
    assert x.grad.tolist() == [2.0, -2.0]


def test_backward_on_something_without_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        bp.tensor(1.0).backward()
    with pytest.raises(RuntimeError, match="does not require grad"):
        (bp.tensor([1.0]) * 2).sum().backward()


def test_int_tensors_cannot_require_grad():
    with pytest.raises(RuntimeError, match="floating point"):
        bp.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point"):
        bp.tensor([1, 2]).requires_grad_()


def test_requires_grad_only_changes_on_leaves():
    x = bp.tensor(1.0, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad = False
    assert not y.detach().requires_grad
    assert y.detach().is_leaf


def test_second_and_third_derivatives():
    x = bp.tensor(1.5, dtype=bp.float64, requires_grad=True)
    y = bp.sin(x) * x**3
    (g,) = bp.autograd.grad(y, x, create_graph=True)
    (gg,) = bp.autograd.grad(g, x, create_graph=True)
    (ggg,) = bp.autograd.grad(gg, x)
    s, c, v = np.sin(1.5), np.cos(1.5), 1.5
    assert abs(g.item() - (c * v**3 + 3 * s * v**2)) < 1e-12
    assert abs(gg.item() - (-s * v**3 + 6 * c * v**2 + 6 * s * v)) < 1e-12
    assert abs(ggg.item() - (-c * v**3 - 9 * s * v**2 + 18 * c * v + 6 * s)) < 1e-10


@pytest.mark.parametrize(
    "f",
    [
        lambda x: bp.sigmoid(x) * bp.tanh(x),
        lambda x: (x.softmax(0) * bp.arange(3.0, dtype=bp.float64)).sum(),
        lambda x: bp.nn.functional.gelu(x).sum(),
        lambda x: (x.log_softmax(0) ** 2).sum(),
        lambda x: bp.relu(x) * x.exp(),
        lambda x: (x / (1 + x * x)).sum(),
    ],
)
def test_gradgradcheck_on_composites(f):
    x = bp.tensor([0.3, -0.7, 1.1], dtype=bp.float64, requires_grad=True)
    assert bp.autograd.gradgradcheck(lambda t: f(t), (x,))


def test_create_graph_backward_builds_differentiable_grad():
    x = bp.tensor([1.0, 2.0], dtype=bp.float64, requires_grad=True)
    (x**3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    g = x.grad
    x.grad = None
    g.sum().backward()
    assert x.grad.tolist() == [6.0, 12.0]


def test_no_grad_enable_grad_set_grad_enabled():
    x = bp.tensor(1.0, requires_grad=True)
    with bp.no_grad():
        y = x * 2
        assert not bp.is_grad_enabled()
        with bp.enable_grad():
            z = x * 2
    assert bp.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad
    with bp.set_grad_enabled(False):
        assert not (x * 2).requires_grad

    @bp.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    bp.set_grad_enabled(False)
    assert not bp.is_grad_enabled()
    bp.set_grad_enabled(True)


def test_grad_mode_is_thread_local():
    seen = {}

    def worker():
        seen["enabled"] = bp.is_grad_enabled()

    with bp.no_grad():
        t = threading.Thread(target=worker)
        t.start()
        t.join()
    assert seen["enabled"] is True


def test_hooks_observe_and_replace_gradients():
    x = bp.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    seen = []
    y.register_hook(lambda g: seen.append(g.tolist()))
    h = x.register_hook(lambda g: g * 10)
    y.sum().backward()
    assert seen == [[1.0, 1.0]]
    assert x.grad.tolist() == [30.0, 30.0]
    h.remove()
    x.grad = None
    (x * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_hook_errors_propagate():
    x = bp.tensor(1.0, requires_grad=True)

    def bad(g):
        raise KeyError("boom")

    x.register_hook(bad)
    with pytest.raises(KeyError, match="boom"):
        (x * 2).backward()
    y = bp.tensor(1.0, requires_grad=True)
    y.register_hook(lambda g: "not a tensor")
    with pytest.raises(TypeError, match="hook"):
        (y * 2).backward()


def test_retain_grad_keeps_intermediate_gradients():
    x = bp.tensor(2.0, requires_grad=True)
    q = x + 1
    q.retain_grad()
    (q * q).backward()
    assert q.retains_grad and q.grad.item() == 6.0
    assert (x * 2).grad is None


def test_inplace_on_a_saved_tensor_is_detected():
    x = bp.tensor([1.0, 2.0], requires_grad=True)
    a = x * 1
    y = a * a  # saves a
    a.add_(1)
    with pytest.raises(RuntimeError, match=r"in-place.*version 1; expected version 0|version"):
        y.sum().backward()


def test_inplace_on_a_leaf_that_requires_grad_is_refused():
    w = bp.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        w.add_(1)
    with pytest.raises(RuntimeError, match="leaf"):
        w += 1
    with bp.no_grad():
        w -= 0.5
    assert w.tolist() == [0.5]


def test_inplace_on_non_leaf_rebases_history():
    x = bp.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.mul_(x)
    y += 1
    y.sum().backward()
    assert x.grad.tolist() == [4.0, 8.0]  # d(2x^2 + 1)/dx


def test_inplace_on_view_of_differentiable_tensor_is_refused():
    x = bp.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="view"):
        y[0].mul_(2)


def test_inplace_ops_bump_versions_and_see_overlap():
    x = bp.arange(4.0)
    x.add_(x)
    assert x.tolist() == [0.0, 2.0, 4.0, 6.0]
    x[1:].copy_(x[:-1].clone())
    assert x.tolist() == [0.0, 0.0, 2.0, 4.0]
    x.fill_(1.5)
    assert x.tolist() == [1.5] * 4
    with pytest.raises(bp.DTypeError, match="can't be cast"):
        bp.tensor([1, 2]).add_(0.5)


def test_long_chain_of_100k_nodes():
    x = bp.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0 + 0.0
    y.backward()
    assert x.grad.item() == 1.0
    del y
    gc.collect()


def test_branches_without_grad_compute_nothing():
    x = bp.tensor(1.0, requires_grad=True)
    c = bp.tensor(5.0)
    calls = []
    c2 = c * 2
    assert c2.grad_fn is None  # no node: nothing requires grad on this branch
    y = x * c2
    y.register_hook(lambda g: calls.append(1))
    y.backward()
    assert x.grad.item() == 10.0 and calls == [1]


def test_autograd_grad_leaves_dot_grad_alone_and_prunes():
    a = bp.tensor(2.0, requires_grad=True)
    b = bp.tensor(3.0, requires_grad=True)
    y = a * b + a
    (ga,) = bp.autograd.grad(y, a, retain_graph=True)
    assert ga.item() == 4.0 and a.grad is None and b.grad is None
    ga, gb = bp.autograd.grad(y, [a, b])
    assert (ga.item(), gb.item()) == (4.0, 2.0)


def test_autograd_grad_of_intermediates_and_unused_inputs():
    a = bp.tensor(2.0, requires_grad=True)
    q = a * 3
    y = q * q
    (gq,) = bp.autograd.grad(y, q, retain_graph=True)
    assert gq.item() == 12.0
    unused = bp.tensor(1.0, requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused"):
        bp.autograd.grad(y, [a, unused], retain_graph=True)
    ga, gu = bp.autograd.grad(y, [a, unused], allow_unused=True)
    assert ga.item() == 36.0 and gu is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        bp.autograd.grad(y, bp.tensor(1.0))


def test_backward_inputs_restricts_accumulation():
    a = bp.tensor(2.0, requires_grad=True)
    b = bp.tensor(3.0, requires_grad=True)
    (a * b).backward(inputs=[a])
    assert a.grad.item() == 3.0 and b.grad is None


def test_multiple_roots_backward():
    x = bp.tensor(2.0, requires_grad=True)
    bp.autograd.backward([x * 2, x * 3], [bp.tensor(1.0), bp.tensor(2.0)])
    assert x.grad.item() == 8.0


def test_graph_inspection():
    x = bp.tensor(1.0, requires_grad=True)
    y = bp.sigmoid(x * 2)
    assert y.grad_fn.name() == "SigmoidBackward0" and y.grad_fn.op == "sigmoid"
    (mul, _), = y.grad_fn.next_functions
    assert mul.name() == "MulBackward0"
    (leaf, _), (const, _) = mul.next_functions
    assert leaf.name() == "AccumulateGrad" and leaf.variable is not None
    assert const is None
    assert y.grad_fn.output_values[0].item() == pytest.approx(1 / (1 + np.exp(-2)))
    y.backward()
    assert y.grad_fn.output_grads[0].item() == 1.0
    assert mul.sequence_nr < y.grad_fn.sequence_nr


def test_dropping_the_graph_frees_saved_tensors():
    import weakref

    x = bp.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    z = y * y
    node = weakref.ref(z.grad_fn) if hasattr(z.grad_fn, "__weakref__") else None
    del y, z
    gc.collect()
    assert node is None or node() is None


def test_hooks_may_read_and_write_tensor_metadata_during_backward():
    # Autograd metadata is not locked (the GIL serialises access): the engine must hold no
    # borrow of it while it calls back into Python.
    x = bp.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    seen = []

    def on_y(g):
        seen.append((y.requires_grad, y.grad_fn.name(), x.grad is None))
        return g

    def on_x(g):
        seen.append(x.is_leaf)
        x.grad = bp.zeros(2)  # replaced during backward, then accumulated into
        return g

    y.register_hook(on_y)
    x.register_hook(on_x)
    y.sum().backward()
    assert seen == [(True, "MulBackward0", True), True]
    assert x.grad.tolist() == [2.0, 2.0]

    s = bp.tensor(3.0, requires_grad=True)
    s.register_hook(lambda g: g * s.item())
    (s * s).backward()  # a scalar graph with a leaf hook
    assert s.grad.item() == 18.0
