"""Loss modules: the functional losses with their options stored on the module."""

from backprop import _core
from backprop.nn.module import Module


class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        if reduction not in ("none", "mean", "sum"):
            raise ValueError(f"{type(self).__name__}: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
        self.reduction = reduction

    def _weight(self, weight):
        if weight is not None:
            self.register_buffer("weight", weight)
        else:
            self.weight = None


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy of logits `[N, C]` against int64 class indices `[N]` (or class
    probabilities `[N, C]`)."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(reduction)
        self._weight(weight)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return _core.cross_entropy(input, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing)

    def extra_repr(self):
        return f"reduction={self.reduction!r}" + (f", label_smoothing={self.label_smoothing}" if self.label_smoothing else "")


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities `[N, C]` at int64 class indices `[N]`."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        super().__init__(reduction)
        self._weight(weight)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return _core.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class MSELoss(_Loss):
    """Mean (or summed) squared error between tensors of one shape."""

    def forward(self, input, target):
        return _core.mse_loss(input, target, self.reduction)


class MultiMarginLoss(_Loss):
    """The multiclass SVM hinge loss: per sample, sum over j != y of max(0, margin - x[y] + x[j])^p / C."""

    def __init__(self, p=1, margin=1.0, weight=None, reduction="mean"):
        super().__init__(reduction)
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: only p=1 and p=2 are supported, got {p}")
        self.p = p
        self.margin = margin
        self._weight(weight)

    def forward(self, input, target):
        return _core.multi_margin_loss(input, target, self.p, self.margin, self.weight, self.reduction)

    def extra_repr(self):
        return f"p={self.p}, margin={self.margin}"
