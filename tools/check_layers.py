#!/usr/bin/env python3
"""Fails when a module of the Rust engine imports a module above it.

The order is DESIGN.md's ("Rule of the house"), top to bottom:

    python -> ops/autograd -> backend -> cpu | gpu -> vocabulary -> tensor -> ambient

- `python` is the binding, the only module that may import pyo3 (also checked here).
- `ops` and `autograd` are one pair: ops record nodes, the engine runs each node's vjp, which
  ops write. They may import each other; everything else must point strictly downwards.
- `backend` dispatches on the device; `cpu` and `gpu` are its two kernel sets. They are
  siblings: neither imports the other, nor anything above them. `ops` and `autograd` reach the
  kernels only through `backend` ("autograd knows nothing about devices"); `python` may use
  `gpu` directly for device management (availability, adapter, synchronisation).
- The vocabulary both kernel sets share (op kinds, the matmul shape, optimizer rules) sits below
  them, so kernels never import the dispatcher for it. It is named in `LAYERS` by the module
  that defines it; an item re-exported through a parent (`crate::backend::ReduceKind`, defined
  in `backend::kinds`) counts as an import of its defining module.
- `tensor` is the data model. Two edges up from it are the data model itself, as DESIGN.md's
  core model describes it, and are allowed by name in `DATA_MODEL_EDGES`: a tensor holds its
  graph node (`autograd::node`: `grad_fn`, hooks) and its storage enum has a GPU variant
  (`gpu::storage`). Nothing else in `tensor` may look up, in particular not `backend` or `cpu`.
  The elementwise op table (`ops::table`) is the other named edge: it is one declaration,
  a macro that every layer expands for its own part (the leaf `kinds` module its enums and
  math, `ops` its vjps), so `kinds` invoking it runs no `ops` code.
- Ambient modules sit below everything, in their own order: `error` and `engine_cell` import
  nothing of the crate's, `alloc` (fallible buffers) reports through `error`, and `random`
  (the global generator) allocates through `alloc`.

A dependency is any path that names another module: `use crate::x::...` lines (braces and
several lines included), inline `crate::x::f(...)` paths, `$crate::` paths in macros,
`super::` paths that climb out of the top-level module, and exported macros
(`crate::with_dtype!`, or `dtype_err!` brought in with `use`) by the module that defines them.
Unit tests (`#[cfg(test)]` modules) are not part of the library's dependency graph: a kernel's
test may read its result through the backend. Comments and string literals are ignored.

A top-level module missing from `LAYERS` is an error too, so a new module gets a place.

Usage: python3 tools/check_layers.py [rust-source-dir]   (default: rust/ beside tools/)
Exit status 0 when the layering holds, 1 with one line per violation otherwise.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

# Rank of each layer unit: a unit may import units of lower rank (and itself).
PYTHON, OPS, BACKEND, KERNELS, VOCABULARY, TENSOR = 7, 6, 5, 4, 3, 2
RANDOM, ALLOC, ERROR = 1.5, 1.2, 1
LAYERS = {
    "python": PYTHON,
    "ops": OPS,
    "autograd": OPS,
    "backend": BACKEND,
    "cpu": KERNELS,
    "gpu": KERNELS,
    # The shared vocabulary, wherever it is defined (re-exports through `backend` resolve here).
    "kinds": VOCABULARY,
    "backend::kinds": VOCABULARY,
    "backend::matmul_shape": VOCABULARY,
    "backend::optim_rule": VOCABULARY,
    "tensor": TENSOR,
    "error": ERROR,
    "engine_cell": ERROR,
    "alloc": ALLOC,
    "random": RANDOM,
}

# Units of the same rank that may import each other.
PEERS = {frozenset({"ops", "autograd"})}

# Upward edges that are the data model itself (see the module docstring): (from unit, to module).
DATA_MODEL_EDGES = {
    ("tensor", "autograd::node"),
    ("tensor", "gpu::storage"),
    ("kinds", "ops::table"),
}

PYO3_ALLOWED = {"python"}

# Layers that must not skip `backend` on their way down to the kernels.
THROUGH_BACKEND = {"ops", "autograd"}


def strip_comments_and_strings(src: str) -> str:
    """The source with comments and string/char literal contents blanked (newlines kept)."""
    out = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            i = j
        elif src.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append("\n" * src.count("\n", i, j))
            i = j
        elif c == "r" and re.match(r'r#*"', src[i:i + 10]) and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            hashes = re.match(r'r(#*)"', src[i:]).group(1)
            end = src.find('"' + hashes, i + 2 + len(hashes))
            end = n if end < 0 else end + 1 + len(hashes)
            out.append('""' + "\n" * src.count("\n", i, end))
            i = end
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            out.append('""' + "\n" * src.count("\n", i, j))
            i = j + 1
        elif c == "'" and re.match(r"'(\\.|[^\\'])'|'\\u\{[0-9a-fA-F]+\}'|'\\x[0-9a-fA-F]{2}'", src[i:i + 12]):
            m = re.match(r"'(\\.|[^\\'])'|'\\u\{[0-9a-fA-F]+\}'|'\\x[0-9a-fA-F]{2}'", src[i:i + 12])
            out.append("' '")
            i += m.end()
        else:
            out.append(c)
            i += 1
    return "".join(out)


def strip_test_modules(src: str) -> str:
    """Blanks `#[cfg(test)] mod name { ... }` blocks (source already free of comments/strings)."""
    while True:
        m = re.search(r"#\[cfg\(test\)\]\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*\{", src)
        if not m:
            return src
        depth, j = 1, m.end()
        while j < len(src) and depth:
            depth += {"{": 1, "}": -1}.get(src[j], 0)
            j += 1
        src = src[:m.start()] + "\n" * src.count("\n", m.start(), j) + src[j:]


def inline_modules(src: str) -> list[tuple[int, int, str]]:
    """(start, end, name) of each inline `mod name { ... }` block."""
    spans = []
    for m in re.finditer(r"\bmod\s+(\w+)\s*\{", src):
        depth, j = 1, m.end()
        while j < len(src) and depth:
            depth += {"{": 1, "}": -1}.get(src[j], 0)
            j += 1
        spans.append((m.start(), j, m.group(1)))
    return spans


def module_of(path: Path, root: Path) -> tuple[str, ...]:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] in ("mod", "lib"):
        parts.pop()
    return tuple(parts)


def expand_use_tree(tree: str) -> list[str]:
    """`a::{b, c::{d, e}}` -> ["a::b", "a::c::d", "a::c::e"] (whitespace already removed)."""
    depth, start = 0, None
    for i, ch in enumerate(tree):
        if ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}":
            depth -= 1
    if start is None:
        return [tree]
    prefix, inner = tree[:start], tree[start + 1:tree.rfind("}")]
    items, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
            continue
        depth += {"{": 1, "}": -1}.get(ch, 0)
        cur += ch
    items.append(cur)
    out = []
    for item in filter(None, items):
        for sub in expand_use_tree(item):
            out.append(prefix.rstrip(":") if sub == "self" else prefix + sub)
    return out


def normalize_use(tree: str) -> str:
    """Whitespace removed; `x as y` written `x@y` so the alias survives."""
    return re.sub(r"\s+", "", re.sub(r"\s+as\s+", "@", tree))


USE_RE = re.compile(r"\b(?:pub(?:\([^)]*\))?\s+)?use\s+([^;]+);")
INLINE_RE = re.compile(r"(?<![\w:])\$?crate((?:\s*::\s*\w+)+)(\s*!)?")
SUPER_RE = re.compile(r"(?<![\w:])((?:super\s*::\s*)+)(\w+)")


class Crate:
    def __init__(self, root: Path):
        self.root = root
        self.files = sorted(root.rglob("*.rs"))
        self.modules = {module_of(f, root) for f in self.files}
        self.clean = {f: strip_comments_and_strings(f.read_text(encoding="utf-8")) for f in self.files}
        self.reexports = self._reexports()
        self.macros = self._macros()

    def _reexports(self) -> dict[tuple[str, ...], dict[str, list[str]]]:
        """Per module: item name -> the crate-absolute path of the module it is re-exported from
        (`pub use child::X`, `pub use crate::a::b::X`)."""
        table: dict[tuple[str, ...], dict[str, list[str]]] = {}
        for f, src in self.clean.items():
            mod = module_of(f, self.root)
            for m in USE_RE.finditer(src):
                if not m.group(0).lstrip().startswith("pub"):
                    continue
                for path in expand_use_tree(normalize_use(m.group(1))):
                    segs = path.split("::")
                    name = segs[-1].split("@")[-1]
                    if len(segs) >= 2 and segs[0] == "crate":
                        table.setdefault(mod, {})[name] = [s.split("@")[0] for s in segs[1:-1]]
                    elif len(segs) >= 2 and mod + (segs[0],) in self.modules:
                        table.setdefault(mod, {})[name] = list(mod) + [segs[0]]
        return table

    def _macros(self) -> dict[str, tuple[str, ...]]:
        """Exported macro name -> the module that defines it."""
        found = {}
        for f, src in self.clean.items():
            for m in re.finditer(r"#\[macro_export\]\s*macro_rules!\s*(\w+)", src):
                found[m.group(1)] = module_of(f, self.root)
        return found

    def resolve(self, segs: list[str], depth: int = 0) -> tuple[str, ...]:
        """The most specific module a crate-absolute path names (following re-exports)."""
        if len(segs) == 1 and segs[0] in self.macros:
            return self.macros[segs[0]]
        mod: tuple[str, ...] = ()
        for s in segs:
            if mod + (s,) in self.modules:
                mod += (s,)
            elif s in self.reexports.get(mod, {}) and depth < 8:
                return self.resolve(self.reexports[mod][s], depth + 1)
            else:
                break
        return mod

    def dependencies(self, f: Path):
        """(line, module path) for every module the library code of `f` names."""
        src = strip_test_modules(self.clean[f])
        here = module_of(f, self.root)
        line_of = lambda pos: src.count("\n", 0, pos) + 1  # noqa: E731
        for m in USE_RE.finditer(src):
            for path in expand_use_tree(normalize_use(m.group(1))):
                segs = [s.split("@")[0] for s in path.split("::")]
                if segs[0] == "crate":
                    yield line_of(m.start()), self.resolve(segs[1:])
                elif segs[0] in self.macros and len(segs) == 1:
                    yield line_of(m.start()), self.macros[segs[0]]
        spans = inline_modules(src)
        for m in SUPER_RE.finditer(src):
            ups = m.group(1).count("super")
            # The module at this point: the file's, plus the inline `mod x { }` blocks around it.
            # `super` in a file `a/b.rs` (module a::b) names a; in `a/mod.rs` it names a's parent.
            at = here + tuple(name for start, end, name in spans if start < m.start() < end)
            if len(at) >= ups and len(at[:-ups] if ups else at) == 0:  # climbed to the crate root
                yield line_of(m.start()), self.resolve([m.group(2)])
        src = USE_RE.sub(lambda m: "\n" * m.group(0).count("\n"), src)  # keeps line numbers
        for m in INLINE_RE.finditer(src):
            segs = [s.strip() for s in m.group(1).split("::") if s.strip()]
            if m.group(2) and len(segs) == 1:
                yield line_of(m.start()), self.macros.get(segs[0], ())
            else:
                yield line_of(m.start()), self.resolve(segs)


def unit_of(mod: tuple[str, ...]) -> str | None:
    """The most specific LAYERS entry that `mod` falls under."""
    for k in range(len(mod), 0, -1):
        key = "::".join(mod[:k])
        if key in LAYERS:
            return key
    return None


def check(root: Path) -> list[str]:
    crate = Crate(root)
    problems = []
    for top in sorted({mod[0] for mod in crate.modules if mod}):
        if top not in LAYERS:
            problems.append(f"{root / top}: module `{top}` has no layer; add it to LAYERS in tools/check_layers.py")
    for f in crate.files:
        here = module_of(f, root)
        if not here:
            continue  # lib.rs: the module tree itself
        src_unit = unit_of(here)
        if src_unit is None:
            continue  # reported above
        for line, target in crate.dependencies(f):
            dst_unit = unit_of(target)
            if dst_unit is None or dst_unit == src_unit:
                continue
            # A unit's own sub-unit (backend -> backend::kinds) is below it by rank, as any other.
            up = LAYERS[dst_unit] >= LAYERS[src_unit]
            if src_unit in THROUGH_BACKEND and LAYERS[dst_unit] == KERNELS:
                problems.append(
                    f"{f.relative_to(root.parent)}:{line}: `{'::'.join(here)}` imports `{'::'.join(target)}` directly; "
                    f"{src_unit} reaches the kernels only through backend"
                )
                continue
            if not up or frozenset({src_unit, dst_unit}) in PEERS:
                continue
            if (src_unit.split("::")[0], "::".join(target)) in DATA_MODEL_EDGES:
                continue
            kind = "a sibling" if LAYERS[dst_unit] == LAYERS[src_unit] else "a higher layer"
            problems.append(
                f"{f.relative_to(root.parent)}:{line}: `{'::'.join(here)}` imports `{'::'.join(target)}`, "
                f"{kind} ({dst_unit} is not below {src_unit} in DESIGN.md's order)"
            )
        if src_unit.split("::")[0] not in PYO3_ALLOWED:
            text = strip_test_modules(crate.clean[f])
            for m in re.finditer(r"(?<![\w:])(?:use\s+)?pyo3\s*::", text):
                problems.append(f"{f.relative_to(root.parent)}:{text.count(chr(10), 0, m.start()) + 1}: "
                                f"`{'::'.join(here)}` uses pyo3; only rust/python may")
                break
    return problems


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent / "rust"
    problems = check(root)
    for p in problems:
        print(p)
    if problems:
        print(f"check_layers: {len(problems)} import(s) break the layering", file=sys.stderr)
        return 1
    print(f"check_layers: {len(Crate(root).files)} files, layering holds")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
