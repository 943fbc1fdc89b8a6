"""The exceptions of `backprop.distributed`, named as PyTorch's."""


class DistError(RuntimeError):
    """A collective could not be carried out (for example, ranks disagree on a tensor)."""


class DistBackendError(DistError):
    """The communication layer failed or a collective exceeded the group's timeout."""
