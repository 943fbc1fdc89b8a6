"""A rank that raises takes the whole job down.

Without this, an exception on one rank leaves the others waiting forever in their next
collective. `install` (run by `init_process_group`) replaces `sys.excepthook`: the
traceback is printed once, by the failing rank, with its rank in front, and then
`MPI_Abort` ends every process of the job (mpiexec reports the exit code).
"""

import sys
import traceback


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
        world.Abort(1)

    abort_job._backprop_abort = True
    sys.excepthook = abort_job
