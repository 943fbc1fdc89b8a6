"""bp.viz.jacobian_image: the lecture's sparse Jacobians, pictured."""

import numpy as np
import pytest

import backprop as bp
from backprop.viz.jacobian import jacobian_matrix

pytest.importorskip("matplotlib", reason="jacobian_image needs matplotlib (pip install 'backprop[viz]')")


def pattern(fig, k=0):
    return np.asarray(fig.axes[k].images[0].get_array())


def test_elementwise_relu_has_a_diagonal_jacobian():
    fig = bp.viz.jacobian_image(bp.relu, bp.tensor([1.0, -2.0, 3.0, -1.0]))
    np.testing.assert_array_equal(pattern(fig), np.diag([True, False, True, False]))
    assert fig.axes[0].get_title() == "d out / d x: 4\u00d74, 2 non-zero (12%)"


def test_matmul_jacobians_have_block_structure():
    x = bp.tensor([[2.0, 1.0, -3.0], [-3.0, 4.0, 2.0]])
    w = bp.tensor([[3.0, 2.0, 1.0, -1.0], [2.0, 1.0, 3.0, 2.0], [3.0, 2.0, 1.0, -2.0]])
    fig = bp.viz.jacobian_image(lambda a, b: a @ b, (x, w), names=["x", "w"])
    dx, dw = pattern(fig, 0), pattern(fig, 1)
    assert dx.shape == (8, 6) and dw.shape == (8, 12)
    # y[i, j] depends on row i of x only: two 4x3 blocks on the diagonal.
    expected = np.kron(np.eye(2, dtype=bool), np.ones((4, 3), dtype=bool))
    np.testing.assert_array_equal(dx, expected & (np.tile(w.numpy().T, (2, 2)) != 0))
    # ... and on column j of w only: each output row touches 3 entries of w.
    assert (dw.sum(axis=1) == 3).all() and dw.sum() == 24


def test_values_mode_and_saving(tmp_path):
    fig = bp.viz.jacobian_image(bp.tanh, bp.tensor([0.0, 1.0, -2.0]), values=True)
    values = pattern(fig)
    np.testing.assert_allclose(np.diag(values), 1 - np.tanh([0.0, 1.0, -2.0]) ** 2, rtol=1e-6)
    fig.savefig(tmp_path / "j.png")
    assert (tmp_path / "j.png").stat().st_size > 0


def test_notebooks_show_it_without_matplotlib_inline():
    fig = bp.viz.jacobian_image(bp.relu, bp.tensor([1.0, -2.0]))
    assert fig._repr_png_().startswith(b"\x89PNG")
    assert "<svg" in fig._repr_svg_()


def test_jacobian_matrix_matches_autograd_functional():
    x = bp.tensor([0.5, -1.0])
    (m,) = jacobian_matrix(lambda t: bp.stack([t[0] * t[1], t[0] + 2 * t[1], t[1]]), x)
    np.testing.assert_allclose(m, [[-1.0, 0.5], [1.0, 2.0], [0.0, 1.0]])


def test_clear_errors():
    with pytest.raises(TypeError, match="inputs must be Tensors"):
        bp.viz.jacobian_image(bp.relu, [1.0, 2.0])
    with pytest.raises(TypeError, match="needs float inputs"):
        bp.viz.jacobian_image(bp.relu, bp.tensor([1, 2]))
    with pytest.raises(ValueError, match="never forms Jacobians this large"):
        bp.viz.jacobian_image(bp.relu, bp.zeros(2000))


def test_missing_matplotlib_says_how_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        bp.viz.jacobian_image(bp.relu, bp.tensor([1.0]))
