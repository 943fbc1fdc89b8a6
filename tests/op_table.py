"""The op test table: one row per differentiable op, with its NumPy forward, the domain its
inputs are drawn from, and (where the lecture's formula is simple) a NumPy-written vjp.
A new op adds one row here."""

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

import backprop as bp

try:
    from scipy.special import erf as _erf
    from scipy.special import erfinv as _erfinv
except ImportError:  # scipy is optional; math.erf vectorised is enough here (erfinv's row skips)
    import math

    _erf = np.vectorize(math.erf)
    _erfinv = None


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


def _softplus(x, beta=1.0, threshold=20.0):
    return np.where(x * beta > threshold, x, np.log1p(np.exp(x * beta)) / beta)


F = bp.nn.functional
_INTS = tuple(float(k) for k in range(-3, 4))
_HALVES = tuple(k + 0.5 for k in range(-4, 4))
_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def _zero_vjp(g, x, y):
    return [np.zeros_like(x)]


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
    Op("log1p", bp.log1p, np.log1p, low=-0.5, high=3.0, np_vjp=lambda g, x, y: [g / (1 + x)]),
    # The op table's new rows (rust/ops/table.rs).
    Op("expm1", bp.expm1, np.expm1, np_vjp=lambda g, x, y: [g * (y + 1)]),
    Op("log2", bp.log2, np.log2, low=0.1, high=4.0, np_vjp=lambda g, x, y: [g / (x * np.log(2))]),
    Op("log10", bp.log10, np.log10, low=0.1, high=4.0),
    Op("erf", bp.erf, _erf, np_vjp=lambda g, x, y: [g * 2 / np.sqrt(np.pi) * np.exp(-x * x)]),
    Op("tan", bp.tan, np.tan, low=-1.2, high=1.2, np_vjp=lambda g, x, y: [g * (1 + y * y)]),
    Op("atan", bp.atan, np.arctan, np_vjp=lambda g, x, y: [g / (1 + x * x)]),
    Op("asin", bp.asin, np.arcsin, low=-0.9, high=0.9, np_vjp=lambda g, x, y: [g / np.sqrt(1 - x * x)]),
    Op("acos", bp.acos, np.arccos, low=-0.9, high=0.9, np_vjp=lambda g, x, y: [-g / np.sqrt(1 - x * x)]),
    Op("sinh", bp.sinh, np.sinh, np_vjp=lambda g, x, y: [g * np.cosh(x)]),
    Op("cosh", bp.cosh, np.cosh, np_vjp=lambda g, x, y: [g * np.sinh(x)]),
    Op("asinh", bp.asinh, np.arcsinh, np_vjp=lambda g, x, y: [g / np.sqrt(x * x + 1)]),
    Op("atanh", bp.atanh, np.arctanh, low=-0.9, high=0.9, np_vjp=lambda g, x, y: [g / (1 - x * x)]),
    Op("floor", bp.floor, np.floor, gap=1e-2, kinks=_INTS, np_vjp=_zero_vjp),
    Op("ceil", bp.ceil, np.ceil, gap=1e-2, kinks=_INTS, np_vjp=_zero_vjp),
    Op("round", bp.round, np.round, gap=1e-2, kinks=_HALVES, np_vjp=_zero_vjp),
    Op("trunc", bp.trunc, np.trunc, gap=1e-2, kinks=_INTS, np_vjp=_zero_vjp),
    Op("frac", bp.frac, lambda x: x - np.trunc(x), gap=1e-2, kinks=_INTS, np_vjp=lambda g, x, y: [g]),
    Op(
        "softplus",
        lambda x: F.softplus(x, beta=2.0, threshold=3.0),
        lambda x: _softplus(x, 2.0, 3.0),
        gap=1e-2,
        kinks=(1.5,),
        np_vjp=lambda g, x, y: [np.where(2 * x > 3, g, g * _sigmoid(2 * x))],
    ),
    Op("silu", F.silu, lambda x: x * _sigmoid(x), np_vjp=lambda g, x, y: [g * _sigmoid(x) * (1 + x * (1 - _sigmoid(x)))]),
    Op("mish", F.mish, lambda x: x * np.tanh(_softplus(x))),
    Op(
        "hardtanh",
        lambda x: F.hardtanh(x, -1.0, 1.5),
        lambda x: np.clip(x, -1.0, 1.5),
        gap=1e-2,
        kinks=(-1.0, 1.5),
        np_vjp=lambda g, x, y: [g * ((x > -1) & (x < 1.5))],
    ),
    Op("relu6", F.relu6, lambda x: np.clip(x, 0, 6), low=-2.0, high=7.0, gap=1e-2, kinks=(0.0, 6.0)),
    Op("hardsigmoid", F.hardsigmoid, lambda x: np.clip(x + 3, 0, 6) / 6, low=-4.0, high=4.0, gap=1e-2, kinks=(-3.0, 3.0)),
    Op(
        "hardswish",
        F.hardswish,
        lambda x: x * np.clip(x + 3, 0, 6) / 6,
        low=-4.0,
        high=4.0,
        gap=1e-2,
        kinks=(-3.0, 3.0),
        np_vjp=lambda g, x, y: [g * np.where(x <= -3, 0, np.where(x < 3, x / 3 + 0.5, 1))],
    ),
    Op("softsign", F.softsign, lambda x: x / (1 + np.abs(x)), np_vjp=lambda g, x, y: [g / (1 + np.abs(x)) ** 2]),
    Op("logsigmoid", F.logsigmoid, lambda x: -np.logaddexp(0, -x), np_vjp=lambda g, x, y: [g * _sigmoid(-x)]),
    Op(
        "selu",
        F.selu,
        lambda x: _SELU_SCALE * np.where(x > 0, x, _SELU_ALPHA * np.expm1(x)),
        gap=1e-2,
        np_vjp=lambda g, x, y: [g * _SELU_SCALE * np.where(x > 0, 1, _SELU_ALPHA * np.exp(x))],
    ),
    Op("celu", lambda x: F.celu(x, 1.5), lambda x: np.where(x > 0, x, 1.5 * np.expm1(x / 1.5))),
    Op("acosh", bp.acosh, np.arccosh, low=1.2, high=4.0, np_vjp=lambda g, x, y: [g / np.sqrt(x * x - 1)]),
    Op("erfc", bp.erfc, lambda x: 1 - _erf(x), np_vjp=lambda g, x, y: [-g * 2 / np.sqrt(np.pi) * np.exp(-x * x)]),
    Op("exp2", bp.exp2, np.exp2, np_vjp=lambda g, x, y: [g * y * np.log(2)]),
    Op("deg2rad", bp.deg2rad, np.deg2rad, np_vjp=lambda g, x, y: [g * np.pi / 180]),
    Op("rad2deg", bp.rad2deg, np.rad2deg, np_vjp=lambda g, x, y: [g * 180 / np.pi]),
    Op("sinc", bp.sinc, np.sinc),
    Op("logit", bp.logit, lambda x: np.log(x / (1 - x)), low=0.05, high=0.95, np_vjp=lambda g, x, y: [g / (x * (1 - x))]),
    Op(
        "logit_eps",
        lambda x: bp.logit(x, eps=0.2),
        lambda x: np.log(np.clip(x, 0.2, 0.8) / (1 - np.clip(x, 0.2, 0.8))),
        low=0.02,
        high=0.98,
        gap=1e-2,
        kinks=(0.2, 0.8),
        np_vjp=lambda g, x, y: [np.where((x < 0.2) | (x > 0.8), 0.0, g / (x * (1 - x)))],
    ),
    Op("sgn", bp.sgn, np.sign, gap=1e-2, np_vjp=_zero_vjp),
    Op(
        "gelu_tanh",
        lambda x: F.gelu(x, approximate="tanh"),
        lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3))),
    ),
] + (
    []
    if _erfinv is None
    else [
        Op(
            "erfinv",
            bp.erfinv,
            _erfinv,
            low=-0.9,
            high=0.9,
            np_vjp=lambda g, x, y: [g * np.sqrt(np.pi) / 2 * np.exp(_erfinv(x) ** 2)],
        )
    ]
)


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
    Op(
        "atan2",
        bp.atan2,
        np.arctan2,
        arity=2,
        low=0.3,
        high=3.0,
        np_vjp=lambda g, a, b, y: [g * b / (a * a + b * b), -g * a / (a * a + b * b)],
    ),
    # Quotients stay in (0.58, 1.73): the only step (a == b) is kept away by `gap`.
    Op(
        "fmod",
        bp.fmod,
        np.fmod,
        arity=2,
        low=1.1,
        high=1.9,
        gap=1e-2,
        np_vjp=lambda g, a, b, y: [g, -g * np.trunc(a / b)],
    ),
    Op("hypot", bp.hypot, np.hypot, arity=2, low=0.2, high=3.0, np_vjp=lambda g, a, b, y: [g * a / y, g * b / y]),
    Op(
        "logaddexp",
        bp.logaddexp,
        np.logaddexp,
        arity=2,
        np_vjp=lambda g, a, b, y: [g * _sigmoid(a - b), g * _sigmoid(b - a)],
    ),
    Op(
        "logaddexp2",
        bp.logaddexp2,
        np.logaddexp2,
        arity=2,
        np_vjp=lambda g, a, b, y: [g * _sigmoid((a - b) * np.log(2)), g * _sigmoid((b - a) * np.log(2))],
    ),
    Op("xlogy", bp.xlogy, lambda a, b: a * np.log(b), arity=2, low=0.1, high=3.0, np_vjp=lambda g, a, b, y: [g * np.log(b), g * a / b]),
    # b - 1.6 changes sign inside the domain; |a| stays away from 0, where d/da jumps.
    Op(
        "copysign",
        lambda a, b: bp.copysign(a, b - 1.6),
        lambda a, b: np.copysign(a, b - 1.6),
        arity=2,
        low=0.2,
        high=3.0,
        np_vjp=lambda g, a, b, y: [g * np.sign(b - 1.6), np.zeros_like(b)],
    ),
    Op("fmax", bp.fmax, np.fmax, arity=2, gap=1e-2, np_vjp=lambda g, a, b, y: [g * (a > b), g * (b > a)]),
    Op("fmin", bp.fmin, np.fmin, arity=2, gap=1e-2, np_vjp=lambda g, a, b, y: [g * (a < b), g * (b < a)]),
    Op("nextafter", bp.nextafter, np.nextafter, arity=2, gap=1e-2, rtol=1e-4, np_vjp=lambda g, a, b, y: [g, np.zeros_like(b)]),
    Op("ldexp", bp.ldexp, lambda a, b: a * np.exp2(b), arity=2, np_vjp=lambda g, a, b, y: [g * np.exp2(b), g * y * np.log(2)]),
    # Quotients stay in (0.58, 1.73): the one step of the rounded quotient (a == b) is kept away by `gap`.
    Op(
        "div_trunc",
        lambda a, b: bp.div(a, b, rounding_mode="trunc"),
        lambda a, b: np.trunc(a / b),
        arity=2,
        low=1.1,
        high=1.9,
        gap=1e-2,
        np_vjp=lambda g, a, b, y: [np.zeros_like(a), np.zeros_like(b)],
    ),
    Op(
        "div_floor",
        lambda a, b: bp.div(a, b, rounding_mode="floor"),
        np.floor_divide,
        arity=2,
        low=1.1,
        high=1.9,
        gap=1e-2,
        np_vjp=lambda g, a, b, y: [np.zeros_like(a), np.zeros_like(b)],
    ),
    Op("add_alpha", lambda a, b: bp.add(a, b, alpha=2.5), lambda a, b: a + 2.5 * b, arity=2, np_vjp=lambda g, a, b, y: [g, 2.5 * g]),
    Op("sub_alpha", lambda a, b: bp.sub(a, b, alpha=-0.5), lambda a, b: a + 0.5 * b, arity=2, np_vjp=lambda g, a, b, y: [g, 0.5 * g]),
    Op("rsub", lambda a, b: bp.rsub(a, b, alpha=2), lambda a, b: b - 2 * a, arity=2, np_vjp=lambda g, a, b, y: [-2 * g, g]),
    Op("lerp_scalar", lambda a, b: bp.lerp(a, b, 0.3), lambda a, b: a + 0.3 * (b - a), arity=2, np_vjp=lambda g, a, b, y: [0.7 * g, 0.3 * g]),
    Op(
        "remainder",
        bp.remainder,
        np.remainder,
        arity=2,
        low=1.1,
        high=1.9,
        gap=1e-2,
        np_vjp=lambda g, a, b, y: [g, -g * np.floor_divide(a, b)],
    ),
]
