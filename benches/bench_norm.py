"""Layer and batch norm forward + backward: the fused `norm_rows` kernels against the same
formula recorded as primitives (what backprop did before), and against PyTorch when it is
installed, all measured in this run. `--smoke` runs one tiny size once."""

import argparse

import numpy as np

import backprop as bp
from backprop.nn import _norm_functions as norm
from backprop.nn import functional as F
from _common import best_time, fmt, optional, print_table, ratio


def step_backprop(kind, x, w, b, fused):
    saved = norm._fused_rows
    norm._fused_rows = saved if fused else None
    try:
        if kind == "layer_norm":
            y = F.layer_norm(x, (x.shape[1],), w, b)
        else:
            y = F.batch_norm(x, None, None, w, b, training=True)
        y.sum().backward()
    finally:
        norm._fused_rows = saved


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="one tiny size, one repeat (CI)")
    args = parser.parse_args()
    torch = optional("torch")
    sizes = [(8, 16)] if args.smoke else [(256, 512), (4096, 256)]
    repeat = 1 if args.smoke else 5
    rows = []
    for kind in ("layer_norm", "batch_norm"):
        for n, d in sizes:
            data = np.random.default_rng(0).standard_normal((n, d)).astype(np.float32)
            x = bp.tensor(data, requires_grad=True)
            w = bp.ones(d, requires_grad=True)
            b = bp.zeros(d, requires_grad=True)
            t_fused = best_time(lambda: step_backprop(kind, x, w, b, True), repeat=repeat, min_time=0.05 if args.smoke else 0.2)
            t_prim = best_time(lambda: step_backprop(kind, x, w, b, False), repeat=repeat, min_time=0.05 if args.smoke else 0.2)
            t_torch = None
            if torch is not None:
                tx = torch.tensor(data, requires_grad=True)
                tw, tb = torch.ones(d, requires_grad=True), torch.zeros(d, requires_grad=True)

                def step_torch():
                    if kind == "layer_norm":
                        y = torch.nn.functional.layer_norm(tx, (d,), tw, tb)
                    else:
                        y = torch.nn.functional.batch_norm(tx, None, None, tw, tb, training=True)
                    y.sum().backward()

                t_torch = best_time(step_torch, repeat=repeat, min_time=0.05 if args.smoke else 0.2)
            rows.append([kind, f"{n}x{d}", fmt(t_fused * 1e3, 3), fmt(t_prim * 1e3, 3), fmt(ratio(t_prim, t_fused)), fmt(None if t_torch is None else t_torch * 1e3, 3), fmt(ratio(t_torch, t_fused))])
    print_table(
        "norm forward+backward on the CPU, float32 (ms; higher ratios favour the fused kernel)",
        ["op", "shape", "fused", "primitives", "prim/fused", "torch", "torch/fused"],
        rows,
    )


if __name__ == "__main__":
    main()
