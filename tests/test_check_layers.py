"""tools/check_layers.py: the engine's layering holds, and the checker rejects each kind of
import that would break it (on small crates written here)."""

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tools" / "check_layers.py"

spec = importlib.util.spec_from_file_location("check_layers", SCRIPT)
check_layers = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_layers)


def test_the_engine_is_layered():
    assert check_layers.check(ROOT / "rust") == []


# A crate shaped like the engine, every import pointing downwards.
BASE = {
    "lib.rs": "mod error; mod tensor; mod cpu; mod gpu; mod backend; mod autograd; mod ops; mod python;\n"
    "mod engine_cell; mod alloc; mod random;\n",
    "error.rs": "pub struct Error;\n#[macro_export]\nmacro_rules! dtype_err { () => { $crate::error::Error } }\n",
    "engine_cell.rs": "",
    "alloc.rs": "",
    "random.rs": "",
    "tensor/mod.rs": "mod storage;\nuse crate::error::Error;\npub struct Tensor;\n",
    "tensor/storage.rs": "pub enum Storage { Gpu(crate::gpu::GpuStorage) }\n",
    "backend/mod.rs": "mod kinds;\npub use kinds::{ReduceKind, UnaryKind};\nuse crate::cpu;\nuse crate::gpu;\n",
    "backend/kinds.rs": "use crate::tensor::Tensor;\npub enum ReduceKind {}\npub enum UnaryKind {}\n",
    "cpu/mod.rs": "use crate::backend::{ReduceKind, UnaryKind};\nuse crate::tensor::Tensor;\nuse crate::dtype_err;\n",
    "gpu/mod.rs": "mod storage;\npub use storage::GpuStorage;\nuse crate::backend::ReduceKind;\n",
    "gpu/storage.rs": "pub struct GpuStorage;\n",
    "autograd/mod.rs": "use crate::ops::Op;\nuse crate::backend;\nfn f() { crate::backend::cast(); }\n",
    "ops/mod.rs": "use crate::autograd::record;\nuse crate::backend::{self, UnaryKind};\n",
    "python/mod.rs": "use pyo3::prelude::*;\nuse crate::ops;\nuse crate::gpu;\n",
}


def problems(tmp_path, **changes):
    """check_layers' findings on BASE with `changes` (`tensor__mod_rs` for tensor/mod.rs: contents)."""
    files = dict(BASE)
    files.update({k.replace("__", "/").replace("_rs", ".rs"): textwrap.dedent(v) for k, v in changes.items()})
    root = tmp_path / "rust"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return check_layers.check(root)


def test_the_model_crate_passes(tmp_path):
    # vocabulary re-exported through backend, the data-model edges, ops <-> autograd, macros
    assert problems(tmp_path) == []


@pytest.mark.parametrize(
    "path, line, offender",
    [
        ("tensor/mod.rs", "use crate::backend;", "`tensor` imports `backend`, a higher layer"),
        ("tensor/mod.rs", "use crate::cpu::strided::Walk;", "`tensor` imports `cpu`, a higher layer"),
        ("tensor/mod.rs", "fn f() { let _ = crate::backend::to_cpu(); }", "`tensor` imports `backend`"),
        ("cpu/mod.rs", "use crate::backend::dispatch;", "`cpu` imports `backend`, a higher layer"),
        ("cpu/mod.rs", "use crate::{gpu, tensor::Tensor};", "`cpu` imports `gpu`, a sibling"),
        ("gpu/mod.rs", "use crate::autograd::Node;", "`gpu` imports `autograd`, a higher layer"),
        ("backend/kinds.rs", "use crate::backend::full;", "`backend::kinds` imports `backend`, a higher layer"),
        ("backend/mod.rs", "use crate::ops;", "`backend` imports `ops`, a higher layer"),
        ("ops/mod.rs", "use crate::python::PyTensor;", "`ops` imports `python`, a higher layer"),
        ("ops/mod.rs", "use crate::cpu::copy;", "`ops` imports `cpu` directly"),
        ("autograd/mod.rs", "fn g() { crate::gpu::to_cpu(); }", "`autograd` imports `gpu` directly"),
        ("error.rs", "use crate::tensor::Tensor;", "`error` imports `tensor`, a higher layer"),
        ("tensor/mod.rs", "use crate::autograd::engine::backward;", "`tensor` imports `autograd`"),
        ("cpu/mod.rs", "mod inner { use super::super::backend::full; }", "`cpu` imports `backend`"),
        ("backend/mod.rs", "use crate::{\n    cpu,\n    python::convert,\n};", "`backend` imports `python`"),
    ],
)
def test_an_upward_import_is_rejected_with_its_place(tmp_path, path, line, offender):
    found = problems(tmp_path, **{path.replace("/", "__").replace(".rs", "_rs"): BASE[path] + line + "\n"})
    assert len(found) == 1, found
    assert found[0].startswith(f"rust/{path}:") and offender in found[0], found


def test_vocabulary_in_a_leaf_module_reexported_through_backend_is_below_the_kernels(tmp_path):
    leaf = {
        "lib_rs": BASE["lib.rs"] + "mod kinds;\n",
        "kinds__mod_rs": "use crate::tensor::Tensor;\npub enum ReduceKind {}\n",
        "backend__mod_rs": "pub use crate::kinds::ReduceKind;\nuse crate::cpu;\n",
        "cpu__mod_rs": "use crate::backend::ReduceKind;\n",
    }
    assert problems(tmp_path, **leaf) == []
    leaf["kinds__mod_rs"] += "use crate::ops::Op;\n"
    found = problems(tmp_path, **leaf)
    assert len(found) == 1 and "`kinds` imports `ops`, a higher layer" in found[0], found


def test_pyo3_outside_the_binding_is_rejected(tmp_path):
    found = problems(tmp_path, ops__mod_rs=BASE["ops/mod.rs"] + "use pyo3::types::PyList;\n")
    assert found and "uses pyo3; only rust/python may" in found[0]


def test_comments_strings_and_unit_tests_are_not_dependencies(tmp_path):
    extra = """
        // use crate::backend; (a comment)
        /* crate::ops::sum in a block comment */
        const S: &str = "crate::backend::to_cpu";
        const R: &str = r#"use crate::python;"#;
        #[cfg(test)]
        mod tests {
            use crate::backend;
            fn reads() { crate::ops::sum(); }
        }
    """
    assert problems(tmp_path, tensor__mod_rs=BASE["tensor/mod.rs"] + extra) == []


def test_a_module_without_a_layer_must_be_placed(tmp_path):
    found = problems(tmp_path, telemetry__mod_rs="use crate::tensor::Tensor;\n")
    assert any("module `telemetry` has no layer; add it to LAYERS" in p for p in found), found


def test_the_script_fails_ci_with_one_line_per_violation(tmp_path):
    problems(tmp_path, tensor__mod_rs=BASE["tensor/mod.rs"] + "use crate::backend;\nuse crate::cpu;\n")
    out = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "rust")], capture_output=True, text=True)
    assert out.returncode == 1
    assert len(out.stdout.splitlines()) == 2 and "2 import(s) break the layering" in out.stderr
    ok = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True)
    assert ok.returncode == 0 and "layering holds" in ok.stdout, ok.stdout + ok.stderr
