"""`Tensor.register_post_accumulate_grad_hook`: PyTorch's semantics (checked against torch
2.15): the hook gets the leaf once `.grad` holds the whole gradient of a `backward()`, once
per backward even when the leaf is reached by several edges; only `backward()` runs it
(not `autograd.grad`, nor a `backward(inputs=...)` that leaves the leaf out)."""

import pytest

import backprop as bp


def test_hook_sees_the_accumulated_grad_after_each_backward(device):
    x = bp.ones(2, device=device, requires_grad=True)
    seen = []
    x.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.tolist()))
    (x * 3).sum().backward()
    (x * 2).sum().backward()
    assert seen == [[3.0, 3.0], [5.0, 5.0]]  # torch: [tensor([3., 3.]), tensor([5., 5.])]


def test_hook_gets_the_leaf_itself():
    x = bp.ones(3, requires_grad=True)
    got = []
    x.register_post_accumulate_grad_hook(got.append)
    (x * x).sum().backward()
    assert len(got) == 1 and got[0]._handle_id == x._handle_id


def test_leaf_reached_by_several_edges_fires_once_with_the_total():
    w = bp.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.tolist()))
    y = (w * 2).sum() + (w * w).sum() + w.sum()  # three uses of w, on different branches
    y.backward()
    assert seen == [[5.0, 7.0]]  # 2 + 2w + 1


def test_tied_weight_in_an_mlp_fires_once():
    bp.manual_seed(0)
    lin = bp.nn.Linear(4, 4)
    seen = []
    lin.weight.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.clone()))
    x = bp.randn(3, 4)
    lin(bp.relu(lin(x))).sum().backward()
    assert len(seen) == 1 and seen[0].tolist() == lin.weight.grad.tolist()


def test_hook_runs_after_the_ordinary_tensor_hook():
    x = bp.ones(2, requires_grad=True)
    log = []
    x.register_post_accumulate_grad_hook(lambda p: log.append(("post", p.grad.tolist())))
    x.register_hook(lambda g: log.append(("pre", g.tolist())))
    (x * 2).sum().backward()
    assert log == [("pre", [2.0, 2.0]), ("post", [2.0, 2.0])]


def test_hook_may_modify_grad_in_place():
    x = bp.ones(2, requires_grad=True)

    def scale(p):
        p.grad.mul_(10)

    x.register_post_accumulate_grad_hook(scale)
    (x * 2).sum().backward()
    assert x.grad.tolist() == [20.0, 20.0]


def test_remove_stops_the_hook():
    x = bp.ones(2, requires_grad=True)
    calls = []
    h = x.register_post_accumulate_grad_hook(lambda p: calls.append(1))
    (x * 2).sum().backward()
    h.remove()
    h.remove()  # a second remove is harmless, as in PyTorch
    (x * 2).sum().backward()
    assert calls == [1]


def test_not_run_by_autograd_grad_or_by_backward_with_other_inputs():
    x = bp.ones(2, requires_grad=True)
    w = bp.ones(2, requires_grad=True)
    calls = []
    x.register_post_accumulate_grad_hook(lambda p: calls.append(1))
    bp.autograd.grad((x * 2).sum(), x)
    (x * w).sum().backward(inputs=[w])
    assert calls == []
    (x * w).sum().backward(inputs=[x])
    assert calls == [1]


def test_one_element_graphs_take_the_general_engine_so_the_hook_runs():
    """The scalar fast path declines leaves with post-accumulate hooks."""
    x = bp.tensor(3.0, requires_grad=True)
    seen = []
    x.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.item()))
    (x * x + x).backward()
    assert seen == [7.0]


def test_hook_on_a_leaf_root():
    x = bp.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    x.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.tolist()))
    x.backward(bp.tensor([1.0, 1.0]))
    assert seen == [[1.0, 1.0]]


class FirstOnly(bp.autograd.Function):
    """`a`, with no gradient at all for `b` (its backward returns None for it)."""

    @staticmethod
    def forward(ctx, a, b):
        return a * 1

    @staticmethod
    def backward(ctx, g):
        return g, None


def test_edge_that_delivers_no_gradient_still_counts():
    x = bp.tensor([1.0, -2.0], requires_grad=True)
    seen = []
    x.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.tolist()))
    FirstOnly.apply(x * 3, x).sum().backward()  # x reached twice: once with 3, once with nothing
    assert seen == [[3.0, 3.0]]


def test_leaf_behind_a_node_that_never_runs_fires_after_backward():
    x = bp.tensor([1.0, -2.0], requires_grad=True)
    seen = []
    x.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.tolist()))
    FirstOnly.apply(x * 3, x * 2).sum().backward()  # the x * 2 node gets no gradient, so never runs
    assert seen == [[3.0, 3.0]]


def test_errors_match_pytorch():
    with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't require gradient"):
        bp.ones(2).register_post_accumulate_grad_hook(lambda p: None)
    x = bp.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="post accumulate grad hooks cannot be registered on non-leaf tensors"):
        (x * 2).register_post_accumulate_grad_hook(lambda p: None)
    x.register_post_accumulate_grad_hook(lambda p: p.grad)
    with pytest.raises(RuntimeError, match="post accumulate grad hooks should return None"):
        (x * 2).sum().backward()
    z = bp.ones(2, requires_grad=True)
    z.register_post_accumulate_grad_hook(lambda p: 5)
    with pytest.raises(TypeError, match="must return None"):
        (z * 2).sum().backward()


def test_exception_in_hook_propagates():
    x = bp.ones(2, requires_grad=True)

    def boom(p):
        raise KeyError("from the hook")

    x.register_post_accumulate_grad_hook(boom)
    with pytest.raises(KeyError, match="from the hook"):
        (x * 2).sum().backward()
