"""Writes python/backprop/_core.pyi from the compiled module's signatures and docstrings.

Run after changing the binding (`maturin develop && python tools/gen_core_stub.py`);
tests/test_stub.py fails when the stub and the module disagree, and tests/test_typing.py runs
`python -m mypy.stubtest backprop._core` and `mypy --strict` on a training script.

What the stub must get right for mypy and pyright:
- Builtin types are written `builtins.int`, `builtins.float`, ...: the classes define methods
  named `float`, `int`, `bool`, `type`, ..., and the module a dtype named `bool`, so a bare
  `float` in an annotation after such a name would mean the method (or the dtype).
- Every parameter is annotated (`Any` unless named below), so `--strict` callers may call it.
- Methods whose result depends on the arguments (`size()` vs `size(0)`) get `@overload`s.
- Each binding's docstring (its `///` comment) is copied into the stub, for IDEs and the docs.
"""

import builtins
import inspect
import pathlib
import re

import backprop._core as C

OUT = pathlib.Path(__file__).resolve().parents[1] / "python" / "backprop" / "_core.pyi"

# Return types that are not Tensor, by name (methods and functions alike). Builtin names are
# qualified with `builtins.` when written out.
RETURNS = {
    "item": "float | int | bool",
    "tolist": "Any",
    "numpy": "numpy.ndarray[Any, Any]",
    "__array__": "numpy.ndarray[Any, Any]",
    "seed": "int", "initial_seed": "int", "get_default_dtype": "dtype", "get_default_device": "device",
    "set_default_dtype": "None", "set_default_device": "None", "set_rng_state": "None", "type": "Tensor | str", "ndimension": "int",
    "dim": "int",
    "ndimension": "int",
    "numel": "int",
    "nelement": "int",
    "element_size": "int",
    "storage_offset": "int",
    "data_ptr": "int",
    "get_device": "int",
    "equal": "bool",
    "allclose": "bool",
    "backward": "None",
    "retain_grad": "None",
    "split": "tuple[Tensor, ...]",
    "chunk": "tuple[Tensor, ...]",
    "unbind": "tuple[Tensor, ...]",
    "tensor_split": "tuple[Tensor, ...]",
    "slogdet": "tuple[Tensor, Tensor]",
    "__dlpack__": "Any",
    "__dlpack_device__": "tuple[int, int]",
    "__len__": "int",
    "__bool__": "bool",
    "__float__": "float",
    "__int__": "int",
    "__index__": "int",
    "__hash__": "int",
    "__init__": "None",
    "__repr__": "str",
    "__str__": "str",
    "__format__": "str",
    "__iter__": "Iterator[Tensor]",
    "__setitem__": "None",
    "__contains__": "bool",
    "__reduce__": "Any",
    "__reduce_ex__": "Any",
    "__getnewargs__": "Any",
    "__setstate__": "None",
    "__getstate__": "Any",
    "grad": "tuple[Tensor | None, ...]",
    "_set_grad_enabled": "None",
    "_set_trace_all": "bool",
    "manual_seed": "Generator",
    "_record_function": "Any",
    "_op_table": "list[dict[str, Any]]",
    "_wgsl_library": "str",
    "__enter__": "Any",
    "__exit__": "Any",
    "remove": "None",
    "name": "str",
    "next_functions": "tuple[tuple[Node | None, int], ...]",
    "register_prehook": "RemovableHandle",
    "save_for_backward": "None",
    "mark_dirty": "None",
    "mark_non_differentiable": "None",
    "set_materialize_grads": "None",
}
# By name pattern, after RETURNS: predicates and hook registration.
RETURN_PATTERNS = [
    (r"is_[a-z_0-9]*$", "bool"),
    (r"register_[a-z_]*hook$", "RemovableHandle"),
]
PROPERTIES = {
    "shape": "tuple[int, ...]",
    "ndim": "int",
    "dtype": "dtype",
    "device": "device",
    "requires_grad": "bool",
    "grad": "Tensor | None",
    "grad_fn": "Node | None",
    "is_leaf": "bool",
    "is_cuda": "bool",
    "is_floating_point": "bool",
    "is_signed": "bool",
    "is_complex": "bool",
    "itemsize": "int",
    "nbytes": "int",
    "name": "str",
    "type": "str",
    "index": "int | None",
    "data": "Tensor",
    "T": "Tensor",
    "mT": "Tensor",
    "H": "Tensor",
    "mH": "Tensor",
    "retains_grad": "bool",
    "_handle_id": "int",
    "next_functions": "tuple[tuple[Node | None, int], ...]",
    "metadata": "dict[Any, Any]",
    "saved_tensors": "tuple[Tensor, ...]",
    "needs_input_grad": "tuple[bool, ...]",
    "variable": "Tensor",
    "id": "int",
}
# Parameter annotations by name, where every binding agrees (the rest are Any: `dim` may be an
# int or a tuple, `other` a tensor or a number).
PARAM_TYPES = {
    "keepdim": "bool",
    "retain_graph": "bool | None",
    "create_graph": "bool",
}
# Methods whose return type depends on the arguments: the overloads, in stub syntax, with
# `{doc}` where the docstring goes. The runtime signature of each is checked by stubtest.
OVERLOADS = {
    "size": [
        "def size(self, dim: None = None) -> tuple[builtins.int, ...]:",
        "def size(self, dim: builtins.int) -> builtins.int:",
    ],
    "stride": [
        "def stride(self, dim: None = None) -> tuple[builtins.int, ...]:",
        "def stride(self, dim: builtins.int) -> builtins.int:",
    ],
}
# Comparisons return tensors, which object's signature (-> bool) does not allow.
TENSOR_COMPARISONS = {"__eq__", "__ne__"}
BINARY_DUNDER = re.compile(
    r"__(r?i?(add|sub|mul|truediv|floordiv|mod|matmul|pow|and|or|xor|lshift|rshift)|neg|pos|abs|invert|eq|ne|lt|le|gt|ge|copy|deepcopy|reduce)__"
)
BUILTIN_TYPES = sorted(n for n in dir(builtins) if isinstance(getattr(builtins, n), type) and not n.startswith("_"))
_BUILTIN_RE = re.compile(r"(?<![\w.])(" + "|".join(BUILTIN_TYPES) + r")\b")


def qualified(annotation):
    """`annotation` with every builtin type written `builtins.X` (see the module docstring)."""
    return _BUILTIN_RE.sub(r"builtins.\1", annotation)


def return_type(name, owner):
    if name in RETURNS:
        return qualified(RETURNS[name])
    for pattern, ret in RETURN_PATTERNS:
        if re.match(pattern, name):
            return qualified(ret)
    return "Tensor" if owner in (C.Tensor, C) else "Any"


def params(obj):
    """The binding's parameters (from its text signature), annotated, defaults as `...`."""
    try:
        sig = inspect.signature(obj)
    except (ValueError, TypeError):
        return "(self, *args: Any, **kwargs: Any)"
    parts, saw_kw_only = [], False
    kinds = [p.kind for p in sig.parameters.values()]
    for i, p in enumerate(sig.parameters.values()):
        if p.kind == p.KEYWORD_ONLY and not saw_kw_only:
            parts.append("*")
            saw_kw_only = True
        if p.kind == p.VAR_POSITIONAL:
            saw_kw_only = True
        name = p.name
        if name in ("self", "cls", "$self", "$type") and i == 0:
            parts.append("cls" if name in ("cls", "$type") else "self")
        else:
            ann = qualified(PARAM_TYPES.get(name, "Any"))
            if p.default is not p.empty:
                if p.default is None and "None" not in ann:
                    ann = f"{ann} | None"
                text = f"{name}: {ann} = ..."
            else:
                text = f"{name}: {ann}"
            prefix = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "")
            parts.append(prefix + text)
        if p.kind == p.POSITIONAL_ONLY:
            if i + 1 == len(kinds) or kinds[i + 1] != p.POSITIONAL_ONLY:
                parts.append("/")
    return "(" + ", ".join(parts) + ")"


def docstring(obj, indent):
    """The object's docstring as a stub body (or `...`), indented for its def or class."""
    doc = inspect.getdoc(obj) if getattr(obj, "__doc__", None) else None
    if not doc:
        return None
    doc = doc.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    lines = doc.split("\n")
    body = "\n".join((indent + line) if line else "" for line in lines)
    return f'{indent}"""{body[len(indent):]}"""' if len(lines) == 1 else f'{indent}"""{body[len(indent):]}\n{indent}"""'


def function_lines(name, obj, owner, indent):
    inner = indent + "    "
    # Python's own slot docstrings ("Return self==value.") add nothing for a dunder.
    doc = None if name.startswith("__") else docstring(obj, inner)
    if name in OVERLOADS and owner is C.Tensor:
        out = []
        for head in OVERLOADS[name]:
            out.append(f"{indent}@overload")
            out.append(f"{indent}{head}" + ("" if doc else " ..."))
            if doc:
                out.append(doc)
        return out
    ignore = "  # type: ignore[override]" if name in TENSOR_COMPARISONS and owner is C.Tensor else ""
    if name == "__ipow__" and owner is C.Tensor:
        # `x **= y` takes no modulo while `pow(x, y, mod)` does: true at runtime, and a
        # mismatch mypy reports however the two are written.
        ignore = "  # type: ignore[misc]"
    head = f"{indent}def {name}{params(obj)} -> {return_type(name, owner)}:"
    if doc:
        return [head + ignore, doc]
    return [head + " ..." + ignore]


def _writable(cls, name):
    """Whether the property has a setter: tried on a sample instance with its own value."""
    sample = SAMPLES.get(cls)
    if sample is None:
        return False
    try:
        setattr(sample, name, getattr(sample, name))
    except AttributeError:
        return False
    except Exception:
        return True  # a setter that refused this value still exists
    return True


_BASETYPE = 1 << 10  # Py_TPFLAGS_BASETYPE: the class may be subclassed


def class_lines(cls):
    # Every engine class has its own instance layout: a disjoint base (PEP 800) where pyo3's
    # `subclass` allows subclasses, else final.
    lines = ["@disjoint_base" if cls.__flags__ & _BASETYPE else "@final", f"class {cls.__name__}:"]
    doc = docstring(cls, "    ")
    if doc:
        lines.append(doc)
    body = []
    for name in sorted(vars(cls)):
        if name.startswith("__") and name not in RETURNS and name not in ("__getitem__", "__init__", "__new__"):
            if not BINARY_DUNDER.match(name):
                continue
        attr = inspect.getattr_static(cls, name)
        if type(attr).__name__ == "getset_descriptor":
            ann = qualified(PROPERTIES.get(name, "Any"))
            body.append("    @property")
            pdoc = docstring(attr, "        ")
            body.append(f"    def {name}(self) -> {ann}:" + ("" if pdoc else " ..."))
            if pdoc:
                body.append(pdoc)
            if _writable(cls, name):
                body.append(f"    @{name}.setter")
                body.append(f"    def {name}(self, value: {ann}) -> None: ...")
            continue
        if not callable(attr):
            continue
        obj = getattr(cls, name)
        if name == "__new__":
            # The constructor's text signature sits on the class (pyo3's `#[new]`); read it
            # from there, not through the class, whose signature is `__init__`'s once one is
            # set from Python (Tensor's).
            text = getattr(cls, "__text_signature__", None)
            args = params(eval(f"lambda {text[1:-1]}: None") if text else obj)
            if not args.startswith("(cls"):
                args = "(cls" + (", " + args[1:] if args != "()" else ")")
            body.append(f"    def __new__{args} -> {cls.__name__}: ...")
            continue
        body.extend(function_lines(name, obj, cls, "    "))
    lines.extend(body or ([] if doc else ["    ..."]))
    return lines


SAMPLES = {}


def main():
    SAMPLES[C.Tensor] = C.tensor(0.0)
    out = [
        '"""Type stubs for backprop._core (generated by tools/gen_core_stub.py)."""',
        "",
        "import builtins",
        "from typing import Any, Iterator, final, overload",
        "",
        "from typing_extensions import disjoint_base",
        "",
        "import numpy",
        "",
    ]
    for name in sorted(vars(C)):
        obj = getattr(C, name)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            bases = ", ".join(f"builtins.{b.__name__}" for b in obj.__bases__)
            out.append(f"class {name}({bases}): ...")
    out.append("")
    if hasattr(C, "__all__"):
        out.append("__all__ = [")
        out.extend(f"    {n!r}," for n in sorted(C.__all__))
        out.append("]")
        out.append("")
    classes = [obj for name, obj in sorted(vars(C).items()) if isinstance(obj, type) and not issubclass(obj, BaseException)]
    order = {"dtype": 0, "device": 1, "Tensor": 2}
    for cls in sorted(classes, key=lambda c: (order.get(c.__name__, 3), c.__name__)):
        out.extend(class_lines(cls))
        out.append("")
    for name in sorted(vars(C)):
        obj = getattr(C, name)
        if isinstance(obj, C.dtype):
            out.append(f"{name}: dtype")
        elif isinstance(obj, C.Generator):
            out.append(f"{name}: Generator")
        elif callable(obj) and type(obj).__name__ == "builtin_function_or_method":
            out.extend(function_lines(name, obj, C, ""))
    OUT.write_text("\n".join(out) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
