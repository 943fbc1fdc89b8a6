"""Core benchmarks (issue: autograd core): scalar circuits against micrograd and PyTorch,
matmul GFLOP/s against NumPy and PyTorch, tensor ops (bmm, einsum, sort, cumsum) against
NumPy and PyTorch, and import time against NumPy.

    python benches/bench_core.py            # full table
    python benches/bench_core.py --quick    # smoke pass (CI)
"""

import argparse
import os
import subprocess
import sys

import numpy as np

import backprop as bp
from _common import best_time, fmt, optional, print_table, ratio

micrograd = optional("micrograd.engine")
torch = optional("torch")


# ---- scalar circuits -------------------------------------------------------------------


def circuit_bp():
    x = bp.tensor(-2.0, requires_grad=True)
    y = bp.tensor(5.0, requires_grad=True)
    z = bp.tensor(-4.0, requires_grad=True)
    f = (x + y) * z
    f.backward()


def neuron_bp():
    w0 = bp.tensor(2.0, requires_grad=True)
    x0 = bp.tensor(-1.0, requires_grad=True)
    w1 = bp.tensor(-3.0, requires_grad=True)
    x1 = bp.tensor(-2.0, requires_grad=True)
    w2 = bp.tensor(-3.0, requires_grad=True)
    f = 1 / (1 + bp.exp(-(w0 * x0 + w1 * x1 + w2)))
    f.backward()


_BP_LEAVES = None
_MG_LEAVES = None
_T_LEAVES = None


def circuit_bp_reused():
    """The same circuit with leaves made once and their grads reset (a training-loop shape)."""
    x, y, z = _BP_LEAVES
    x.grad = y.grad = z.grad = None
    f = (x + y) * z
    f.backward()


def circuit_micrograd_reused():
    x, y, z = _MG_LEAVES
    x.grad = y.grad = z.grad = 0
    f = (x + y) * z
    f.backward()


def circuit_torch_reused():
    x, y, z = _T_LEAVES
    x.grad = y.grad = z.grad = None
    f = (x + y) * z
    f.backward()


def circuit_torch():
    x = torch.tensor(-2.0, requires_grad=True)
    y = torch.tensor(5.0, requires_grad=True)
    z = torch.tensor(-4.0, requires_grad=True)
    f = (x + y) * z
    f.backward()


def neuron_torch():
    w0 = torch.tensor(2.0, requires_grad=True)
    x0 = torch.tensor(-1.0, requires_grad=True)
    w1 = torch.tensor(-3.0, requires_grad=True)
    x1 = torch.tensor(-2.0, requires_grad=True)
    w2 = torch.tensor(-3.0, requires_grad=True)
    f = 1 / (1 + torch.exp(-(w0 * x0 + w1 * x1 + w2)))
    f.backward()


def _micrograd_exp(v):
    """exp as a micrograd op, written exactly like micrograd's own (its 0.1.0 release has none)."""
    import math

    out = micrograd.Value(math.exp(v.data), (v,), "exp")

    def _backward():
        v.grad += out.data * out.grad

    out._backward = _backward
    return out


def circuit_micrograd():
    V = micrograd.Value
    x, y, z = V(-2.0), V(5.0), V(-4.0)
    f = (x + y) * z
    f.backward()


def neuron_micrograd():
    V = micrograd.Value
    w0, x0, w1, x1, w2 = V(2.0), V(-1.0), V(-3.0), V(-2.0), V(-3.0)
    f = 1 / (1 + _micrograd_exp(-(w0 * x0 + w1 * x1 + w2)))
    f.backward()


def scalar_rows(quick):
    global _BP_LEAVES, _MG_LEAVES, _T_LEAVES
    _BP_LEAVES = [bp.tensor(v, requires_grad=True) for v in (-2.0, 5.0, -4.0)]
    if micrograd:
        _MG_LEAVES = [micrograd.Value(v) for v in (-2.0, 5.0, -4.0)]
    if torch:
        _T_LEAVES = [torch.tensor(v, requires_grad=True) for v in (-2.0, 5.0, -4.0)]
    kw = dict(repeat=3, min_time=0.05) if quick else dict(repeat=7, min_time=0.3)
    rows = []
    for name, b, m, t in (
        ("(x+y)*z fwd+bwd", circuit_bp, circuit_micrograd, circuit_torch),
        ("(x+y)*z, leaves reused", circuit_bp_reused, circuit_micrograd_reused, circuit_torch_reused),
        ("sigmoid neuron fwd+bwd", neuron_bp, neuron_micrograd, neuron_torch),
    ):
        tb = best_time(b, **kw) * 1e6
        tm = best_time(m, **kw) * 1e6 if micrograd else None
        tt = best_time(t, **kw) * 1e6 if torch else None
        rows.append([name, fmt(tb), fmt(tm), fmt(tt), fmt(ratio(tb, tm)), fmt(ratio(tb, tt)), "<= 0.25"])
    return rows


# ---- matmul ------------------------------------------------------------------------------


LEVELS = ("avx512", "avx2", "baseline")


def cpu_levels():
    """The CPU kernel levels this machine runs, widest (what `auto` picks) first."""
    cap = bp.get_cpu_capability()
    return list(LEVELS[LEVELS.index(cap) :])


def gflops_per_level(flops, fn, kw):
    """backprop's GFLOP/s at every CPU kernel level, `auto`'s first."""
    out = []
    for level in cpu_levels():
        bp.set_cpu_kernels(level)
        out.append(flops / best_time(fn, **kw) / 1e9)
    bp.set_cpu_kernels("auto")
    return out


def matmul_rows(quick):
    sizes = [64, 256] if quick else [64, 256, 1024, 2048]
    rows = []
    for dtype in ("float32", "float64"):
        for n in sizes:
            rng = np.random.default_rng(n)
            a = rng.standard_normal((n, n)).astype(dtype)
            b = rng.standard_normal((n, n)).astype(dtype)
            rows.append(product_row(f"{dtype} {n}", a, b, lambda x, y: x @ y, n, quick, ">= 1.0" if n >= 256 else ""))
    return rows


def product_row(name, a, b, op, depth, quick, target):
    """One row: backprop at every CPU level, NumPy and PyTorch on `op(a, b)` (operands may be
    transposed views) contracting over `depth`, in GFLOP/s."""
    flops = 2 * int(np.prod(op(a, b).shape)) * depth
    kw = dict(repeat=3, min_time=0.05) if quick else dict(repeat=5, min_time=0.4)
    ba, bb = bp.from_numpy(np.ascontiguousarray(a)), bp.from_numpy(np.ascontiguousarray(b))
    ours = gflops_per_level(flops, lambda: op(ba, bb), kw)
    g_np = flops / best_time(lambda: op(a, b), **kw) / 1e9
    g_t = None
    if torch:
        ta, tb = torch.from_numpy(np.ascontiguousarray(a)), torch.from_numpy(np.ascontiguousarray(b))
        g_t = flops / best_time(lambda: op(ta, tb), **kw) / 1e9
    return [name, *(fmt(g, 1) for g in ours), fmt(g_np, 1), fmt(g_t, 1), fmt(ratio(ours[0], g_np)), fmt(ratio(ours[0], g_t)), target]


def shape_rows(quick):
    """Transposed operands and the 784-512-512-10 MLP's own products (forward `x @ w.T`,
    backward `g.T @ x` and `g @ w`), float32, at batch 64 and 512 (4096 outside --quick)."""
    rng = np.random.default_rng(1)
    f32 = lambda *s: rng.standard_normal(s).astype("float32")  # noqa: E731
    n = 256 if quick else 1024
    cases = [
        (f"{n}: a @ b.T", f32(n, n), f32(n, n), lambda x, y: x @ y.T, n),
        (f"{n}: a.T @ b", f32(n, n), f32(n, n), lambda x, y: x.T @ y, n),
        (f"{n} f64: a @ b.T", f32(n, n).astype("float64"), f32(n, n).astype("float64"), lambda x, y: x @ y.T, n),
        (f"batched 8x{n // 4}^2 @ b.T", f32(8, n // 4, n // 4), f32(8, n // 4, n // 4), lambda x, y: x @ y.mT, n // 4),
    ]
    for batch in (64, 512) if quick else (64, 512, 4096):
        cases += [
            (f"{batch}x784 @ (512x784).T", f32(batch, 784), f32(512, 784), lambda x, y: x @ y.T, 784),
            (f"{batch}x512 @ (512x512).T", f32(batch, 512), f32(512, 512), lambda x, y: x @ y.T, 512),
            (f"{batch}x512 @ (10x512).T", f32(batch, 512), f32(10, 512), lambda x, y: x @ y.T, 512),
            (f"({batch}x512).T @ {batch}x784", f32(batch, 512), f32(batch, 784), lambda x, y: x.T @ y, batch),
            (f"({batch}x10).T @ {batch}x512", f32(batch, 10), f32(batch, 512), lambda x, y: x.T @ y, batch),
            (f"{batch}x10 @ 10x512", f32(batch, 10), f32(10, 512), lambda x, y: x @ y, 10),
            (f"{batch}x512 @ 512x512", f32(batch, 512), f32(512, 512), lambda x, y: x @ y, 512),
        ]
    return [product_row(name, a, b, op, depth, quick, ">= 1.0") for name, a, b, op, depth in cases]


# ---- tensor ops of the breadth issue ---------------------------------------------------


def op_rows(quick):
    """Milliseconds per call (lower is better) for ops that have a NumPy/PyTorch twin; the
    target is bp/reference <= 1.5 against the faster reference."""
    rng = np.random.default_rng(0)
    b, n = (8, 64) if quick else (32, 256)
    x = rng.standard_normal((b, n, n)).astype("float32")
    y = rng.standard_normal((b, n, n)).astype("float32")
    bx, by = bp.from_numpy(x), bp.from_numpy(y)
    m = 100_000 if quick else 1_000_000
    r, c = (100, 1000) if quick else (1000, 1000)
    v = rng.standard_normal(m).astype("float32")
    w = rng.standard_normal((r, c)).astype("float32")
    bv, bw = bp.from_numpy(v), bp.from_numpy(w)
    tv, tw = (torch.from_numpy(v), torch.from_numpy(w)) if torch else (None, None)
    # (name, backprop, numpy, pytorch-maker): the maker is called only when torch is installed
    cases = [
        ("bmm [%d,%d,%d]" % (b, n, n), lambda: bp.bmm(bx, by), lambda: np.matmul(x, y), lambda: (lambda tx, ty: lambda: torch.bmm(tx, ty))(torch.from_numpy(x), torch.from_numpy(y))),
        (
            "einsum bij,bjk->bik",
            lambda: bp.einsum("bij,bjk->bik", bx, by),
            lambda: np.einsum("bij,bjk->bik", x, y, optimize=True),
            lambda: (lambda tx, ty: lambda: torch.einsum("bij,bjk->bik", tx, ty))(torch.from_numpy(x), torch.from_numpy(y)),
        ),
        # NumPy returns values only; backprop and PyTorch return values and indices
        ("sort [%d] float32" % m, lambda: bp.sort(bv), lambda: np.sort(v), lambda: lambda: torch.sort(tv)),
        ("sort [%d,%d] dim=1" % (r, c), lambda: bp.sort(bw, dim=1), lambda: np.sort(w, axis=1), lambda: lambda: torch.sort(tw, dim=1)),
        ("argsort [%d] stable" % m, lambda: bp.argsort(bv, stable=True), lambda: np.argsort(v, kind="stable"), lambda: lambda: torch.argsort(tv, stable=True)),
        ("cumsum [%d] float32" % m, lambda: bp.cumsum(bv, 0), lambda: np.cumsum(v), lambda: lambda: torch.cumsum(tv, 0)),
        ("cumsum [%d,%d] dim=0" % (r, c), lambda: bp.cumsum(bw, 0), lambda: np.cumsum(w, axis=0), lambda: lambda: torch.cumsum(tw, 0)),
        ("cumsum [%d,%d] dim=1" % (r, c), lambda: bp.cumsum(bw, 1), lambda: np.cumsum(w, axis=1), lambda: lambda: torch.cumsum(tw, 1)),
    ]
    kw = dict(repeat=3, min_time=0.05) if quick else dict(repeat=5, min_time=0.3)
    rows = []
    for name, f_bp, f_np, f_t in cases:
        t_bp = best_time(f_bp, **kw) * 1e3
        t_np = best_time(f_np, **kw) * 1e3
        t_t = best_time(f_t(), **kw) * 1e3 if torch else None
        best_ref = min(v for v in (t_np, t_t) if v is not None)
        rows.append([name, fmt(t_bp, 3), fmt(t_np, 3), fmt(t_t, 3), fmt(ratio(t_bp, t_np)), fmt(ratio(t_bp, t_t)), fmt(t_bp / best_ref), "<= 1.5"])
    return rows


# ---- import time ------------------------------------------------------------------------


def import_seconds(module, runs):
    best = float("inf")
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", f"import time; t=time.perf_counter(); import {module}; print(time.perf_counter()-t)"],
            capture_output=True,
            text=True,
            check=True,
        )
        best = min(best, float(out.stdout))
    return best


def wall_seconds(module, runs):
    import time

    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
        best = min(best, time.perf_counter() - t0)
    return best


def import_rows(quick):
    runs = 3 if quick else 15
    wb, wn = wall_seconds("backprop", runs), wall_seconds("numpy", runs)
    ib, inp = import_seconds("backprop", runs), import_seconds("numpy", runs)
    return [
        ["python -c 'import X' wall", fmt(wb * 1e3, 1), fmt(wn * 1e3, 1), fmt(ratio(wb, wn)), "<= 1.5"],
        ["import statement only", fmt(ib * 1e3, 1), fmt(inp * 1e3, 1), fmt(ratio(ib, inp)), ""],
    ]


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="a short smoke pass")
    args = p.parse_args()
    print(f"machine: {os.cpu_count()} CPUs; numpy {np.__version__}; torch {getattr(torch, '__version__', 'missing')}; "
          f"micrograd {'installed' if micrograd else 'missing'}")
    if torch:
        print(f"torch threads: {torch.get_num_threads()}")
    print_table(
        "Scalar circuits (microseconds per iteration; leaves created each iteration unless reused)",
        ["circuit", "backprop", "micrograd", "pytorch", "bp/micrograd", "bp/pytorch", "target bp/micrograd"],
        scalar_rows(args.quick),
    )
    levels = cpu_levels()
    level_cols = [f"bp {lv}" + (" (auto)" if i == 0 else "") for i, lv in enumerate(levels)]
    print(f"\nbackprop CPU kernels: this CPU runs {', '.join(levels)} (BACKPROP_CPU_KERNELS / bp.set_cpu_kernels); "
          f"threads: {bp.get_num_threads()}; ratios use auto")
    print_table(
        "Matmul n x n @ n x n (GFLOP/s, higher is better)",
        ["dtype n", *level_cols, "numpy", "pytorch", "bp/numpy", "bp/pytorch", "target"],
        matmul_rows(args.quick),
    )
    print_table(
        "Matmul: transposed operands and the MLP's shapes, float32 unless said (GFLOP/s)",
        ["product", *level_cols, "numpy", "pytorch", "bp/numpy", "bp/pytorch", "target"],
        shape_rows(args.quick),
    )
    print_table(
        "Tensor ops (milliseconds per call, lower is better)",
        ["op", "backprop", "numpy", "pytorch", "bp/numpy", "bp/pytorch", "bp/best", "target bp/best"],
        op_rows(args.quick),
    )
    print_table("Import time (milliseconds, best of runs)", ["measure", "backprop", "numpy", "bp/numpy", "target"], import_rows(args.quick))


if __name__ == "__main__":
    main()
