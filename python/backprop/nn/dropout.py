"""`Dropout`: inverted dropout in training mode, the identity in evaluation mode."""

from backprop import _core
from backprop.nn.module import Module


class Dropout(Module):
    """Zeroes each element with probability `p` while training and scales the kept ones by
    1 / (1 - p), so evaluation (`model.eval()`) needs no rescaling. `inplace=True` is accepted
    for PyTorch compatibility; the result is computed out of place."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input):
        return _core.dropout(input, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"
