"""The memory MPI reads and writes for a tensor.

A contiguous CPU tensor goes to MPI as itself: a NumPy view of its own memory, no copy. A
strided view or a GPU tensor is staged through one contiguous host array (for a GPU tensor,
one transfer each way), and `store()` writes the result back into the tensor.
"""

import numpy as np

import backprop as bp


class HostBuffer:
    __slots__ = ("tensor", "array", "staged")

    def __init__(self, tensor, read=True) -> None:
        """`read=False` when MPI only writes the buffer (a staged copy then skips the download)."""
        self.tensor = tensor
        if tensor.device.type == "cpu" and tensor.is_contiguous():
            self.array = tensor.detach().numpy()
            self.staged = False
        else:
            if read:
                self.array = np.ascontiguousarray(tensor.detach().cpu().numpy())
            else:
                self.array = np.empty(tuple(tensor.shape), dtype=numpy_dtype(tensor.dtype))
            self.staged = True

    def store(self):
        """Makes the tensor hold what MPI wrote (a no-op for a tensor MPI wrote directly)."""
        if self.staged:
            copy_into(self.tensor, self.array)


def numpy_dtype(dtype):
    return {bp.float32: np.float32, bp.float64: np.float64, bp.int64: np.int64, bp.bool: np.bool_}[dtype]


def copy_into(tensor, array):
    """Writes the host `array` (of `tensor`'s shape and dtype) into `tensor`."""
    tensor.detach().copy_(bp.from_numpy(np.ascontiguousarray(array)).to(tensor.device))


def host_array(tensor):
    """`tensor`'s values as a host array (a view for a CPU tensor, a copy for a GPU one)."""
    return tensor.detach().cpu().numpy()
