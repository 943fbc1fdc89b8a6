"""`jacobian_image(f, x)`: the Jacobian of `f` at `x` as a picture of its non-zeros. The
lecture's point: these matrices are huge and mostly zero (diagonal for elementwise ops,
blocks for matmul), so backprop never forms them; it multiplies by them implicitly."""

MAX_ENTRIES = 1_000_000


def jacobian_matrix(f, x):
    """The Jacobian of `f` at each input as a 2-D NumPy array [output elements, input
    elements] (a list, one per input; `x` is a tensor or a tuple of tensors)."""
    import backprop as bp
    from backprop.autograd.functional import jacobian

    xs = tuple(x) if isinstance(x, (tuple, list)) else (x,)
    for k, t in enumerate(xs):
        if not isinstance(t, bp.Tensor):
            raise TypeError(f"jacobian_image: inputs must be Tensors, got {type(t).__name__} for input {k}")
        if not t.is_floating_point():
            raise TypeError(f"jacobian_image: input {k} has dtype {t.dtype.name}; a Jacobian needs float inputs (use .float())")
    with bp.no_grad():
        out = f(*xs)
    if not isinstance(out, bp.Tensor):
        raise TypeError(f"jacobian_image: f must return a single Tensor, got {type(out).__name__}")
    entries = out.numel() * sum(t.numel() for t in xs)
    if entries > MAX_ENTRIES:
        raise ValueError(
            f"jacobian_image: the Jacobian would have {entries:,} entries (more than {MAX_ENTRIES:,}); backprop never "
            f"forms Jacobians this large, and neither should a picture: try a smaller example"
        )
    jac = jacobian(f, xs)
    return [j.detach().cpu().numpy().reshape(out.numel(), t.numel()) for t, j in zip(xs, jac)]


_PICTURE_CLASSES = {}


def _picture_class(figure_class):
    """A Figure that renders itself in notebooks: a plain `Figure` made without pyplot has no
    display hook, so without `%matplotlib inline` Jupyter would print its repr instead."""
    if figure_class not in _PICTURE_CLASSES:

        class JacobianFigure(figure_class):
            def _render(self, fmt):
                import io

                buf = io.BytesIO()
                self.savefig(buf, format=fmt)
                return buf.getvalue()

            def _repr_png_(self):
                return self._render("png")

            def _repr_svg_(self):
                return self._render("svg").decode("utf-8")

        _PICTURE_CLASSES[figure_class] = JacobianFigure
    return _PICTURE_CLASSES[figure_class]


def jacobian_image(f, x, values=False, names=None, figsize=None):
    """Plots the sparsity pattern of the Jacobian of `f` at `x` (one panel per input when
    `x` is a tuple): a dark cell where d output[i] / d input[j] is not zero. With
    `values=True` the cells show the values instead (red positive, blue negative). Each
    panel's title gives the Jacobian's shape and how many of its entries are non-zero.

        bp.viz.jacobian_image(bp.relu, bp.tensor([1.0, -2.0, 3.0, -1.0]))  # a diagonal
        bp.viz.jacobian_image(lambda x, w: x @ w, (x, w))                # blocks

    Returns a `matplotlib.figure.Figure` (save it with `.savefig(path)`) that notebooks show
    by themselves (it has `_repr_png_` and `_repr_svg_`; no `%matplotlib inline` needed).
    Needs matplotlib. Jacobians with more than a million entries are refused: the lecture's
    point is that real ones are far too large to form."""
    from backprop.viz import _deps

    Figure = _picture_class(_deps.matplotlib_figure())
    mats = jacobian_matrix(f, x)
    if names is None:
        names = ["x"] if len(mats) == 1 else [f"x{k}" for k in range(len(mats))]
    if len(names) != len(mats):
        raise ValueError(f"jacobian_image: got {len(names)} names for {len(mats)} inputs")
    import numpy as np

    width = sum(max(m.shape[1], 1) for m in mats)
    height = max(max(m.shape[0], 1) for m in mats)
    if figsize is None:
        cell = min(0.35, 6.0 / max(width, height))  # inches per Jacobian entry
        figsize = (width * cell + 1.8 * len(mats), height * cell + 1.3)
    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(1, len(mats), squeeze=False)[0]
    for ax, m, name in zip(axes, mats, names):
        nonzero = m != 0
        if values:
            limit = float(np.abs(m).max()) or 1.0
            image = ax.imshow(m, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
            fig.colorbar(image, ax=ax, shrink=0.8)
        else:
            ax.imshow(nonzero, cmap="Greys", vmin=0, vmax=1, interpolation="nearest")
        count = int(nonzero.sum())
        share = count / m.size if m.size else 0.0
        ax.set_title(f"d out / d {name}: {m.shape[0]}\u00d7{m.shape[1]}, {count} non-zero ({share:.0%})", fontsize=9)
        ax.set_xlabel(f"{name} element")
        ax.set_ylabel("output element")
        for axis, n in ((ax.xaxis, m.shape[1]), (ax.yaxis, m.shape[0])):
            if n <= 16:
                axis.set_ticks(range(n))
            if n <= 40:  # cell borders, so single entries read as cells
                axis.set_ticks(np.arange(-0.5, n, 1.0), minor=True)
            axis.set_tick_params(labelsize=8)
            axis.set_tick_params(which="minor", length=0)
        if max(m.shape) <= 40:
            ax.grid(which="minor", color="#d0d7de", linewidth=0.5)
    return fig
