"""The arithmetic variants as `backprop.X` functions: the `Tensor` methods of the same name
(bound directly, so calling them costs no Python frame) and the engine functions that have no
method (`rsub`, `logit_`, ...). PyTorch's names and signatures."""

from backprop import _core

_T = _core.Tensor

add = _T.add  # add(input, other, *, alpha=1)
sub = _T.sub
subtract = _T.subtract
multiply = _T.multiply
div = _T.div  # div(input, other, *, rounding_mode=None)
divide = _T.divide
true_divide = _T.true_divide
float_power = _T.float_power
ldexp = _T.ldexp
positive = _T.positive
negative = _T.negative
absolute = _T.absolute
fix = _T.fix
arccos = _T.arccos
arcsin = _T.arcsin
arctan = _T.arctan
arccosh = _T.arccosh
arcsinh = _T.arcsinh
arctanh = _T.arctanh
arctan2 = _T.arctan2
rsub = _core.rsub
lerp = _core.lerp
addcmul = _core.addcmul
addcdiv = _core.addcdiv
logit = _core.logit
logit_ = _core.logit_
clamp_ = _core.clamp_

__all__ = [
    "add", "sub", "subtract", "multiply", "div", "divide", "true_divide", "float_power", "ldexp", "positive",
    "negative", "absolute", "fix", "arccos", "arcsin", "arctan", "arccosh", "arcsinh", "arctanh", "arctan2",
    "rsub", "lerp", "addcmul", "addcdiv", "logit", "logit_", "clamp_",
]  # fmt: skip
