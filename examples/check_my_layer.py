"""Check the gradients of a layer you wrote yourself, the way backprop checks its own ops.

`Affine` below is a hand-written layer (y = x @ w.T + b) with its own backward, and a bug
in it: the bias gradient averages the upstream gradient over the batch instead of summing
it ("copy gate adds": b is copied to every row, so its gradient is the sum). With a batch
of one the two agree, so a test at one fixed shape may well pass.

`given_gradients` lets hypothesis draw the shapes and values, compares the forward with a
NumPy reference, and compares autograd with float64 central differences. When the check
fails, hypothesis shrinks the inputs to a minimal counterexample: here, a batch of two
rows of one feature each, the smallest input that tells sum from mean.

    python examples/check_my_layer.py
"""

import numpy as np
from hypothesis import Phase, settings
from hypothesis import strategies as st

import backprop as bp
from backprop.testing import GradientCheckError, given_gradients
from backprop.testing.strategies import tensors


class Affine(bp.autograd.Function):
    """y = x @ w.T + b, with a hand-derived backward."""

    @staticmethod
    def forward(ctx, x, w, b):
        ctx.save_for_backward(x, w)
        return x @ w.T + b

    @staticmethod
    def backward(ctx, grad_y):
        x, w = ctx.saved_tensors
        return grad_y @ w, grad_y.T @ x, grad_y.sum(0)


class AffineWithBug(Affine):
    @staticmethod
    def backward(ctx, grad_y):
        x, w = ctx.saved_tensors
        return grad_y @ w, grad_y.T @ x, grad_y.mean(0)  # the bug: mean where sum is right


def numpy_affine(x, w, b):
    return x @ w.T + b


# The three inputs share their sizes: `st.shared` draws each size once per example.
batch = st.shared(st.integers(1, 4), key="batch")
features_in = st.shared(st.integers(1, 4), key="in")
features_out = st.shared(st.integers(1, 4), key="out")


def check(layer, log):
    """Runs the property test for `layer`; returns None when it holds, else the error."""
    shapes_seen = []  # every call: hypothesis's draws and check_gradients' evaluations

    # derandomize: the same examples on every run; no explain phase: the message is enough
    @settings(max_examples=60, deadline=None, database=None, derandomize=True, phases=(Phase.generate, Phase.shrink))
    @given_gradients(
        x=tensors(dtype="float64", shape=st.tuples(batch, features_in)),
        w=tensors(dtype="float64", shape=st.tuples(features_out, features_in)),
        b=tensors(dtype="float64", shape=st.tuples(features_out)),
    )
    def test_affine(x, w, b):
        shapes_seen.append((tuple(x.shape), tuple(w.shape), tuple(b.shape)))
        reference = numpy_affine(*(t.detach().numpy() for t in (x, w, b)))
        return layer.apply(x, w, b), reference

    try:
        test_affine()
    except GradientCheckError as error:
        log(f"{layer.__name__}: the gradient check FAILS.\n")
        log(str(error))
        for note in getattr(error, "__notes__", []):
            log(note)
        x_shape, w_shape, b_shape = shapes_seen[-1]  # hypothesis replays the minimal example last
        log(f"\nMinimal counterexample: x {x_shape}, w {w_shape}, b {b_shape}")
        return error
    log(f"{layer.__name__}: the gradient check passes on every example drawn.")
    return None


def main(log=print):
    found = check(AffineWithBug, log)
    log("")
    check(Affine, log)
    return found


if __name__ == "__main__":
    main()
