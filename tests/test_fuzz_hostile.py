"""Hostile calls (the catalogue in `fuzz_catalogue.py`), run in subprocess batches so that a
crash (segfault, abort, out-of-memory kill) fails the batch instead of the test run. Each
call must raise a clear exception of its kind: never a PanicException, never return normally."""

import json
import os
import subprocess
import sys

import pytest

import backprop as bp

sys.path.insert(0, os.path.dirname(__file__))
import fuzz_catalogue  # noqa: E402

BATCH = 60

# Runs `entries` ([(code, kind)]) one by one, printing one JSON line per entry *before* and
# after it runs, so a crash names the entry that caused it.
RUNNER = r"""
import json, sys
entries = json.loads(sys.stdin.read())
ns = {}
exec(SETUP, ns)
for n, (code, kind) in enumerate(entries):
    print(json.dumps({"start": n}), flush=True)
    try:
        exec(code, dict(ns))
        result = {"n": n, "raised": None}
    except BaseException as e:
        result = {"n": n, "raised": type(e).__name__, "mro": [c.__name__ for c in type(e).__mro__], "msg": str(e)[:300]}
    print(json.dumps(result), flush=True)
"""

ALLOWED = {
    "value": {"ValueError", "IndexError", "RuntimeError", "MemoryError"},
    "type": {"ValueError", "IndexError", "RuntimeError", "MemoryError", "TypeError"},
    "overflow": {"ValueError", "IndexError", "RuntimeError", "MemoryError", "OverflowError"},
}
NEVER = {"PanicException", "SystemError", "AttributeError", "NameError", "SyntaxError", "KeyError", "UnboundLocalError"}
# TypeErrors that come from calling with the wrong number of arguments, not from a checked argument.
UNPACKING = ("positional argument", "required positional", "unexpected keyword", "takes no arguments")


def _gpu():
    try:
        return bp.gpu.is_available()
    except Exception:
        return False


def _entries():
    return fuzz_catalogue.catalogue(gpu=_gpu())


def _batches():
    entries = _entries()
    return [entries[i : i + BATCH] for i in range(0, len(entries), BATCH)]


def run_batch(entries, timeout=120):
    """Runs the entries in a fresh interpreter; returns (results by index, crash description or None)."""
    code = f"SETUP = {fuzz_catalogue.SETUP!r}\n" + RUNNER
    proc = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(entries),
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "RUST_BACKTRACE": "0"},
    )
    results, started = {}, None
    for line in proc.stdout.splitlines():
        rec = json.loads(line)
        if "start" in rec:
            started = rec["start"]
        else:
            results[rec["n"]] = rec
    crash = None
    if proc.returncode != 0 or len(results) != len(entries):
        last = entries[started][0] if started is not None else "<setup>"
        crash = f"interpreter died (exit {proc.returncode}) while running {last!r}:\n{proc.stderr[-2000:]}"
    return results, crash


def verdict(code, kind, rec):
    """None when the result is acceptable, else what is wrong with it."""
    raised = rec["raised"]
    if raised is None:
        return f"{code!r}: returned normally; expected an exception ({kind})"
    if raised in NEVER or set(rec["mro"]) & NEVER:
        return f"{code!r}: raised {raised}: {rec['msg']}"
    if not set(rec["mro"]) & ALLOWED[kind]:
        return f"{code!r}: raised {raised} ({rec['msg']}); expected one of {sorted(ALLOWED[kind])}"
    if raised == "TypeError" and any(u in rec["msg"] for u in UNPACKING):
        return f"{code!r}: TypeError from argument unpacking: {rec['msg']}"
    if not rec["msg"].strip():
        return f"{code!r}: {raised} without a message"
    return None


def test_the_catalogue_is_large_enough():
    assert len(fuzz_catalogue.catalogue()) >= 300


@pytest.mark.parametrize("batch", range(len(_batches())))
def test_hostile_calls_raise_clear_exceptions(batch):
    entries = _batches()[batch]
    results, crash = run_batch(entries)
    problems = [crash] if crash else []
    for n, (code, kind) in enumerate(entries):
        if n in results:
            problem = verdict(code, kind, results[n])
            if problem:
                problems.append(problem)
    assert not problems, f"{len(problems)} of {len(entries)} hostile calls misbehaved:\n" + "\n".join(problems)


def test_a_crash_is_caught_as_a_failure():
    """The harness itself: a call that kills the interpreter is reported, naming the call."""
    results, crash = run_batch([("1 + 1", "value"), ("import os; os.abort()", "value")])
    assert crash is not None and "os.abort()" in crash
    assert verdict("1 + 1", "value", results[0]) is not None  # returning normally is flagged
