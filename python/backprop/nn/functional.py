"""Functional NN ops with PyTorch's names: activations, softmax, losses, dropout, linear."""

from backprop import _core
from backprop._core import Tensor

linear = _core.linear
dropout = _core.dropout
leaky_relu = _core.leaky_relu
elu = _core.elu
relu = Tensor.relu
sigmoid = Tensor.sigmoid
tanh = Tensor.tanh
gelu = _core.gelu  # gelu(input, approximate="none" | "tanh")

# The op table's activations (rust/ops/table.rs, rows marked `function`): softplus, silu,
# mish, hardtanh, relu6, hardsigmoid, hardswish, softsign, logsigmoid, selu, celu.
for _op in _core._op_table():
    if _op["api"] == "function":
        globals()[_op["name"]] = getattr(_core, _op["name"])
del _op


# Losses, layers, normalisation and the composed activations live in their own modules.
from backprop.nn._activation_functions import (  # noqa: E402
    glu,
    hardshrink,
    log_softmax,
    prelu,
    rrelu,
    softmax,
    softmin,
    softshrink,
    tanhshrink,
    threshold,
)
from backprop.nn._inplace_functions import celu_, elu_, hardtanh_, leaky_relu_, relu_, rrelu_, selu_, threshold_  # noqa: E402,F401
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


def __getattr__(name):
    # A name PyTorch has and backprop lacks says so (backprop._missing).
    from backprop._missing import module_attribute_error

    raise module_attribute_error(__name__, name)
