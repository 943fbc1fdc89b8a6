"""The op test table: one row per differentiable op, with its NumPy forward, the domain its
inputs are drawn from, and (where the lecture's formula is simple) a NumPy-written vjp.
A new op adds one row here."""

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

import backprop as bp

try:
    from scipy.special import erf as _erf
except ImportError:  # scipy is optional; math.erf vectorised is enough here
    import math

    _erf = np.vectorize(math.erf)


@dataclass
class Op:
    name: str
    bp_fn: Callable
    np_fn: Callable
    arity: int = 1
    low: float = -3.0
    high: float = 3.0
    # Samples keep at least `gap` away from `kinks` (unary) or from ties |a - b| (binary),
    # where derivatives jump and central differences are meaningless.
    gap: float = 0.0
    kinks: tuple = (0.0,)
    np_vjp: Optional[Callable] = None  # (g, *inputs, out) -> grads
    rtol: float = 1e-4
    atol: float = 1e-5
    kwargs: dict = field(default_factory=dict)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


UNARY = [
    Op("neg", lambda x: -x, lambda x: -x, np_vjp=lambda g, x, y: [-g]),
    Op("exp", bp.exp, np.exp, np_vjp=lambda g, x, y: [g * y]),
    Op("log", bp.log, np.log, low=0.1, high=4.0, np_vjp=lambda g, x, y: [g / x]),
    Op("sqrt", bp.sqrt, np.sqrt, low=0.1, high=4.0, np_vjp=lambda g, x, y: [g / (2 * y)]),
    Op("rsqrt", bp.rsqrt, lambda x: 1 / np.sqrt(x), low=0.2, high=4.0),
    Op("reciprocal", bp.reciprocal, lambda x: 1 / x, low=0.3, high=3.0),
    Op("abs", bp.abs, np.abs, gap=1e-2, np_vjp=lambda g, x, y: [g * np.sign(x)]),
    Op("sin", bp.sin, np.sin, np_vjp=lambda g, x, y: [g * np.cos(x)]),
    Op("cos", bp.cos, np.cos, np_vjp=lambda g, x, y: [-g * np.sin(x)]),
    Op("tanh", bp.tanh, np.tanh, np_vjp=lambda g, x, y: [g * (1 - y * y)]),
    Op("sigmoid", bp.sigmoid, _sigmoid, np_vjp=lambda g, x, y: [g * y * (1 - y)]),
    Op("relu", bp.relu, lambda x: np.maximum(x, 0), gap=1e-2, np_vjp=lambda g, x, y: [g * (x > 0)]),
    Op(
        "leaky_relu",
        lambda x: bp.nn.functional.leaky_relu(x, 0.1),
        lambda x: np.where(x > 0, x, 0.1 * x),
        gap=1e-2,
        np_vjp=lambda g, x, y: [np.where(x > 0, g, 0.1 * g)],
    ),
    Op(
        "elu",
        lambda x: bp.nn.functional.elu(x, 1.5),
        lambda x: np.where(x > 0, x, 1.5 * (np.exp(x) - 1)),
        gap=1e-2,
        np_vjp=lambda g, x, y: [np.where(x > 0, g, g * (y + 1.5))],
    ),
    Op("gelu", bp.nn.functional.gelu, lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2)))),
    Op("square", bp.square, np.square, np_vjp=lambda g, x, y: [2 * g * x]),
    Op("pow_scalar", lambda x: x**2.5, lambda x: x**2.5, low=0.1, high=3.0, np_vjp=lambda g, x, y: [2.5 * g * x**1.5]),
    Op("clamp", lambda x: x.clamp(-1.0, 1.5), lambda x: np.clip(x, -1.0, 1.5), gap=1e-2, kinks=(-1.0, 1.5)),
    Op("sign", bp.sign, np.sign, gap=1e-2, np_vjp=lambda g, x, y: [np.zeros_like(x)]),
    Op("log1p", bp.log1p, np.log1p, low=-0.5, high=3.0),
]


BINARY = [
    Op("add", lambda a, b: a + b, np.add, arity=2, np_vjp=lambda g, a, b, y: [g, g]),
    Op("sub", lambda a, b: a - b, np.subtract, arity=2, np_vjp=lambda g, a, b, y: [g, -g]),
    Op("mul", lambda a, b: a * b, np.multiply, arity=2, np_vjp=lambda g, a, b, y: [g * b, g * a]),
    Op("div", lambda a, b: a / b, np.divide, arity=2, low=0.5, high=3.0, np_vjp=lambda g, a, b, y: [g / b, -g * a / b**2]),
    Op("pow", lambda a, b: a**b, np.power, arity=2, low=0.5, high=2.0, np_vjp=lambda g, a, b, y: [g * b * a ** (b - 1), g * y * np.log(a)]),
    Op(
        "maximum",
        bp.maximum,
        np.maximum,
        arity=2,
        gap=1e-2,
        np_vjp=lambda g, a, b, y: [g * (a > b), g * (b > a)],
    ),
    Op("minimum", bp.minimum, np.minimum, arity=2, gap=1e-2, np_vjp=lambda g, a, b, y: [g * (a < b), g * (b < a)]),
]
