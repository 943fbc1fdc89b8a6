"""`nn.functional`'s in-place activations (`relu_`, `elu_`, `threshold_`, ...): the engine's
in-place forms of the op table's rows, and the composed ones written with in-place tensor ops.
Each overwrites `input` (version-counted, followed by autograd) and returns it."""

from backprop import _core

relu_ = _core.relu_
elu_ = _core.elu_
leaky_relu_ = _core.leaky_relu_
hardtanh_ = _core.hardtanh_
celu_ = _core.celu_
selu_ = _core.selu_


def threshold_(input, threshold, value):
    """In-place `threshold`: `value` where `input <= threshold` (NaN stays), `input` elsewhere."""
    return input.masked_fill_(input <= threshold, value)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    """In-place `rrelu`: leaky ReLU with a random slope from U(lower, upper) while training,
    the mean slope otherwise."""
    from backprop.nn._activation_functions import rrelu

    return input.copy_(rrelu(input.clone(), lower, upper, training))
