"""Dropout layers: inverted dropout in training mode, the identity in evaluation mode;
channel-wise (`Dropout1d/2d`) and self-normalising (`AlphaDropout`, `FeatureAlphaDropout`)
variants."""

from backprop import _core
from backprop.nn import functional as F
from backprop.nn.module import Module


class Dropout(Module):
    """Zeroes each element with probability `p` while training and scales the kept ones by
    1 / (1 - p), so evaluation (`model.eval()`) needs no rescaling. `inplace=True` is accepted
    for PyTorch compatibility; the result is computed out of place."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input):
        return _core.dropout(input, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout1d(_DropoutNd):
    """Zeroes whole channels of `[N, C, L]` (or `[C, L]`) input with probability `p`."""

    def forward(self, input):
        return F.dropout1d(input, self.p, self.training)


class Dropout2d(_DropoutNd):
    """Zeroes whole channels of `[N, C, H, W]` (or `[C, H, W]`) input with probability `p`."""

    def forward(self, input):
        return F.dropout2d(input, self.p, self.training)


class AlphaDropout(_DropoutNd):
    """Dropout that keeps SELU activations' mean and variance."""

    def forward(self, input):
        return F.alpha_dropout(input, self.p, self.training)


class FeatureAlphaDropout(_DropoutNd):
    """Alpha dropout of whole channels."""

    def forward(self, input):
        return F.feature_alpha_dropout(input, self.p, self.training)
