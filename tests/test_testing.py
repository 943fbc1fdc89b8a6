"""backprop.testing tests itself: a correct op passes; ops with a wrong vjp (sign flip,
missing factor, wrong broadcast reduction, wrong second derivative) are caught with the
failing input shrunk; assert_close says what it finds; the strategies and make_tensor
produce what they promise."""

import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

import backprop as bp
from conftest import Square, _plugin_installed
from backprop.testing import GradientCheckError, assert_close, check_gradients, given_gradients, make_tensor
from backprop.testing.strategies import arrays, away_from, axes, broadcastable_shapes, dtypes, shapes, tensors

Function = bp.autograd.Function
SHRINK_ONLY = (Phase.generate, Phase.shrink)  # no explain phase: it reruns the test many times


# --- ops with a right and with wrong backwards -------------------------------------------


class SquareSignFlipped(Square):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return -2 * x * g


class SquareMissingFactor(Square):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return x * g


class BroadcastAdd(Function):
    """a + b with b broadcast; the engine sums b's gradient down to b's shape."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.b_shape = tuple(b.shape)
        return a + b

    @staticmethod
    def backward(ctx, g):
        return g, g


class BroadcastAddMeanReduced(BroadcastAdd):
    """Reduces b's gradient by a mean over the broadcast dimensions: right only where
    nothing is broadcast."""

    @staticmethod
    def backward(ctx, g):
        shape = ctx.b_shape
        lead = g.dim() - len(shape)
        dims = list(range(lead)) + [lead + i for i, d in enumerate(shape) if d == 1 and g.shape[lead + i] != 1]
        gb = g.mean(dim=tuple(dims), keepdim=True) if dims else g
        return g, gb.reshape(shape)


class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x * x * g


class CubeDetachedBackward(Cube):
    """First derivative right, second derivative zero: the backward is not differentiable."""

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x.detach() * x.detach() * g


def test_a_correct_op_passes_every_check(device):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal(3)
    check_gradients(
        lambda x, y: x * y + bp.tanh(x),
        a,
        b,
        numpy_fn=lambda x, y: x * y + np.tanh(x),
        numpy_vjp=lambda g, x, y: [g * y + g * (1 - np.tanh(x) ** 2), g * x],  # b's in broadcast shape
        devices=(device,),
        order=2,
    )


@pytest.mark.parametrize("bad", [SquareSignFlipped, SquareMissingFactor], ids=["sign_flip", "missing_factor"])
def test_a_wrong_vjp_is_caught_with_the_input_shrunk(bad):
    seen = []

    @settings(max_examples=50, database=None, phases=SHRINK_ONLY)
    @given_gradients(x=tensors(dtype="float64", shape=shapes(min_dims=0, max_dims=3)))
    def check(x):
        seen.append(tuple(x.shape))
        return bad.apply(x)

    with pytest.raises(GradientCheckError, match="differs from float64 central differences"):
        check()
    assert seen[-1] == ()  # shrunk to a 0-d tensor: one element is enough to show it
    check_gradients(Square.apply, np.array([0.5, -1.5]))  # and the right one passes


def test_a_wrong_broadcast_reduction_is_caught_at_the_smallest_broadcast():
    seen = []

    @settings(max_examples=100, database=None, phases=SHRINK_ONLY)
    @given(pair=broadcastable_shapes(2, min_dims=1, max_dims=2, max_side=3), data=st.data())
    def check(pair, data):
        a = data.draw(arrays(shape=pair[0], elements=away_from([0.0], 0.1)))
        b = data.draw(arrays(shape=pair[1], elements=away_from([0.0], 0.1)))
        seen.append((a.shape, b.shape))
        check_gradients(BroadcastAddMeanReduced.apply, a, b)

    with pytest.raises(GradientCheckError, match="input 1"):
        check()
    a_shape, b_shape = seen[-1]
    out = np.broadcast_shapes(a_shape, b_shape)
    assert math.prod(out) == 2 and math.prod(b_shape) == 1  # one broadcast dimension of size 2
    check_gradients(BroadcastAdd.apply, np.ones((2, 3)), np.ones(3))


def test_a_wrong_second_derivative_is_caught_only_at_order_2():
    x = np.array([0.7, -1.2])
    check_gradients(CubeDetachedBackward.apply, x, order=1)
    check_gradients(Cube.apply, x, order=2)
    seen = []

    @settings(max_examples=50, database=None, phases=SHRINK_ONLY)
    @given_gradients(x=tensors(dtype="float64", shape=shapes(min_dims=0, max_dims=3)), order=2)
    def check(x):
        seen.append(tuple(x.shape))
        return CubeDetachedBackward.apply(x)

    with pytest.raises(GradientCheckError, match="the first derivative of fn on cpu in float64"):
        check()
    assert seen[-1] == ()


def test_every_failing_input_is_reported():
    def both_wrong(a, b):
        return SquareSignFlipped.apply(a) + SquareMissingFactor.apply(b)

    with pytest.raises(GradientCheckError) as err:
        check_gradients(both_wrong, np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    assert "gradient of input 0" in str(err.value) and "gradient of input 1" in str(err.value)


def test_the_error_shows_the_jacobian_blocks_the_worst_element_and_the_inputs():
    with pytest.raises(GradientCheckError) as err:
        check_gradients(lambda a, c: SquareMissingFactor.apply(a), np.array([[1.0, 2.0], [3.0, 4.0]]), bp.tensor([5.0, 6.0]))
    text = str(err.value)
    assert "fn on cpu in float64: the gradient of input 0 (shape (2, 2))" in text
    assert "analytic (autograd):" in text and "numeric (central differences):" in text
    # d out[1,1] / d in[1,1] = 2 * 4 by differences, 4 by the wrong backward: the worst element
    assert "Worst element: d out[1, 1] / d in[1, 1]: autograd 4, central differences 8" in text
    assert "input 0 (differentiated): shape (2, 2)" in text and "input 1 (constant)" in text


def test_forward_and_numpy_vjp_mismatches_are_reported():
    x = np.array([0.5, 1.0, 2.0])
    with pytest.raises(GradientCheckError, match=r"forward of fn on cpu in float64: output 0 differs from numpy_fn"):
        check_gradients(bp.exp, x, numpy_fn=lambda a: np.exp(a) * 1.001)
    with pytest.raises(GradientCheckError, match=r"gradient of input 0 \(shape \(3,\)\) differs from numpy_vjp"):
        check_gradients(bp.exp, x, numpy_vjp=lambda g, a: [g * np.exp(a) * 2])
    with pytest.raises(GradientCheckError, match="has shape"):
        check_gradients(lambda a: a.sum(), x, numpy_fn=lambda a: np.ones(2))


def test_inputs_keep_their_roles_and_layout(device):
    rng = np.random.default_rng(3)
    x = make_tensor(3, 4, dtype=bp.float64, device="cpu", noncontiguous=True, requires_grad=True)
    labels = bp.tensor([0, 3, 1])
    seen = []

    def loss(t, y, reduction):
        seen.append((t.is_contiguous(), t.device.type, y.dtype, reduction))
        return bp.nn.functional.cross_entropy(t, y, reduction=reduction)

    check_gradients(loss, x, labels, "sum", devices=(device,))
    assert all(not c and y == bp.int64 and r == "sum" for c, _, y, r in seen)
    assert device in {d for _, d, _, _ in seen}  # central differences run on the CPU
    # a float tensor without requires_grad is a constant, in the dtype of the run
    w = bp.tensor(rng.standard_normal(4))
    check_gradients(lambda a, b: a * b, rng.standard_normal((2, 4)), w, devices=(device,))
    with pytest.raises(ValueError, match="no input to differentiate"):
        check_gradients(lambda a: a * 2, bp.ones(3))


def test_tolerances_per_dtype_and_upstream():
    x = np.array([1.0, 2.0])
    check_gradients(lambda a: a * 3, x, dtypes=("float32", "float64"), rtol={"float32": 1e-4}, upstream=np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="upstream 0 has shape"):
        check_gradients(lambda a: a * 3, x, upstream=np.ones(3))
    with pytest.raises(ValueError, match="order"):
        check_gradients(lambda a: a * 3, x, order=3)
    with pytest.raises(ValueError, match="can run on gpu"):
        check_gradients(lambda a: a * 3, x, devices=("gpu",), dtypes=("float64",))


# --- given_gradients -------------------------------------------------------------------


def np_smooth_l1(x, y):
    d = np.abs(x - y)
    return np.where(d < 1, 0.5 * d**2, d - 0.5).mean()


@given_gradients(x=tensors(shape=(2, 3), elements=away_from([0.0], 0.05, low=-0.9, high=0.9)), y=tensors(shape=(3,), elements=st.just(0.0)))
def test_given_gradients_checks_a_loss_against_its_numpy_reference(x, y, bp_device):
    out = bp.nn.functional.mse_loss(x, y.expand(2, 3)) / 2  # smooth-L1 with |x - y| < 1
    return out, np_smooth_l1(np.asarray(x.detach()), np.asarray(y.detach()))


def test_given_gradients_rejects_unknown_options():
    with pytest.raises(TypeError, match="neither hypothesis strategies nor check_gradients options"):
        given_gradients(x=tensors(), tolerance=1e-3)
    with pytest.raises(TypeError, match="no argument"):
        given_gradients(z=tensors())(lambda x: x)


# --- assert_close ----------------------------------------------------------------------


def test_assert_close_message_counts_and_locates_the_mismatches():
    with pytest.raises(AssertionError) as err:
        assert_close(bp.tensor([[1.0, 2.0], [3.0, 4.0]]), bp.tensor([[1.0, 2.0], [3.0, 0.0]]))
    assert str(err.value).startswith(
        "Tensor-likes are not close!\n\n"
        "Mismatched elements: 1 / 4 (25.0%)\n"
        "Greatest absolute difference: 4 at index (1, 1) (up to 1e-05 allowed)\n"
        "Greatest relative difference: inf at index (1, 1) (up to 1.3e-06 allowed)\n"
    )
    assert "(1, 1): 4.0 vs 0.0" in str(err.value)
    with pytest.raises(AssertionError, match=r"Mismatched elements: 2 / 3 \(66.7%\)"):
        assert_close(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.5, 3.1]))


def test_assert_close_default_tolerances_follow_the_dtype():
    assert_close(bp.tensor([1.0]), bp.tensor([1.0 + 1e-6]))  # float32: rtol 1.3e-6
    with pytest.raises(AssertionError, match="up to 1e-07 allowed"):
        assert_close(bp.tensor([1.0], dtype=bp.float64), bp.tensor([1.0 + 1e-6], dtype=bp.float64))
    with pytest.raises(AssertionError, match="Tensor-likes are not equal!"):
        assert_close(bp.tensor([1, 2]), bp.tensor([1, 3]))
    assert_close(np.array([2**62 + 1]), np.array([2**62 + 1]))
    with pytest.raises(AssertionError):
        assert_close(np.array([2**62 + 1]), np.array([2**62]))  # no float64 round trip
    assert_close(bp.tensor([1.0]), bp.tensor([1.5]), rtol=0.0, atol=0.5)
    with pytest.raises(ValueError, match="Both 'rtol' and 'atol'"):
        assert_close(bp.tensor([1.0]), bp.tensor([1.0]), rtol=1e-3)


def test_assert_close_checks_shape_dtype_device_and_nan(device):
    with pytest.raises(AssertionError, match=r"attribute 'shape' do not match: \(2,\) != \(3,\)"):
        assert_close(bp.zeros(2), bp.zeros(3))
    with pytest.raises(AssertionError, match="attribute 'dtype' do not match: backprop.float32 != backprop.float64"):
        assert_close(bp.zeros(2), bp.zeros(2, dtype=bp.float64))
    assert_close(bp.zeros(2), np.zeros(2), check_dtype=False)
    if device == "gpu":
        with pytest.raises(AssertionError, match="attribute 'device' do not match: gpu != cpu"):
            assert_close(bp.zeros(2, device="gpu"), bp.zeros(2))
        assert_close(bp.zeros(2, device="gpu"), bp.zeros(2), check_device=False)
    nan = float("nan")
    with pytest.raises(AssertionError, match="Greatest absolute difference: nan"):
        assert_close(bp.tensor([nan]), bp.tensor([nan]))
    assert_close(bp.tensor([nan, 1.0]), bp.tensor([nan, 1.0]), equal_nan=True)
    assert_close(bp.tensor([float("inf")]), bp.tensor([float("inf")]))
    with pytest.raises(AssertionError):
        assert_close(bp.tensor([float("inf")]), bp.tensor([-float("inf")]))


def test_assert_close_scalars_sequences_mappings_and_msg():
    assert_close(1.0, 1.0 + 1e-9)
    with pytest.raises(AssertionError, match=r"Scalars are not close!\n\nExpected 1.1 but got 1.0."):
        assert_close(1.0, 1.1)
    with pytest.raises(AssertionError, match=r"\(d\)types do not match"):
        assert_close(1, 1.0)
    with pytest.raises(AssertionError, match=r"The failure occurred for item \[1\]"):
        assert_close([1.0, 2.0], [1.0, 2.5])
    with pytest.raises(AssertionError, match=r"item \[0\]\['w'\]"):
        assert_close([{"w": bp.ones(2)}], [{"w": bp.zeros(2)}])
    with pytest.raises(AssertionError, match="length of the sequences mismatch: 1 != 2"):
        assert_close([1.0], [1.0, 2.0])
    with pytest.raises(AssertionError, match="^custom$"):
        assert_close(bp.tensor([1.0]), bp.tensor([2.0]), msg="custom")
    with pytest.raises(AssertionError, match="^wrapped: Tensor-likes"):
        assert_close(bp.tensor([1.0]), bp.tensor([2.0]), msg=lambda m: "wrapped: " + m)
    with pytest.raises(TypeError, match="No comparison pair"):
        assert_close(bp.tensor(1.0), 1.0)


# --- make_tensor -----------------------------------------------------------------------


def test_make_tensor_ranges_dtypes_and_flags(device):
    bp.manual_seed(0)
    t = make_tensor(50, 4, dtype=bp.float32, device=device, low=-2, high=3)
    v = t.numpy() if device == "cpu" else t.cpu().numpy()
    assert t.shape == (50, 4) and t.dtype == bp.float32 and t.device.type == device
    assert v.min() >= -2 and v.max() < 3 and v.std() > 0.5
    i = make_tensor((200,), dtype=bp.int64, device=device)
    assert -9 <= i.cpu().numpy().min() and i.cpu().numpy().max() <= 9
    n = make_tensor(3, 4, dtype=bp.float32, device=device, noncontiguous=True)
    assert not n.is_contiguous() and n.shape == (3, 4)
    assert make_tensor(1, dtype=bp.float32, device=device, noncontiguous=True).is_contiguous()  # one element
    z = make_tensor(100, dtype=bp.int64, device=device, low=0, high=2, exclude_zero=True)
    assert (z.cpu().numpy() == 1).all()
    g = make_tensor(2, dtype=bp.float32, device=device, requires_grad=True)
    assert g.requires_grad and g.is_leaf
    assert (make_tensor(3, dtype=bp.float32, device=device, low=2.0, high=2.0).cpu().numpy() == 2.0).all()
    assert make_tensor(30, dtype=bp.bool, device=device).dtype == bp.bool


def test_make_tensor_errors_are_pytorchs():
    with pytest.raises(ValueError, match="`low` must be less than `high`, but got 3 >= 1"):
        make_tensor(2, dtype=bp.float32, device="cpu", low=3, high=1)
    with pytest.raises(ValueError, match="cannot be NaN"):
        make_tensor(2, dtype=bp.float32, device="cpu", low=float("nan"))
    with pytest.raises(ValueError, match="requires_grad=True` is not supported"):
        make_tensor(2, dtype=bp.int64, device="cpu", requires_grad=True)
    f = make_tensor(100, dtype=bp.float32, device="cpu", low=-1e-30, high=1e-30, exclude_zero=True)
    assert (f.numpy() != 0).all()


# --- strategies ------------------------------------------------------------------------


@settings(max_examples=40)
@given(shape=shapes(min_dims=1, max_dims=3, min_side=2, max_side=5), pair=broadcastable_shapes(3, max_dims=3))
def test_shapes_stay_in_bounds_and_broadcastable_shapes_broadcast(shape, pair):
    assert 1 <= len(shape) <= 3 and all(2 <= s <= 5 for s in shape)
    assert len(pair) == 3
    want = np.broadcast_shapes(*pair)
    got = (bp.zeros(*pair[0]) + bp.zeros(*pair[1]) + bp.zeros(*pair[2])).shape
    assert tuple(got) == want


@settings(max_examples=30)
@given(t=tensors(shape=shapes(min_dims=1, min_side=2), noncontiguous=True, requires_grad=True), data=st.data())
def test_tensors_are_what_they_promise(t, data):
    assert not t.is_contiguous() and t.requires_grad and t.dtype == bp.float32
    v = t.detach().numpy()
    assert np.all(np.abs(v) <= 9)
    ax = data.draw(axes(t.dim(), min_size=1))
    assert len({d % t.dim() for d in ax}) == len(ax) >= 1 and all(-t.dim() <= d < t.dim() for d in ax)
    assert_close(t.sum(dim=ax), v.sum(axis=ax), rtol=1e-5, atol=1e-5)  # the view reads the right elements


@settings(max_examples=60)
@given(x=away_from([0.0, 1.0], 0.05, low=-1.0, high=2.0), d=dtypes(device="gpu"), e=dtypes())
def test_away_from_keeps_its_margin_and_dtypes_fit_the_device(x, d, e):
    assert -1.0 <= x <= 2.0 and abs(x) >= 0.05 and abs(x - 1.0) >= 0.05
    assert d == bp.float32 and e in (bp.float32, bp.float64)


# --- the pytest plugin -----------------------------------------------------------------


def _run_pytest(tmp_path, *args, env=None):
    (tmp_path / "test_demo.py").write_text(
        textwrap.dedent(
            """
            import backprop as bp
            from hypothesis import settings
            from backprop.testing import given_gradients
            from backprop.testing.strategies import tensors

            def test_on_each_device(bp_device):
                assert bp.ones(2, device=bp_device).sum().item() == 2.0

            @settings(max_examples=5)
            @given_gradients(x=tensors(shape=(2,)))
            def test_drawn_on_each_device(x, bp_device):
                return x * x
            """
        )
    )
    # An installed backprop registers the plugin by entry point and imports from site-packages
    # (a source tree has no compiled engine there); naming the plugin again with -p is an error
    # ("Plugin already registered"). Only a source-tree run puts python/ on the path and uses -p.
    e = dict(os.environ)
    load = []
    if not _plugin_installed():
        python_dir = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "python"))
        e["PYTHONPATH"] = os.pathsep.join([python_dir, os.environ.get("PYTHONPATH", "")])
        load = ["-p", "backprop.testing.pytest_plugin"]
    e.update(env or {})
    cmd = [sys.executable, "-m", "pytest", *load, "-q", "-rs", "-p", "no:cacheprovider", str(tmp_path), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=e, cwd=tmp_path, timeout=120)


def test_the_plugin_runs_bp_device_on_the_cpu_and_honours_bp_gpu_off(tmp_path):
    r = _run_pytest(tmp_path, "--bp-gpu=off")
    assert "2 passed, 2 skipped" in r.stdout, r.stdout + r.stderr
    assert "--bp-gpu=off" in r.stdout


def test_the_plugin_runs_gpu_cases_when_an_adapter_is_available(tmp_path):
    if not bp.gpu.is_available():
        pytest.skip(f"no GPU adapter: {bp.gpu.unavailable_reason()}")
    r = _run_pytest(tmp_path, "--bp-gpu=require")
    assert "4 passed" in r.stdout, r.stdout + r.stderr


def test_the_plugin_fails_a_missing_adapter_it_was_asked_for(tmp_path):
    r = _run_pytest(tmp_path, "--bp-gpu=no-such-adapter-name")
    assert "2 passed" in r.stdout and "2 errors" in r.stdout, r.stdout + r.stderr
    assert "--bp-gpu=no-such-adapter-name asks for a GPU" in r.stdout
