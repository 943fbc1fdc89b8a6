"""Optimizers with PyTorch's names and update rules; each parameter group's update is one
fused engine call (LBFGS, driven by its closure, is Python over tensor operations, as
PyTorch's is). `backprop.optim.lr_scheduler` has the learning-rate schedules and
`backprop.optim.swa_utils` weight averaging (SWA, EMA)."""

from backprop.optim import lr_scheduler, swa_utils
from backprop.optim.adadelta import Adadelta
from backprop.optim.adagrad import Adagrad
from backprop.optim.adam import Adam, AdamW
from backprop.optim.adamax import Adamax
from backprop.optim.asgd import ASGD
from backprop.optim.lbfgs import LBFGS
from backprop.optim.nadam import NAdam
from backprop.optim.optimizer import Optimizer, register_optimizer_step_post_hook, register_optimizer_step_pre_hook
from backprop.optim.radam import RAdam
from backprop.optim.rmsprop import RMSprop
from backprop.optim.rprop import Rprop
from backprop.optim.sgd import SGD

__all__ = [
    "ASGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "LBFGS",
    "NAdam",
    "Optimizer",
    "RAdam",
    "RMSprop",
    "Rprop",
    "SGD",
    "lr_scheduler",
    "register_optimizer_step_post_hook",
    "register_optimizer_step_pre_hook",
    "swa_utils",
]


def __getattr__(name):
    # A name PyTorch has and backprop lacks says so (backprop._missing).
    from backprop._missing import module_attribute_error

    raise module_attribute_error(__name__, name)
