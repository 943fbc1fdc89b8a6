"""Training benchmarks for the lecture's 784-512-512-10 MLP (ReLU, dropout 0.4, AdamW 5e-4).

    python benches/bench_train.py            train-step tables, batch 64 to 4096, in ms, for
                                             backprop (at every CPU kernel level this machine
                                             runs), a hand-written NumPy version (forward,
                                             backward and AdamW written out, as in the
                                             lecture's "flat" backprop), PyTorch (CPU) and JAX
                                             (jit), once with 1 thread per library and once
                                             with all cores; batch 64 also gets the step's
                                             compute bound from the measured matmul peak
    python benches/bench_train.py --fashion  the demo's full run (5 epochs of Fashion-MNIST):
                                             seconds per epoch and test accuracy, backprop
                                             against PyTorch training the same model the same way
    python benches/bench_train.py --rss      peak resident memory over 10,000 train steps
    python benches/bench_train.py --smoke    a few steps of each, for CI
    --threads N                              only the table for N threads per library (rayon,
                                             OpenMP, OpenBLAS/MKL, XLA); by default 1 and all

All timings are medians of interleaved rounds of at least ROUND_S seconds each (every
implementation takes its turn in every round, so load on the machine hits all of them
alike), each implementation in a process of its own.
"""

import argparse
import gc
import math
import os
import statistics
import sys
import time

import numpy as np

import backprop as bp
from backprop.demo import MLP
from backprop.nn import functional as F

SIZES = (784, 512, 512, 10)
P_DROP, LR, WEIGHT_DECAY, BETAS, EPS = 0.4, 5e-4, 1e-2, (0.9, 0.999), 1e-8
BATCHES = (64, 256, 512, 1024, 4096)
#: backprop's step at most this fraction of the fastest reference's (issue 16).
TARGET_VS_BEST = 0.8
#: and at batch 64 within this factor of the compute bound.
TARGET_VS_BOUND = 2.0
#: steps per timed round, at least; a round also runs on until it has taken ROUND_S
STEPS = {64: 40, 256: 15, 512: 8, 1024: 4, 4096: 2}
#: Each timed round runs at least this long. Rounds start after a 0.3 s pause (below), and
#: on a small VM the rate after a pause varies widely: with 4-step rounds at batch 1024 (about
#: 50 ms) and 2 threads, JAX measured 14.7 ms per step and backprop 11.5, against 11.2 and
#: 10.2 with 40-step rounds in the same setup; a round of a quarter second measures the
#: steady state that training runs in.
ROUND_S = 0.25


def step_flops(batch):
    """Floating-point operations of one train step's matmuls (what the bound counts).

    Forward `x @ w.T` per layer, backward `g.T @ x` for every weight gradient and `g @ w`
    for the input gradient of every layer but the first (the images need no gradient):
    2 flops per multiply-add. Element-wise work (ReLU, dropout, softmax, AdamW) is left out;
    it is memory-bound and small beside the products.
    """
    layers = list(zip(SIZES[:-1], SIZES[1:]))
    macs = sum(i * o for i, o in layers) * 2 + sum(i * o for i, o in layers[1:])
    return 2 * batch * macs


def try_torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


# ---- the three implementations of one training step ------------------------------------


class BackpropStep:
    name = "backprop"

    def __init__(self, batch, seed=0, level=None):
        if level is not None:
            bp.set_cpu_kernels(level)
        bp.manual_seed(seed)
        self.model = MLP()
        self.opt = bp.optim.AdamW(self.model.parameters(), lr=LR)
        self.x = bp.randn(batch, 1, 28, 28)
        self.y = bp.randint(0, 10, (batch,))

    def __call__(self):
        self.opt.zero_grad()
        loss = F.cross_entropy(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()
        return loss


class NumpyStep:
    """The lecture's flat style: forward, hand-derived backward and AdamW, in float32 NumPy."""

    name = "numpy"

    def __init__(self, batch, seed=0):
        self.rng = np.random.default_rng(seed)
        self.params = []
        for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
            bound = 1 / math.sqrt(fan_in)
            self.params.append(self.rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32))
            self.params.append(self.rng.uniform(-bound, bound, fan_out).astype(np.float32))
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0
        self.x = self.rng.standard_normal((batch, 784)).astype(np.float32)
        self.y = self.rng.integers(0, 10, batch)

    def dropout_mask(self, shape):
        keep = 1 - P_DROP
        return (self.rng.random(shape, dtype=np.float32) < keep).astype(np.float32) * np.float32(1 / keep)

    def __call__(self):
        w1, b1, w2, b2, w3, b3 = self.params
        x, y, n = self.x, self.y, len(self.y)
        # forward
        h1 = x @ w1.T + b1
        m1 = self.dropout_mask(h1.shape)
        a1 = np.maximum(h1, 0) * m1
        h2 = a1 @ w2.T + b2
        m2 = self.dropout_mask(h2.shape)
        a2 = np.maximum(h2, 0) * m2
        scores = a2 @ w3.T + b3
        scores -= scores.max(axis=1, keepdims=True)
        probs = np.exp(scores)
        probs /= probs.sum(axis=1, keepdims=True)
        loss = -np.log(probs[np.arange(n), y]).mean()
        # backward
        dscores = probs
        dscores[np.arange(n), y] -= 1
        dscores /= n
        dw3, db3 = dscores.T @ a2, dscores.sum(axis=0)
        dh2 = (dscores @ w3) * m2 * (h2 > 0)
        dw2, db2 = dh2.T @ a1, dh2.sum(axis=0)
        dh1 = (dh2 @ w2) * m1 * (h1 > 0)
        dw1, db1 = dh1.T @ x, dh1.sum(axis=0)
        # AdamW
        self.t += 1
        b1_, b2_ = BETAS
        step_size = LR / (1 - b1_**self.t)
        bc2_sqrt = math.sqrt(1 - b2_**self.t)
        for p, g, m, v in zip(self.params, (dw1, db1, dw2, db2, dw3, db3), self.m, self.v):
            p *= 1 - LR * WEIGHT_DECAY
            m *= b1_
            m += (1 - b1_) * g
            v *= b2_
            v += (1 - b2_) * g * g
            p -= step_size * m / (np.sqrt(v) / bc2_sqrt + EPS)
        return loss


class TorchStep:
    name = "pytorch"

    def __init__(self, batch, seed=0):
        torch = try_torch()
        torch.manual_seed(seed)

        class TorchMLP(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = torch.nn.Linear(784, 512)
                self.d1 = torch.nn.Dropout(P_DROP)
                self.fc2 = torch.nn.Linear(512, 512)
                self.d2 = torch.nn.Dropout(P_DROP)
                self.fc3 = torch.nn.Linear(512, 10)

            def forward(self, x):
                x = x.view(-1, 784)
                x = self.d1(torch.nn.functional.relu(self.fc1(x)))
                x = self.d2(torch.nn.functional.relu(self.fc2(x)))
                return self.fc3(x)

        self.torch = torch
        self.model = TorchMLP()
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=LR)
        self.x = torch.randn(batch, 1, 28, 28)
        self.y = torch.randint(0, 10, (batch,))

    def __call__(self):
        self.opt.zero_grad()
        loss = self.torch.nn.functional.cross_entropy(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()
        return loss


def try_jax():
    try:
        import jax
    except ImportError:
        return None
    return jax


class JaxStep:
    """The same step as the NumPy one, written with jax.numpy and compiled whole by jax.jit
    (forward, jax.grad's backward and AdamW in one XLA program)."""

    name = "jax"

    def __init__(self, batch, seed=0):
        import jax
        import jax.numpy as jnp

        key = jax.random.PRNGKey(seed)
        params = []
        for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
            key, kw, kb = jax.random.split(key, 3)
            bound = 1 / math.sqrt(fan_in)
            params.append(jax.random.uniform(kw, (fan_out, fan_in), jnp.float32, -bound, bound))
            params.append(jax.random.uniform(kb, (fan_out,), jnp.float32, -bound, bound))
        key, kx, ky = jax.random.split(key, 3)
        self.x = jax.random.normal(kx, (batch, 784), jnp.float32)
        self.y = jax.random.randint(ky, (batch,), 0, 10)
        keep = 1 - P_DROP

        def loss_fn(params, x, y, key):
            w1, b1, w2, b2, w3, b3 = params
            k1, k2 = jax.random.split(key)
            h = jax.nn.relu(x @ w1.T + b1) * jax.random.bernoulli(k1, keep, (x.shape[0], 512)) / keep
            h = jax.nn.relu(h @ w2.T + b2) * jax.random.bernoulli(k2, keep, (x.shape[0], 512)) / keep
            logits = h @ w3.T + b3
            logp = jax.nn.log_softmax(logits)
            return -jnp.take_along_axis(logp, y[:, None], axis=1).mean()

        def step(params, m, v, t, x, y, key):
            key, sub = jax.random.split(key)
            loss, grads = jax.value_and_grad(loss_fn)(params, x, y, sub)
            t = t + 1
            b1_, b2_ = BETAS
            step_size = LR / (1 - b1_**t)
            bc2_sqrt = jnp.sqrt(1 - b2_**t)
            new_p, new_m, new_v = [], [], []
            for p, g, mi, vi in zip(params, grads, m, v):
                p = p * (1 - LR * WEIGHT_DECAY)
                mi = b1_ * mi + (1 - b1_) * g
                vi = b2_ * vi + (1 - b2_) * g * g
                p = p - step_size * mi / (jnp.sqrt(vi) / bc2_sqrt + EPS)
                new_p.append(p)
                new_m.append(mi)
                new_v.append(vi)
            return new_p, new_m, new_v, t, key, loss

        self.jstep = jax.jit(step, donate_argnums=(0, 1, 2))
        self.state = (params, [jnp.zeros_like(p) for p in params], [jnp.zeros_like(p) for p in params], jnp.float32(0), key)

    def __call__(self):
        params, m, v, t, key = self.state
        params, m, v, t, key, loss = self.jstep(params, m, v, t, self.x, self.y, key)
        self.state = (params, m, v, t, key)
        return loss.block_until_ready()


# ---- timing ------------------------------------------------------------------------------


IMPLS = {"backprop": BackpropStep, "numpy": NumpyStep, "pytorch": TorchStep, "jax": JaxStep}

#: CPU kernel levels, widest first (backprop.set_cpu_kernels).
LEVELS = ("avx512", "avx2", "baseline")


def make_step(impl, batch):
    """`backprop` runs at the level chosen by `auto`; `backprop:avx2` forces one."""
    name, _, level = impl.partition(":")
    if name == "backprop":
        return BackpropStep(batch, level=level or None)
    return IMPLS[name](batch)


def matmul_peak_gflops():
    """The best of backprop's and NumPy's float32 1024 x 1024 matmul, in GFLOP/s (the peak
    the compute bound divides by), with the thread settings of the calling process."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((1024, 1024), dtype=np.float32)
    ba = bp.from_numpy(a)
    best = {}
    for name, f in (("backprop", lambda: ba @ ba), ("numpy", lambda: a @ a)):
        f()
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            f()
            times.append(time.perf_counter() - t0)
        best[name] = 2 * 1024**3 / min(times) / 1e9
    return max(best.values())


def _worker(conn, impl, batch):
    """Runs one implementation in its own process, timing batches of steps on request.

    Separate processes keep the thread pools apart: OpenBLAS, OpenMP (PyTorch) and rayon
    worker threads spin for a while after each parallel region, and on a small machine the
    spinning threads of one library would steal the cores of the next one being timed.
    """
    if os.environ.get("BENCH_ONE_CPU") and hasattr(os, "sched_setaffinity"):
        # Thread settings are requests some libraries ignore (JAX 0.10's XLA runs two threads
        # under intra_op_parallelism_threads=1: its CPU time per step was twice its wall time),
        # so the 1-thread rows also pin every worker to one core before it imports anything.
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    step = make_step(impl, batch) if impl != "peak" else None
    while True:
        request = conn.recv()
        if request is None:
            conn.close()
            return
        if step is None:  # the matmul-peak probe, measured under the same thread settings
            conn.send((matmul_peak_gflops(), 0.0))
            continue
        steps, min_seconds = request
        gc.collect()
        start, cpu = time.perf_counter(), time.process_time()
        done = 0
        while done < steps or time.perf_counter() - start < min_seconds:
            step()
            done += 1
        conn.send(((time.perf_counter() - start) / done * 1e3, (time.process_time() - cpu) / done * 1e3))


def median_ms(names, batch, steps, rounds, min_seconds=0.0):
    """Median ms per step of each implementation over interleaved rounds (each in its own
    process; every implementation takes its turn in every round, so changes in the machine's
    load hit them alike) of at least `steps` steps and `min_seconds`."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    workers = {}
    for name in names:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_worker, args=(child, name, batch), daemon=True)
        proc.start()
        workers[name] = (parent, proc)
    wall = {name: [] for name in names}
    cpu = {name: [] for name in names}
    try:
        for r in range(rounds + 1):  # round 0 warms up
            for name, (conn, _) in workers.items():
                conn.send((steps, min_seconds))
                wall_ms, cpu_ms = conn.recv()
                if r:
                    wall[name].append(wall_ms)
                    cpu[name].append(cpu_ms)
                time.sleep(0.3)  # let the finished library's spinning threads go to sleep
    finally:
        for conn, proc in workers.values():
            conn.send(None)
            proc.join(timeout=10)
    median = lambda d: {name: statistics.median(v) for name, v in d.items()}  # noqa: E731
    return median(wall), median(cpu)


def thread_env(threads):
    """Environment variables that limit every library to `threads` threads (None: all cores),
    read by each library when a worker process imports it."""
    env = {}
    for var in ("RAYON_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads) if threads else None
    xla = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" if threads == 1 else None
    env["XLA_FLAGS"] = xla
    env["BENCH_ONE_CPU"] = "1" if threads == 1 else None
    return env


def step_table(threads=None, smoke=False):
    """One table: every batch size, every implementation, `threads` threads each (None: all)."""
    for var, value in thread_env(threads).items():
        if value is None:
            os.environ.pop(var, None)
        else:
            os.environ[var] = value
    torch, jax = try_torch(), try_jax()
    cap = bp.get_cpu_capability()
    levels = [lv for lv in LEVELS[LEVELS.index(cap) :]]
    ours = ["backprop"] + [f"backprop:{lv}" for lv in levels[1:]]
    refs = ["numpy"] + (["pytorch"] if torch is not None else []) + (["jax"] if jax is not None else [])
    label = f"{threads} thread{'s' if threads != 1 else ''}" if threads else f"all threads ({os.cpu_count()})"
    print(f"\nTrain step of the {'-'.join(map(str, SIZES))} MLP (ReLU, dropout {P_DROP}, AdamW), CPU, {label} per library, ms per step (median)")
    print(
        f"backprop kernels: auto = {cap}; NumPy {np.__version__}; PyTorch {torch.__version__ if torch else 'not installed'}; "
        f"JAX {jax.__version__ if jax else 'not installed (pip install jax for its row)'}; load average {os.getloadavg()[0]:.2f}"
    )
    batches = (64, 256) if smoke else BATCHES
    cols = [f"bp {lv}" for lv in levels] + [r for r in refs] + ["best ref", "bp/best", f"<= {TARGET_VS_BEST}", "bound", "bp/bound"]
    header = f"{'batch':>5}  " + "  ".join(f"{c:>9}" for c in cols)
    print(header)
    print("-" * len(header))
    results, cpu_rows = {}, []
    for batch in batches:
        names = ours + refs + (["peak"] if batch == 64 else [])
        steps = 2 if smoke else STEPS[batch]
        rounds = 1 if smoke else 5
        ms, cpu = median_ms(names, batch, steps, rounds, 0.0 if smoke else ROUND_S)
        results[batch] = ms
        cpu_rows.append((batch, cpu))
        best_name = min(refs, key=lambda r: ms[r])
        best = ms[best_name]
        ratio = ms["backprop"] / best
        cells = [f"{ms[n]:.2f}" for n in ours] + [f"{ms[r]:.2f}" for r in refs]
        cells += [best_name, f"{ratio:.2f}", "met" if ratio <= TARGET_VS_BEST else "NOT met"]
        if batch == 64:
            # ms["peak"] holds the probe's GFLOP/s, not a time
            bound_ms = step_flops(batch) / (ms["peak"] * 1e9) * 1e3
            r_bound = ms["backprop"] / bound_ms
            verdict = "met" if r_bound <= TARGET_VS_BOUND else "NOT met"
            cells += [f"{bound_ms:.2f}", f"{r_bound:.2f} {verdict}"]
        else:
            cells += ["", ""]
        print(f"{batch:>5}  " + "  ".join(f"{c:>9}" for c in cells), flush=True)
    peak = results[64].get("peak") if 64 in results else None
    if peak:
        print(
            f"bound: {step_flops(64) / 1e6:.0f} MFLOP of matmuls per batch-64 step at the measured float32 matmul peak of "
            f"{peak:.0f} GFLOP/s (best of backprop and NumPy, 1024^3); target bp <= {TARGET_VS_BOUND}x bound"
        )
    print("CPU time per step (all threads of the process, ms; robust to other load on the machine):")
    for batch, cpu in cpu_rows:
        print(f"{batch:>5}  " + "  ".join(f"{name} {v:.2f}" for name, v in cpu.items() if name != "peak"))
    return results


# ---- the full Fashion-MNIST run -------------------------------------------------------


def fashion_run(epochs=5, batch=64, smoke=False):
    """The demo's model and schedule on Fashion-MNIST, timed per epoch, for backprop and PyTorch."""
    from backprop import demo
    from backprop.data import DataLoader

    train_set, test_set, source, classes = demo.load_data(None)
    if not source.startswith("Fashion"):
        print("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist); nothing to run")
        return None
    if smoke:
        train_set = bp.data.Subset(train_set, range(512))
        epochs = 1
    print(f"Full run: {source}, {len(train_set)} training images, batch {batch}, {epochs} epochs")
    bp.manual_seed(0)
    model = demo.MLP()
    opt = bp.optim.AdamW(model.parameters(), lr=LR)
    loader = DataLoader(train_set, batch_size=batch, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=1000)
    total_steps = epochs * len(loader)
    sched = bp.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_steps)  # the demo's default
    ours = []
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        demo.train_epoch(model, loader, opt, "cpu", epoch, sched)
        elapsed = time.perf_counter() - start
        _, acc = demo.evaluate(model, test_loader, "cpu")
        ours.append((elapsed, acc))
        print(f"  backprop epoch {epoch}: {elapsed:6.2f} s  test accuracy {acc:.2%}", flush=True)

    theirs = []
    torch = try_torch()
    if torch is not None:
        # PyTorch trains the same model on the same normalised tensors, batched the way our
        # loader does it (a shuffled index gather per batch, no per-sample Python work), so the
        # comparison is of the training itself.
        xs, ys = [], []
        for xb, yb in DataLoader(train_set, batch_size=4096):
            xs.append(xb.numpy())
            ys.append(yb.numpy())
        x_train, y_train = torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys))
        xt, yt = next(iter(DataLoader(test_set, batch_size=len(test_set))))
        x_test, y_test = torch.from_numpy(xt.numpy()), torch.from_numpy(yt.numpy())
        step = TorchStep(batch)
        tmodel, topt = step.model, step.opt
        tsched = torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=total_steps)
        n = len(y_train)
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            tmodel.train()
            perm = torch.randperm(n)
            for i in range(0, n, batch):
                idx = perm[i : i + batch]
                topt.zero_grad()
                loss = torch.nn.functional.cross_entropy(tmodel(x_train[idx]), y_train[idx])
                loss.backward()
                topt.step()
                tsched.step()
            elapsed = time.perf_counter() - start
            tmodel.eval()
            with torch.no_grad():
                acc = (tmodel(x_test).argmax(1) == y_test).float().mean().item()
            theirs.append((elapsed, acc))
            print(f"  pytorch  epoch {epoch}: {elapsed:6.2f} s  test accuracy {acc:.2%}", flush=True)

    ours_s = statistics.mean(t for t, _ in ours)
    print(f"{'':12}{'s/epoch':>9}  {'final test accuracy':>20}")
    print(f"{'backprop':12}{ours_s:>9.2f}  {ours[-1][1]:>20.2%}")
    if theirs:
        theirs_s = statistics.mean(t for t, _ in theirs)
        print(f"{'pytorch':12}{theirs_s:>9.2f}  {theirs[-1][1]:>20.2%}")
        print(f"backprop / pytorch time per epoch: {ours_s / theirs_s:.2f}")
    else:
        print("pytorch: missing")
    if not smoke:
        verdict = "met" if ours[-1][1] >= 0.88 else "NOT met"
        print(f"target: test accuracy >= 88% after {epochs} epochs: {verdict}")
    return ours, theirs


# ---- memory over a long run -------------------------------------------------------------


def peak_rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_run(steps=10_000, smoke=False):
    """Peak RSS sampled every tenth of a run of train steps: it must stop growing after warm-up."""
    if smoke:
        steps = 200
    step = BackpropStep(64)
    marks = []
    for i in range(1, steps + 1):
        step()
        if i % (steps // 10) == 0:
            marks.append((i, peak_rss_mb()))
    print(f"Peak RSS over {steps} train steps (batch 64):")
    print("  " + "  ".join(f"{i}: {mb:.1f} MB" for i, mb in marks))
    growth = marks[-1][1] - marks[0][1]
    flat = growth < 5.0
    print(f"growth from step {marks[0][0]} to {marks[-1][0]}: {growth:+.1f} MB -> {'flat' if flat else 'GROWING'}")
    return flat


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fashion", action="store_true", help="the 5-epoch Fashion-MNIST run")
    parser.add_argument("--rss", action="store_true", help="peak RSS over 10,000 train steps")
    parser.add_argument("--smoke", action="store_true", help="a few steps of each mode (CI)")
    parser.add_argument("--threads", type=int, help="threads for every library (default: all cores)")
    args = parser.parse_args(argv)
    if args.smoke:  # exercises every mode; the numbers of so short a run mean nothing
        step_table(threads=1, smoke=True)
        fashion_run(smoke=True)
        rss_run(smoke=True)
        return 0
    if args.fashion:
        fashion_run()
    elif args.rss:
        return 0 if rss_run() else 1
    else:
        for threads in [args.threads] if args.threads else [1, None]:
            step_table(threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
