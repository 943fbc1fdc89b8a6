"""`Maxout`: the lecture's max(w1^T x + b1, w2^T x + b2), generalised to k pieces."""

from backprop import _core
from backprop.nn.linear import Linear
from backprop.nn.module import Module


class Maxout(Module):
    """`y_j = max_i (x W_i^T + b_i)_j` over `pieces` affine maps (Goodfellow et al., 2013).

    The pieces are one `Linear(in_features, pieces * out_features)` whose output rows
    `[i * out_features, (i + 1) * out_features)` belong to piece `i`, so the forward is one
    fused matmul; the max routes each output's gradient to the winning piece.
    """

    def __init__(self, in_features: int, out_features: int, pieces=2, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        if pieces < 1:
            raise ValueError(f"Maxout: pieces must be at least 1, got {pieces}")
        self.in_features = in_features
        self.out_features = out_features
        self.pieces = pieces
        self.linear = Linear(in_features, pieces * out_features, bias=bias, device=device, dtype=dtype)

    def forward(self, input):
        z = _core.linear(input, self.linear.weight, self.linear.bias)
        z = z.unflatten(-1, (self.pieces, self.out_features))
        return z.max(dim=-2).values

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, pieces={self.pieces}"
