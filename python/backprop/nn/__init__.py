"""Neural-network building blocks (`backprop.nn.functional` holds the functional forms)."""

from backprop.nn import functional

__all__ = ["functional"]
