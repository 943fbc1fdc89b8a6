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
gelu = _core.gelu  # gelu(input, approximate="none" | "tanh")

# The op table's activations (rust/ops/table.rs, rows marked `function`): softplus, silu,
# mish, hardtanh, relu6, hardsigmoid, hardswish, softsign, logsigmoid, selu, celu.
for _op in _core._op_table():
    if _op["api"] == "function":
        globals()[_op["name"]] = getattr(_core, _op["name"])
del _op


def one_hot(tensor, num_classes=-1):
    """Int64 one-hot encoding of class indices."""
    from backprop import arange

    n = int(tensor.max().item()) + 1 if num_classes < 0 else num_classes
    return (tensor.unsqueeze(-1) == arange(n, device=tensor.device)).long()
