"""Optimizers with PyTorch's names and update rules; each parameter group's update is one
fused engine call. `backprop.optim.lr_scheduler` has the learning-rate schedules."""

from backprop.optim import lr_scheduler
from backprop.optim.adam import Adam, AdamW
from backprop.optim.optimizer import Optimizer
from backprop.optim.sgd import SGD

__all__ = ["Adam", "AdamW", "Optimizer", "SGD", "lr_scheduler"]
