"""`Parameter`: a tensor that a `Module` registers as one of its learnable weights."""

from backprop._core import Tensor


class Parameter(Tensor):
    """A leaf tensor that requires grad by default and that modules collect in `parameters()`.

    `Parameter(t)` shares `t`'s memory (no copy), like PyTorch's.
    """

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            from backprop import empty

            data = empty(0)
        elif not isinstance(data, Tensor):
            raise TypeError(f"Parameter: expected a Tensor, got {type(data).__name__}; wrap values with backprop.tensor(...) first")
        return super().__new__(cls, data, requires_grad=requires_grad)

    def __init__(self, data=None, requires_grad=True) -> None:
        # Tensor.__new__ made the tensor; requires_grad_ here (which __new__ cannot do: the
        # object does not exist yet there) makes graph walks hand back this very object.
        if requires_grad:
            self.requires_grad_()

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        from backprop import no_grad

        with no_grad():
            copy = Parameter(self.detach().clone(), self.requires_grad)
        memo[id(self)] = copy
        return copy

    def __reduce_ex__(self, protocol):
        return (_rebuild_parameter, (self.detach(), self.requires_grad))


def _rebuild_parameter(data, requires_grad):
    return Parameter(data, requires_grad)

