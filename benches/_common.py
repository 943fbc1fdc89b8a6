"""Shared benchmark helpers: timing and a ratio table printer."""

import importlib
import time


def optional(module):
    """The module, or None when the reference is not installed (reported as missing)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def best_time(fn, repeat=5, min_time=0.2, number=None):
    """Best per-call time over `repeat` rounds; each round runs at least `min_time` seconds."""
    fn()  # warm up
    if number is None:
        number, elapsed = 1, 0.0
        while elapsed < min_time / 4:
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            elapsed = time.perf_counter() - t0
            if elapsed < min_time / 4:
                number *= 2
        number = max(1, int(number * min_time / max(elapsed, 1e-9)))
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def print_table(title, header, rows):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    print(f"\n{title}")
    line = "  ".join(str(h).rjust(w) for h, w in zip(header, widths))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(str(c).rjust(w) for c, w in zip(r, widths)))


def fmt(x, digits=2):
    return "missing" if x is None else f"{x:.{digits}f}"


def ratio(a, b):
    return None if a is None or b is None else a / b
