"""Optional dependencies of `backprop.viz`, imported on first use with install hints.

`import backprop` (and `import backprop.viz`) must stay fast and work without them.
"""

GRAPHVIZ_HINT = (
    "backprop.viz.draw needs the `graphviz` Python package: pip install graphviz "
    "(or pip install 'backprop[viz]'). Rendering pictures also needs Graphviz's `dot` program: "
    "sudo apt-get install graphviz (Debian/Ubuntu), brew install graphviz (macOS), "
    "conda install -c conda-forge graphviz, or https://graphviz.org/download/"
)

DOT_HINT = (
    "Graphviz's `dot` program was not found, so the picture cannot be rendered "
    "(the DOT source is still available as `.source`). Install Graphviz: "
    "sudo apt-get install graphviz (Debian/Ubuntu), brew install graphviz (macOS), "
    "conda install -c conda-forge graphviz, or https://graphviz.org/download/ ; "
    "then make sure `dot -V` works in a terminal"
)

MATPLOTLIB_HINT = (
    "backprop.viz.jacobian_image needs matplotlib: pip install matplotlib "
    "(or pip install 'backprop[viz]')"
)


class DotNotFoundError(RuntimeError):
    """Graphviz's `dot` program is missing: the picture exists but cannot be rendered."""


def graphviz():
    try:
        import graphviz
    except ImportError as e:
        raise ImportError(GRAPHVIZ_HINT) from e
    return graphviz


def matplotlib_figure():
    """`matplotlib.figure.Figure` (no pyplot: no GUI backend, no global figure state)."""
    try:
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError(MATPLOTLIB_HINT) from e
    return Figure


def dot_available():
    """Whether Graphviz's `dot` program can be run."""
    import shutil

    return shutil.which("dot") is not None
