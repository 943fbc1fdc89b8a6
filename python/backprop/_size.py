"""`backprop.Size`: the type of `Tensor.shape` and `Tensor.size()`, a tuple of ints (as
`torch.Size`)."""


class Size(tuple):
    """A tensor's shape: a tuple of ints with `numel()`. Slicing it, or adding a tuple to it,
    gives a `Size` again.

    Args:
        sizes: an iterable of non-negative ints (default: empty, the shape of a 0-d tensor).
    """

    # No __new__ of its own: tuple's (in C) builds it, so `Tensor.shape` costs no Python frame.
    __slots__ = ()

    def numel(self):
        """The number of elements a tensor of this shape holds (1 for the empty shape)."""
        n = 1
        for d in self:
            n *= d
        return n

    def __getitem__(self, key):
        item = tuple.__getitem__(self, key)
        return Size(item) if isinstance(key, slice) else item

    def __add__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return Size(tuple.__add__(self, other))

    def __radd__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return Size(tuple.__add__(other, self))

    def __mul__(self, n):
        return Size(tuple.__mul__(self, n))

    __rmul__ = __mul__

    def __repr__(self):
        return f"backprop.Size({list(self)})"

    def __reduce__(self):
        return (Size, (tuple(self),))
