"""GPU benchmark: float32 matmul GFLOP/s and the MLP train step, backprop on its GPU against
PyTorch on CUDA (TF32 off) when present. Prints one table; a reference that is not
available is reported as missing.

    python benches/bench_gpu.py            # full table
    python benches/bench_gpu.py --quick    # smoke pass (CI; the default on software adapters)
    python benches/bench_gpu.py --full --reps 1   # every size even on lavapipe (minutes)

The MLP step is the lecture's model (ReLU) with cross-entropy and AdamW on both sides.
Targets from the GPU issue, on a real NVIDIA GPU: matmul 4096 at least 35% of PyTorch's
GFLOP/s; MLP step at batch 4096 at most 2x PyTorch's time, at batch 64 at most 1.5x.
On lavapipe (a CPU running Vulkan) the numbers only show that everything runs.
"""

import argparse
import time

import numpy as np

import backprop as bp

F = bp.nn.functional
MLP_SIZES = (784, 512, 512, 10)


def timed(fn, sync, reps, warmup):
    for _ in range(warmup):
        fn()
    sync()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    sync()
    return (time.perf_counter() - t0) / reps


# ---- backprop ----------------------------------------------------------------------------


def bp_matmul(n, reps, warmup):
    rng = np.random.default_rng(0)
    a = bp.tensor(rng.standard_normal((n, n), dtype=np.float32), device="gpu")
    b = bp.tensor(rng.standard_normal((n, n), dtype=np.float32), device="gpu")
    return timed(lambda: a @ b, bp.gpu.synchronize, reps, warmup)


def mlp_init(rng, sizes=MLP_SIZES):
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1 / np.sqrt(fan_in)
        params.append(rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32))
        params.append(rng.uniform(-bound, bound, fan_out).astype(np.float32))
    return params


LR = 5e-4  # AdamW, as the lecture's MNIST example and bench_train


def bp_mlp_step(batch, reps, warmup):
    rng = np.random.default_rng(0)
    params = [bp.tensor(p, device="gpu", requires_grad=True) for p in mlp_init(rng)]
    opt = bp.optim.AdamW(params, lr=LR)
    x = bp.tensor(rng.standard_normal((batch, MLP_SIZES[0]), dtype=np.float32), device="gpu")
    y = bp.tensor(rng.integers(0, MLP_SIZES[-1], batch), device="gpu")

    def step():
        h = x
        for i in range(0, len(params) - 2, 2):
            h = F.relu(F.linear(h, params[i], params[i + 1]))
        loss = F.cross_entropy(F.linear(h, params[-2], params[-1]), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return timed(step, bp.gpu.synchronize, reps, warmup)


# ---- PyTorch CUDA ------------------------------------------------------------------------


def torch_cuda():
    try:
        import torch
    except ImportError:
        return None, "missing (PyTorch not installed)"
    if not torch.cuda.is_available():
        return None, "missing (no CUDA device)"
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    return torch, torch.cuda.get_device_name(0)


def torch_matmul(torch, n, reps, warmup):
    a = torch.randn(n, n, device="cuda")
    b = torch.randn(n, n, device="cuda")
    return timed(lambda: a @ b, torch.cuda.synchronize, reps, warmup)


def torch_mlp_step(torch, batch, reps, warmup):
    rng = np.random.default_rng(0)
    params = [torch.tensor(p, device="cuda", requires_grad=True) for p in mlp_init(rng)]
    opt = torch.optim.AdamW(params, lr=LR)
    x = torch.tensor(rng.standard_normal((batch, MLP_SIZES[0]), dtype=np.float32), device="cuda")
    y = torch.tensor(rng.integers(0, MLP_SIZES[-1], batch), device="cuda")
    tf = torch.nn.functional

    def step():
        h = x
        for i in range(0, len(params) - 2, 2):
            h = tf.relu(tf.linear(h, params[i], params[i + 1]))
        loss = tf.cross_entropy(tf.linear(h, params[-2], params[-1]), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return timed(step, torch.cuda.synchronize, reps, warmup)


# ---- the table ---------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke pass: small sizes, one repetition")
    ap.add_argument("--full", action="store_true", help="every size even on a software adapter (minutes on lavapipe)")
    ap.add_argument("--reps", type=int, default=None, help="timed repetitions per row")
    args = ap.parse_args()

    if not bp.gpu.is_available():
        print(f"backprop GPU: missing ({bp.gpu.unavailable_reason()})")
        return
    info = bp.gpu.adapter_info()
    software = info["device_type"] == "Cpu"
    quick = args.quick or (software and not args.full)
    torch, torch_name = torch_cuda()
    print(f"backprop GPU : {info['name']} ({info['backend']}, {info['device_type']})")
    print(f"PyTorch CUDA : {torch_name}")
    if quick:
        print("(smoke pass: a software adapter or --quick; sizes above the smoke limits are skipped)")
    print()

    rows = []
    for n in (256, 1024, 4096):
        skip = quick and n > 1024
        reps = args.reps or (1 if quick else (20 if n < 4096 else 10))
        flop = 2.0 * n**3
        ours = None if skip else flop / bp_matmul(n, reps, 1) / 1e9
        ref = flop / torch_matmul(torch, n, reps, 3) / 1e9 if torch else None
        target = "ratio >= 0.35" if n == 4096 else ""
        rows.append((f"matmul {n}x{n}x{n} f32", "GFLOP/s", ours, ref, target, skip))
    for batch in (64, 512, 4096):
        skip = quick and batch > 512
        reps = args.reps or (2 if quick else 50)
        ours = None if skip else bp_mlp_step(batch, reps, 1 if (quick or software) else 5) * 1e3
        ref = torch_mlp_step(torch, batch, reps, 5) * 1e3 if torch else None
        target = {64: "ratio <= 1.5", 4096: "ratio <= 2"}.get(batch, "")
        rows.append((f"MLP 784-512-512-10 step, batch {batch}", "ms", ours, ref, target, skip))

    header = ("benchmark", "unit", "backprop-gpu", "pytorch-cuda", "backprop/pytorch", "target")
    table = [header]
    for name, unit, ours, ref, target, skip in rows:
        ours_s = "skipped (smoke)" if skip else f"{ours:.2f}"
        ref_s = "missing" if ref is None else f"{ref:.2f}"
        ratio = f"{ours / ref:.2f}" if (ours is not None and ref is not None) else "-"
        table.append((name, unit, ours_s, ref_s, ratio, target))
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for i, r in enumerate(table):
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
        if i == 0:
            print("  ".join("-" * w for w in widths))


if __name__ == "__main__":
    main()
