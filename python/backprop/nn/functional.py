"""Functional NN ops with PyTorch's names: activations, softmax, losses, dropout, linear."""

from backprop import _core
from backprop._core import Tensor

linear = _core.linear
cross_entropy = _core.cross_entropy
nll_loss = _core.nll_loss
mse_loss = _core.mse_loss
multi_margin_loss = _core.multi_margin_loss
dropout = _core.dropout
softmax = _core.softmax
log_softmax = _core.log_softmax
leaky_relu = _core.leaky_relu
elu = _core.elu
relu = Tensor.relu
sigmoid = Tensor.sigmoid
tanh = Tensor.tanh
gelu = Tensor.gelu


def relu6(input):
    return input.clamp(0.0, 6.0)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, linear above `threshold` for stability."""
    scaled = input * beta
    soft = (scaled.clamp(max=threshold).exp() + 1.0).log() / beta
    return _core.where(scaled > threshold, input, soft)


def hardtanh(input, min_val=-1.0, max_val=1.0):
    return input.clamp(min_val, max_val)


def one_hot(tensor, num_classes=-1):
    """Int64 one-hot encoding of class indices."""
    from backprop import arange

    n = int(tensor.max().item()) + 1 if num_classes < 0 else num_classes
    return (tensor.unsqueeze(-1) == arange(n, device=tensor.device)).long()
