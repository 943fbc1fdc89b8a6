"""Data sets: MNIST and Fashion-MNIST from IDX files, and the generated spiral set."""

from backprop.data.datasets.mnist import MNIST, DatasetNotFoundError, FashionMNIST
from backprop.data.datasets.spiral import spiral

__all__ = ["DatasetNotFoundError", "FashionMNIST", "MNIST", "spiral"]
