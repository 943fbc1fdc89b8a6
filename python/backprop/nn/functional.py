"""Functional NN ops with PyTorch's names: activations, softmax, losses, dropout, linear."""

from backprop import _core
from backprop._core import Tensor

linear = _core.linear
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


# Losses, layers, normalisation and the composed activations live in their own modules.
from backprop.nn._activation_functions import glu, hardshrink, prelu, rrelu, softmin, softshrink, tanhshrink, threshold  # noqa: E402
from backprop.nn._layer_functions import (  # noqa: E402
    alpha_dropout,
    bilinear,
    dropout1d,
    dropout2d,
    embedding,
    embedding_bag,
    feature_alpha_dropout,
    normalize,
    one_hot,
    pad,
)
from backprop.nn._loss_functions import *  # noqa: E402,F401,F403
from backprop.nn._norm_functions import batch_norm, group_norm, instance_norm, layer_norm, rms_norm  # noqa: E402
