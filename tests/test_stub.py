"""The shipped type stub (`_core.pyi`) covers the compiled module: regenerate it with
`python tools/gen_core_stub.py` after changing the binding."""

import ast
import pathlib

import backprop
import backprop._core as C
from backprop._tensor_names import lacking_names

STUB = pathlib.Path(backprop.__file__).parent / "_core.pyi"


def _stub_names():
    tree = ast.parse(STUB.read_text())
    top, members = set(), {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            top.add(node.name)
            members[node.name] = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
        elif isinstance(node, ast.FunctionDef):
            top.add(node.name)
        elif isinstance(node, ast.AnnAssign):
            top.add(node.target.id)
    return top, members


def test_stub_covers_the_module():
    top, members = _stub_names()
    public = {n for n in vars(C) if not n.startswith("__")}
    assert public - top == set(), "regenerate python/backprop/_core.pyi with tools/gen_core_stub.py"
    lacking = set(lacking_names(C.Tensor))
    assert lacking, "the names PyTorch's Tensor has and backprop's lacks are marked"
    tensor_api = {n for n in vars(C.Tensor) if not n.startswith("__")} - lacking
    assert tensor_api - members["Tensor"] == set()


def test_stub_and_marker_ship_with_the_package():
    assert STUB.exists()
    assert (STUB.parent / "py.typed").exists()


def test_every_public_name_is_exported_for_type_checkers():
    """`mypy --strict` sees only `__all__` (or `import x as x`) as re-exported: a public name
    missing there is an error in every strictly checked script that uses it."""
    import inspect

    public = {n for n, v in vars(backprop).items() if not n.startswith("_") and not inspect.ismodule(v)}
    assert public - set(backprop.__all__) == set(), "add the name to __all__ in python/backprop/__init__.py"
