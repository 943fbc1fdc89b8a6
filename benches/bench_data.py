"""DataLoader throughput: one Fashion-MNIST training epoch (60,000 images, batch 64) with a
per-sample transform (so worker processes have work to share), num_workers=0 vs 2, and
PyTorch's DataLoader on the same data and transform when torch is importable.

    python benches/bench_data.py            the full epoch
    python benches/bench_data.py --smoke    2,000 images, for CI

Ratios are against backprop's num_workers=0 in the same run (higher is faster).
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _common import fmt, optional, print_table  # noqa: E402

FASHION = "/usr/share/datasets/fashion-mnist"


def transform(img):
    """Per-sample work of a typical augmentation: scale, normalise, random flip and shift."""
    x = img.astype(np.float32) / 255.0
    x = (x - 0.2860) / 0.3530
    if img[0, 0] & 1:
        x = x[:, ::-1]
    return np.ascontiguousarray(np.roll(x, int(img[14, 14]) % 3 - 1, axis=0))[None]


class Images:
    """A map-style data set over NumPy arrays, shared by both libraries' loaders."""

    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return transform(self.images[i]), int(self.labels[i])


def epoch_seconds(make_loader):
    t0 = time.perf_counter()
    n = 0
    for x, _ in make_loader():
        n += len(x)
    return time.perf_counter() - t0, n


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", help="2,000 images instead of 60,000 (CI)")
    p.add_argument("--batch-size", type=int, default=64, help="samples per batch (default 64)")
    args = p.parse_args()

    from backprop.data import DataLoader, datasets

    if not os.path.isdir(FASHION):
        sys.exit(f"bench_data: Fashion-MNIST is not installed in {FASHION} (apt-get install dataset-fashion-mnist)")
    train = datasets.FashionMNIST(FASHION)
    n = 2000 if args.smoke else len(train)
    ds = Images(train.data[:n], train.targets.numpy()[:n])
    rows = []
    base = None
    for workers in (0, 2):
        kwargs = dict(batch_size=args.batch_size, shuffle=True, generator=0, num_workers=workers)
        seconds, count = epoch_seconds(lambda: DataLoader(ds, **kwargs))
        assert count == n
        base = base or seconds
        rows.append([f"backprop num_workers={workers}", f"{n / seconds:,.0f}", fmt(seconds, 3), fmt(base / seconds)])
    torch = optional("torch")
    if torch is None:
        rows.append(["torch DataLoader num_workers=0/2", "missing", "missing", "missing"])
    else:
        from torch.utils.data import DataLoader as TorchLoader

        for workers in (0, 2):
            seconds, count = epoch_seconds(lambda: TorchLoader(ds, batch_size=args.batch_size, shuffle=True, num_workers=workers))
            assert count == n
            rows.append([f"torch num_workers={workers}", f"{n / seconds:,.0f}", fmt(seconds, 3), fmt(base / seconds)])
    print_table(
        f"Fashion-MNIST epoch, {n} images, batch {args.batch_size}, per-sample transform ({os.cpu_count()} CPUs)",
        ["loader", "images/s", "seconds", "x vs backprop 0 workers"],
        rows,
    )


if __name__ == "__main__":
    main()
