"""Process groups on MPI: `init_process_group`, `new_group`, ranks and sizes.

A `ProcessGroup` is an MPI communicator of its own (a duplicate of `COMM_WORLD` for the
default group), so backprop's messages never mix with the user's own mpi4py traffic. Rank
and world size come from MPI (`mpiexec`, `srun`, ...); the PyTorch arguments that name them
are checked against MPI's values rather than trusted.
"""

import datetime
import enum
import importlib.util
import os

from backprop.distributed.errors import DistError

_NOT_INITIALIZED = "Default process group has not been initialized, please make sure to call init_process_group."


class Backend(str, enum.Enum):
    """Backend names (only MPI is built in)."""

    MPI = "mpi"
    GLOO = "gloo"
    NCCL = "nccl"
    UCC = "ucc"

    def __str__(self):
        return self.value


class ProcessGroup:
    """Ranks that take part in collectives together, over one MPI communicator."""

    def __init__(self, comm, global_ranks, timeout) -> None:
        self.comm = comm
        self.global_ranks = list(global_ranks)
        self.timeout = timeout
        self._group_rank = {g: i for i, g in enumerate(self.global_ranks)}

    def rank(self):
        """This process's rank within the group."""
        return self.comm.Get_rank()

    def size(self):
        """The number of processes in the group."""
        return self.comm.Get_size()

    def name(self):
        """The backend's name: `"mpi"`."""
        return "mpi"

    def group_rank(self, global_rank, what):
        """This group's rank of the world rank `global_rank` (as PyTorch, `src`/`dst` are world ranks)."""
        if not isinstance(global_rank, int) or isinstance(global_rank, bool):
            raise TypeError(f"{what} must be an int (a rank), got {type(global_rank).__name__}")
        try:
            return self._group_rank[global_rank]
        except KeyError:
            raise ValueError(
                f"{what}={global_rank} is not a rank of this group (its world ranks are {self.global_ranks})"
            ) from None

    def __repr__(self):
        return f"ProcessGroup(backend='mpi', ranks={self.global_ranks})"


class _NonGroupMember:
    def __repr__(self):
        return "GroupMember.NON_GROUP_MEMBER"


class GroupMember:
    """`GroupMember.WORLD` is the default group once initialised; `new_group` returns
    `GroupMember.NON_GROUP_MEMBER` on ranks outside the new group."""

    WORLD = None
    NON_GROUP_MEMBER = _NonGroupMember()


class _State:
    world = None  # the default ProcessGroup
    groups = []  # every group made by new_group, freed by destroy_process_group
    mpi = None  # the mpi4py.MPI module, imported by init_process_group
    check_metadata = os.environ.get("BACKPROP_DIST_CHECKS", "1") != "0"


def is_available():
    """True when mpi4py is installed (`pip install "backprop[distributed]"`)."""
    return importlib.util.find_spec("mpi4py") is not None


def is_mpi_available():
    """True when mpi4py is importable (the MPI backend, backprop's only one, can run)."""
    return is_available()


def is_gloo_available():
    """False: backprop has no Gloo backend (use MPI)."""
    return False


def is_nccl_available():
    """False: backprop has no NCCL backend (use MPI)."""
    return False


def is_initialized():
    """Whether `init_process_group` has run (and `destroy_process_group` has not)."""
    return _State.world is not None


def _mpi():
    if _State.mpi is None:
        if not is_available():
            raise RuntimeError(
                "backprop.distributed needs mpi4py and an MPI runtime: pip install \"backprop[distributed]\" "
                "(mpi4py and mpich), or pip install mpi4py over a system MPI"
            )
        from mpi4py import MPI

        _State.mpi = MPI
    return _State.mpi


def _check_timeout(timeout):
    if timeout is None:
        return None
    if not isinstance(timeout, datetime.timedelta):
        raise TypeError(f"timeout must be a datetime.timedelta, got {type(timeout).__name__}")
    seconds = timeout.total_seconds()
    if seconds <= 0:
        raise ValueError(f"timeout must be positive, got {timeout}")
    return seconds


def _check_backend(backend):
    if backend is not None and str(backend).lower() != "mpi":
        raise ValueError(
            f"backend '{backend}' is not available: backprop.distributed runs on MPI only; "
            f"pass backend='mpi' (or leave it out) and start the ranks with mpiexec"
        )


def _check_init_method(init_method):
    if init_method is None:
        return
    if not isinstance(init_method, str):
        raise TypeError(f"init_method must be a string URL, got {type(init_method).__name__}")
    scheme, sep, _ = init_method.partition("://")
    if not sep or scheme not in ("env", "tcp", "file"):
        raise ValueError(
            f"init_method {init_method!r} is not a URL of the form env://, tcp://HOST:PORT or file:///PATH"
        )
    # MPI has already connected the ranks: a rendezvous URL is accepted for PyTorch
    # compatibility (the RANK/WORLD_SIZE variables env:// would read are checked anyway).


def _check_env(mpi_rank, mpi_size):
    for var, mpi_value in (("RANK", mpi_rank), ("WORLD_SIZE", mpi_size)):
        value = os.environ.get(var)
        if value is None:
            continue
        try:
            number = int(value)
        except ValueError:
            raise ValueError(f"environment variable {var}={value!r} is not an integer") from None
        if number != mpi_value:
            raise ValueError(
                f"environment variable {var}={number} disagrees with MPI, which gives this process {var.lower()} "
                f"{mpi_value}; with the MPI backend the launcher (mpiexec) decides: unset {var} or make it match"
            )


def init_process_group(
    backend=None,
    init_method=None,
    timeout=None,
    world_size=-1,
    rank=-1,
    store=None,
    group_name="",
    pg_options=None,
    device_id=None,
):
    """Joins this process to the job started by `mpiexec` (or `srun`, or a singleton run).

    Rank and world size come from MPI; `world_size`/`rank`, `init_method="env://"` and the
    `RANK`/`WORLD_SIZE` variables are accepted and must agree with MPI. `timeout` (a
    `datetime.timedelta`) turns a collective that waits longer into a `DistBackendError`;
    without it collectives wait as long as MPI does.

    Example::

        import backprop.distributed as dist
        dist.init_process_group("mpi")
        print(dist.get_rank(), dist.get_world_size())
    """
    if _State.world is not None:
        raise RuntimeError("trying to initialize the default process group twice!")
    _check_backend(backend)
    seconds = _check_timeout(timeout)
    if store is not None:
        raise ValueError("store is not used by the MPI backend (MPI connects the ranks itself); leave it out")
    MPI = _mpi()
    world = MPI.COMM_WORLD
    mpi_rank, mpi_size = world.Get_rank(), world.Get_size()
    for name, given, actual in (("world_size", world_size, mpi_size), ("rank", rank, mpi_rank)):
        if given is not None and given != -1 and given != actual:
            raise ValueError(
                f"init_process_group: {name}={given} disagrees with MPI's {actual}; with the MPI backend the "
                f"launcher decides: leave {name} out or start the job with mpiexec -n {world_size if name == 'world_size' else mpi_size}"
            )
    _check_init_method(init_method)
    _check_env(mpi_rank, mpi_size)
    from backprop.distributed import abort

    _State.world = ProcessGroup(world.Dup(), range(mpi_size), seconds)
    GroupMember.WORLD = _State.world
    abort.install(world)


def destroy_process_group(group=None):
    """Frees `group`'s communicator, or every group and the default one when `group` is None."""
    if _State.world is None:
        raise ValueError(_NOT_INITIALIZED)
    if group is None or group is _State.world:
        for g in _State.groups:
            g.comm.Free()
        _State.world.comm.Free()
        _State.groups = []
        _State.world = None
        GroupMember.WORLD = None
        return
    if group is GroupMember.NON_GROUP_MEMBER:
        return
    if group in _State.groups:
        _State.groups.remove(group)
        group.comm.Free()


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization=False, group_desc=None):
    """A group of the world `ranks` (all ranks when None). Every rank calls it, as in
    PyTorch; ranks outside the group get `GroupMember.NON_GROUP_MEMBER`."""
    world = _default_group()
    _check_backend(backend)
    seconds = _check_timeout(timeout) if timeout is not None else world.timeout
    size = world.size()
    ranks = list(range(size)) if ranks is None else sorted(ranks)
    for r in ranks:
        if not isinstance(r, int) or not 0 <= r < size:
            raise ValueError(f"new_group: rank {r!r} is not a world rank (0..{size - 1})")
    if len(set(ranks)) != len(ranks):
        raise ValueError(f"new_group: ranks {ranks} repeat a rank")
    MPI = _mpi()
    comm = world.comm.Create(world.comm.Get_group().Incl(ranks))
    if comm == MPI.COMM_NULL:
        return GroupMember.NON_GROUP_MEMBER
    group = ProcessGroup(comm, ranks, seconds)
    _State.groups.append(group)
    return group


def _default_group():
    if _State.world is None:
        raise ValueError(_NOT_INITIALIZED)
    return _State.world


def _resolve(group):
    """The ProcessGroup for a `group=` argument (None: the default one)."""
    world = _default_group()
    if group is None or group is GroupMember.WORLD:
        return world
    if group is GroupMember.NON_GROUP_MEMBER:
        return group
    if not isinstance(group, ProcessGroup):
        raise TypeError(f"group must be a ProcessGroup from new_group (or None), got {type(group).__name__}")
    return group


def get_rank(group=None):
    """This process's rank in `group` (-1 when it is not a member)."""
    g = _resolve(group)
    return -1 if g is GroupMember.NON_GROUP_MEMBER else g.rank()


def get_world_size(group=None):
    """The number of ranks in `group` (-1 when this process is not a member)."""
    g = _resolve(group)
    return -1 if g is GroupMember.NON_GROUP_MEMBER else g.size()


def get_backend(group=None):
    """The backend of `group` (default: the world): always `"mpi"`."""
    _resolve(group)
    return Backend.MPI.value


def get_process_group_ranks(group):
    """The world ranks of the members of `group`, in group-rank order."""
    g = _resolve(group)
    return list(g.global_ranks)


def set_metadata_checks(enabled):
    """Turns the per-collective shape/dtype agreement check on or off (on by default; also
    `BACKPROP_DIST_CHECKS=0`). Off saves one small all-reduce per collective; ranks that then
    disagree get undefined results, as with raw MPI."""
    _State.check_metadata = bool(enabled)
