"""Every public function, class, method and property of the API has a docstring, so `help()`
and the docs site (built from these docstrings) say what each one does.

A method without its own docstring passes when it overrides a documented one (`forward`,
`extra_repr`, `step`, ...): `inspect.getdoc`, which `help()` uses too, inherits it.
"""

import importlib
import inspect

import pytest

MODULES = [
    "backprop",
    "backprop.nn",
    "backprop.nn.functional",
    "backprop.nn.init",
    "backprop.nn.utils",
    "backprop.nn.utils.parametrize",
    "backprop.nn.utils.parametrizations",
    "backprop.optim",
    "backprop.optim.lr_scheduler",
    "backprop.optim.swa_utils",
    "backprop.data",
    "backprop.linalg",
    "backprop.func",
    "backprop.autograd",
    "backprop.autograd.functional",
    "backprop.distributed",
    "backprop.testing",
    "backprop.viz",
    "backprop.gpu",
    "backprop.cuda",
]

# Public names that may go without a docstring of their own, each with its reason: none now.
# The elementwise ops generated from the op table (rust/ops/table.rs: `exp`, `log1p`, `silu`,
# ...) take their docstrings from the table's doc column, which a row cannot leave out (it does
# not compile without one); the Tensor methods of the binding's macro lists carry theirs.
ALLOWED: frozenset[str] = frozenset()


def _is_ours(obj):
    module = getattr(obj, "__module__", None) or ""
    if module.startswith("backprop"):
        return True
    # Rust bindings report the module pyo3 gave them: `backprop` or `builtins` for functions.
    return type(obj).__name__ in ("builtin_function_or_method", "method_descriptor") and (getattr(obj, "__self__", None) is None or getattr(getattr(obj, "__self__", None), "__name__", "").startswith("backprop"))


def _public(module):
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    for name in names:
        obj = getattr(module, name)
        if inspect.ismodule(obj):
            continue
        if isinstance(obj, type) or callable(obj):
            yield name, obj


def _members(cls):
    for name, attr in vars(cls).items():
        if name.startswith("_") and not (name.startswith("__") and name.endswith("__")):
            continue
        if isinstance(attr, (staticmethod, classmethod)):
            attr = attr.__func__
        kind = type(attr).__name__
        if kind == "member_descriptor":
            continue  # a __slots__ field: the class docstring describes its fields
        if kind in ("getset_descriptor", "property") or callable(attr):
            if name.startswith("__"):
                # Operators and protocols (`__add__`, `__len__`, `__init__`, ...): Python's
                # data model documents them; the class docstring says what they mean here.
                continue
            yield name, attr


def _doc(owner, name, attr):
    if isinstance(attr, property) or type(attr).__name__ == "getset_descriptor":
        return attr.__doc__
    if owner is not None:
        return inspect.getdoc(getattr(owner, name))
    return inspect.getdoc(attr)


def missing_docstrings():
    missing, seen = [], set()
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name, obj in _public(module):
            if not _is_ours(obj) or id(obj) in seen:
                continue
            seen.add(id(obj))
            qual = f"{module_name}.{name}"
            if qual in ALLOWED:
                continue
            if not inspect.getdoc(obj) or (isinstance(obj, type) and obj.__doc__ is None):
                missing.append(qual)
            if isinstance(obj, type):
                for member, attr in _members(obj):
                    if not (_doc(obj, member, attr) or "").strip() and f"{qual}.{member}" not in ALLOWED:
                        missing.append(f"{qual}.{member}")
    return missing


def test_every_public_name_has_a_docstring():
    missing = missing_docstrings()
    assert not missing, f"{len(missing)} public names have no docstring:\n  " + "\n  ".join(missing)


# `bound` rows whose bindings are written by hand, with more arguments than the row (`alpha=`,
# `rounding_mode=`), and so with docstrings of their own.
_HAND_BOUND = {"add", "sub", "div"}


def test_op_table_docs_are_the_docstrings_of_the_generated_bindings():
    """Each row's doc column is the one text of its docstrings: `_core.X` (bp.X,
    nn.functional.X) and `Tensor.X`, and it starts with the call it documents."""
    from backprop import _core

    wrong = []
    for row in _core._op_table():
        name, api, doc = row["name"], row["api"], inspect.cleandoc(row["doc"])
        assert doc, f"op table row {name} has no doc"
        if api == "internal":
            continue
        if not doc.startswith(f"{name}("):
            wrong.append(f"{name}: the doc starts with {doc.splitlines()[0]!r}, not `{name}(...) -> ...`")
        bindings = []
        if api in ("method", "function"):
            bindings.append((f"_core.{name}", getattr(_core, name)))
        if api == "method" or (api == "bound" and name not in _HAND_BOUND):
            bindings.append((f"Tensor.{name}", getattr(_core.Tensor, name)))
        wrong += [f"{qual}: its docstring is not the table row's doc" for qual, obj in bindings if inspect.getdoc(obj) != doc]
    assert not wrong, "\n".join(wrong)


def _examples():
    """Every docstring of the walked API that shows a `>>>` example, once."""
    seen = set()
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name, obj in _public(module):
            if not _is_ours(obj):
                continue
            candidates = [(f"{module_name}.{name}", obj)]
            if isinstance(obj, type):
                candidates += [(f"{module_name}.{name}.{m}", a) for m, a in vars(obj).items() if not m.startswith("_")]
            for qual, o in candidates:
                doc = getattr(o, "__doc__", None)
                if isinstance(doc, str) and ">>>" in doc and id(o) not in seen:
                    seen.add(id(o))
                    yield qual, doc


def test_docstring_examples_run_and_print_what_they_show():
    import doctest

    import backprop as bp
    from backprop import nn, optim
    from backprop.nn import functional as F

    examples = list(_examples())
    assert examples, "no docstring shows an example"
    parser, failures = doctest.DocTestParser(), []
    for qual, doc in examples:
        test = parser.get_doctest(doc, {"bp": bp, "nn": nn, "F": F, "optim": optim}, qual, None, 0)
        runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
        out = []
        runner.run(test, out=out.append)
        if runner.failures:
            failures.append("".join(out))
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("name", ["Tensor", "nn.Linear", "optim.AdamW", "data.DataLoader"])
def test_help_shows_arguments_and_an_explanation(name):
    import pydoc

    import backprop

    obj = backprop
    for part in name.split("."):
        obj = getattr(obj, part)
    text = pydoc.render_doc(obj, renderer=pydoc.plaintext)
    assert len(text.splitlines()) > 20
    assert inspect.getdoc(obj).strip()


if __name__ == "__main__":
    for qual in missing_docstrings():
        print(qual)
