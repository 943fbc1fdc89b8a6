"""Data-parallel training across processes and machines, on MPI (through mpi4py).

PyTorch's `torch.distributed` names for the `"mpi"` backend. Start the ranks with
`mpiexec -n 4 python train.py` (or `python -m backprop.distributed.run -n 4 train.py`, or
Slurm's `srun`); each calls `init_process_group("mpi")` and gets its rank and the world
size from MPI. CPU tensors go to MPI as their own memory; GPU tensors are staged through
host memory. `backprop.nn.parallel.DistributedDataParallel` averages gradients during
backward. Needs `pip install "backprop[distributed]"` (mpi4py and mpich).

Example::

    import backprop as bp
    import backprop.distributed as dist

    dist.init_process_group("mpi")
    t = bp.ones(3) * dist.get_rank()
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
"""

from backprop.distributed.collectives import (
    ReduceOp,
    Work,
    all_gather,
    all_gather_into_tensor,
    all_gather_object,
    all_reduce,
    all_to_all_single,
    barrier,
    broadcast,
    broadcast_object_list,
    gather,
    reduce,
    reduce_scatter_tensor,
    scatter,
)
from backprop.distributed.errors import DistBackendError, DistError
from backprop.distributed.process_group import (
    Backend,
    GroupMember,
    ProcessGroup,
    destroy_process_group,
    get_backend,
    get_process_group_ranks,
    get_rank,
    get_world_size,
    init_process_group,
    is_available,
    is_gloo_available,
    is_initialized,
    is_mpi_available,
    is_nccl_available,
    new_group,
    set_metadata_checks,
)

group = GroupMember

__all__ = [
    "Backend",
    "DistBackendError",
    "DistError",
    "GroupMember",
    "ProcessGroup",
    "ReduceOp",
    "Work",
    "all_gather",
    "all_gather_into_tensor",
    "all_gather_object",
    "all_reduce",
    "all_to_all_single",
    "barrier",
    "broadcast",
    "broadcast_object_list",
    "destroy_process_group",
    "gather",
    "get_backend",
    "get_process_group_ranks",
    "get_rank",
    "get_world_size",
    "group",
    "init_process_group",
    "is_available",
    "is_gloo_available",
    "is_initialized",
    "is_mpi_available",
    "is_nccl_available",
    "new_group",
    "reduce",
    "reduce_scatter_tensor",
    "scatter",
    "set_metadata_checks",
]
