"""`backprop.utils.checkpoint`: recompute in backward, same gradients as without it."""

import numpy as np
import pytest

import backprop as bp
import backprop.nn as nn
from backprop.utils.checkpoint import checkpoint, checkpoint_sequential
from conftest import assert_close, on, to_np


class Counting(nn.Module):
    """A block that counts its forward calls."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.fc = nn.Linear(n_in, n_out)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.fc(x).tanh()


def _grads(model, *tensors):
    return [to_np(p.grad) for p in model.parameters()] + [to_np(t.grad) for t in tensors]


def test_recomputes_in_backward_and_matches_plain_gradients():
    bp.manual_seed(0)
    block = Counting(4, 3)
    head = nn.Linear(3, 1)
    x = bp.randn(5, 4, requires_grad=True)

    head(block(x)).sum().backward()
    plain = _grads(block, x) + [to_np(p.grad) for p in head.parameters()]
    assert block.calls == 1
    for p in [*block.parameters(), *head.parameters()]:
        p.grad = None
    x.grad = None
    block.calls = 0

    hidden = checkpoint(block, x, use_reentrant=False)
    assert block.calls == 1
    # nothing of the segment is kept: the output's node is the checkpoint itself, whose only
    # saved tensors are the inputs and parameters
    assert type(hidden.grad_fn).__name__ != "TanhBackward0" and "Checkpoint" in hidden.grad_fn.name()
    head(hidden).sum().backward()
    assert block.calls == 2  # the forward ran again during backward
    got = _grads(block, x) + [to_np(p.grad) for p in head.parameters()]
    for g, w in zip(got, plain):
        assert_close(g, w, atol=1e-6)


def test_autograd_grad_sees_inputs_and_module_parameters(device):
    bp.manual_seed(1)
    block = Counting(3, 3).to(device)
    x = on(device, np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32), requires_grad=True)
    params = list(block.parameters())
    want = bp.autograd.grad((block(x) ** 2).sum(), [x, *params])
    got = bp.autograd.grad((checkpoint(block, x) ** 2).sum(), [x, *params])
    for g, w in zip(got, want):
        assert_close(g, to_np(w), atol=1e-5)


def test_plain_function_closures_and_non_tensor_arguments():
    w = bp.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=bp.float64, requires_grad=True)
    calls = []

    def segment(x, power, shift=0.0):
        calls.append(1)
        return ((x @ w) ** power + shift).sum(-1)

    x = bp.tensor([[0.5, -1.0]], dtype=bp.float64, requires_grad=True)
    out = checkpoint(segment, x, 2, shift=1.0)
    out.sum().backward()
    assert len(calls) == 2
    xw = x.detach().numpy() @ w.detach().numpy()
    assert_close(x.grad, (2 * xw) @ w.detach().numpy().T)
    assert_close(w.grad, x.detach().numpy().T @ (2 * xw))  # the closure's leaf accumulates too


def test_dropout_masks_are_the_same_in_the_recomputation():
    bp.manual_seed(3)
    drop = nn.Dropout(0.5)
    x = bp.ones(200, requires_grad=True)
    out = checkpoint(drop, x)
    out.sum().backward()
    # the gradient is the mask of the forward (scaled by 2): it agrees with the output exactly
    assert_close(x.grad, to_np(out))
    assert 50 < (to_np(out) == 0).sum() < 150


def test_no_grad_mode_and_no_requires_grad_just_run():
    block = Counting(2, 2)
    with bp.no_grad():
        out = checkpoint(block, bp.ones(1, 2))
    assert out.grad_fn is None and block.calls == 1


def test_checkpoint_sequential():
    bp.manual_seed(4)
    model = nn.Sequential(*[Counting(3, 3) for _ in range(4)])
    x = bp.randn(2, 3, requires_grad=True)
    model(x).sum().backward()
    want = _grads(model, x)
    model.zero_grad()
    x.grad = None
    out = checkpoint_sequential(model, 2, x, use_reentrant=False)
    assert [m.calls for m in model] == [2, 2, 2, 2]
    out.sum().backward()
    # the first segment is checkpointed (run again), the last is not
    assert [m.calls for m in model] == [3, 3, 2, 2]
    for g, w in zip(_grads(model, x), want):
        assert_close(g, w, atol=1e-6)
    with pytest.raises(ValueError, match="segments"):
        checkpoint_sequential(model, 0, x)


def test_unsupported_options_say_so():
    with pytest.raises(NotImplementedError, match="context_fn"):
        checkpoint(lambda a: a, bp.ones(1), context_fn=lambda: None)
