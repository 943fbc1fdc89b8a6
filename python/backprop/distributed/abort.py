"""A rank that raises takes the whole job down.

Without this, an exception on one rank leaves the others waiting forever in their next
collective. `install` (run by `init_process_group`) replaces `sys.excepthook`: the
traceback is printed once, by the failing rank, with its rank in front, and then
`MPI_Abort` ends every process of the job (mpiexec reports the exit code).
"""

import struct
import sys
import time
import traceback

try:
    import fcntl
    import termios
except ImportError:  # Windows (MS-MPI): no FIONREAD on pipes; the traceback is written unwaited
    fcntl = termios = None

# How long the failing rank waits for mpiexec to take its traceback before it aborts.
_DRAIN_LIMIT_S = 5.0


def _wait_until_forwarded(stream):
    """Waits until the reader of `stream` (mpiexec's proxy, through a pipe) has taken all
    that was written.

    A rank's stderr is a pipe that mpiexec's proxy forwards; `MPI_Abort` reaches mpiexec on
    another channel, and mpiexec kills the job at once, so a traceback still in the pipe is
    lost (CI saw an empty stderr). FIONREAD on a pipe counts the unread bytes from either
    end; once it is zero the proxy has read everything, and the proxy forwards what it read
    before it handles the abort request that follows.
    """
    if fcntl is None:
        return
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return
    deadline = time.monotonic() + _DRAIN_LIMIT_S
    while time.monotonic() < deadline:
        try:
            unread = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0]
        except OSError:
            return  # not a pipe or socket: nothing is waiting in between
        if unread == 0:
            return
        time.sleep(0.005)


def install(world):
    previous = sys.excepthook
    if getattr(previous, "_backprop_abort", False):
        return

    def abort_job(etype, value, tb):
        if world.Get_size() == 1:
            previous(etype, value, tb)
            return
        rank = world.Get_rank()
        lines = traceback.format_exception(etype, value, tb)
        sys.stderr.write(f"[rank {rank}] " + f"[rank {rank}] ".join("".join(lines).splitlines(keepends=True)))
        sys.stderr.write(f"[rank {rank}] aborting the job (MPI_Abort) because this rank raised {etype.__name__}\n")
        sys.stderr.flush()
        sys.stdout.flush()
        _wait_until_forwarded(sys.stderr)
        _wait_until_forwarded(sys.stdout)
        world.Abort(1)

    abort_job._backprop_abort = True
    sys.excepthook = abort_job
