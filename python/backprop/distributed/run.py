"""`python -m backprop.distributed.run -n 4 train.py ARGS...`: starts a script on N ranks.

A thin wrapper over `mpiexec` (the one pip's `mpich` puts beside this Python, or the first
on PATH): it adds `-n`, the hosts, and this Python interpreter, and returns mpiexec's exit
code. Everything else — connecting the ranks, placing them on machines — is MPI's.
Under Slurm, skip it: `srun -n 8 python train.py` starts the ranks itself.
"""

import argparse
import os
import shutil
import subprocess
import sys
import sysconfig


def find_mpiexec():
    """Path of `mpiexec`: where pip puts scripts for this interpreter (beside it in a venv,
    the user's scripts directory for `pip install --user`), else on PATH."""
    dirs = [os.path.dirname(sys.executable), sysconfig.get_path("scripts")]
    try:
        dirs.append(sysconfig.get_path("scripts", f"{os.name}_user"))
    except KeyError:
        pass
    for d in dirs:
        here = os.path.join(d, "mpiexec")
        if os.path.isfile(here) and os.access(here, os.X_OK):
            return here
    found = shutil.which("mpiexec") or shutil.which("mpirun")
    if found is None:
        raise FileNotFoundError(
            "mpiexec not found beside this Python or on PATH; pip install \"backprop[distributed]\" "
            "(installs mpich, which provides it) or install a system MPI"
        )
    return found


def _flavour(mpiexec):
    """'openmpi' or 'mpich' (Hydra), from `mpiexec --version`."""
    try:
        out = subprocess.run([mpiexec, "--version"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "mpich"
    return "openmpi" if "Open MPI" in out or "OpenRTE" in out else "mpich"


def build_command(args, mpiexec):
    cmd = [mpiexec, "-n", str(args.nproc)]
    flavour = _flavour(mpiexec) if (args.hosts or args.hostfile) else "mpich"
    if args.hosts:
        cmd += ["--host" if flavour == "openmpi" else "-hosts", args.hosts]
    if args.hostfile:
        cmd += ["--hostfile" if flavour == "openmpi" else "-f", args.hostfile]
    cmd += [sys.executable]
    if args.module:
        cmd += ["-m", args.script]
    else:
        cmd += [args.script]
    return cmd + args.script_args


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m backprop.distributed.run",
        description="Run a training script on N MPI ranks (a thin wrapper over mpiexec).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("-n", "--nproc", type=int, default=1, help="number of ranks (processes) to start, over all hosts")
    parser.add_argument("--hosts", metavar="H1,H2", help="comma-separated machines to place ranks on (passed to mpiexec)")
    parser.add_argument("--hostfile", metavar="FILE", help="a file naming the machines, one per line, as mpiexec reads it")
    parser.add_argument("--mpiexec", metavar="PATH", help="the mpiexec to use (default: the one beside this Python, else PATH)")
    parser.add_argument("-m", dest="module", action="store_true", help="run SCRIPT as a module (python -m SCRIPT)")
    parser.add_argument("--dry-run", action="store_true", help="print the mpiexec command instead of running it")
    parser.add_argument("script", metavar="SCRIPT", help="the Python script (or, with -m, module) each rank runs")
    parser.add_argument("script_args", nargs=argparse.REMAINDER, help="arguments passed to SCRIPT")
    args = parser.parse_args(argv)
    if args.nproc < 1:
        parser.error(f"-n must be at least 1, got {args.nproc}")
    try:
        mpiexec = args.mpiexec or find_mpiexec()
    except FileNotFoundError as e:
        parser.exit(2, f"{parser.prog}: error: {e}\n")
    cmd = build_command(args, mpiexec)
    if args.dry_run:
        print(" ".join(cmd))
        return 0
    try:
        return subprocess.call(cmd)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
