"""Neural-network building blocks with PyTorch's names and semantics.

`backprop.nn.functional` holds the functional forms; `backprop.nn.init` the initialisers;
`backprop.nn.utils` gradient clipping.
"""

from backprop.nn import functional, init, parallel, utils
from backprop.nn.activation import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from backprop.nn.container import ModuleList, Sequential
from backprop.nn.dropout import Dropout
from backprop.nn.flatten import Flatten, Unflatten
from backprop.nn.linear import Identity, Linear
from backprop.nn.loss import CrossEntropyLoss, MSELoss, MultiMarginLoss, NLLLoss
from backprop.nn.maxout import Maxout
from backprop.nn.module import Module
from backprop.nn.parameter import Parameter

__all__ = [
    "CrossEntropyLoss",
    "Dropout",
    "ELU",
    "Flatten",
    "GELU",
    "Identity",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "Maxout",
    "Module",
    "ModuleList",
    "MultiMarginLoss",
    "NLLLoss",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "Unflatten",
    "functional",
    "init",
    "utils",
]
