"""backprop: reverse-mode automatic differentiation and neural networks.

The engine (tensors, the autograd tape, CPU and GPU kernels) is Rust; this package is the
thin PyTorch-style layer over it. Importing it touches no GPU and does not import NumPy.
"""

from backprop import _core
from backprop._core import (
    DeviceError,
    DTypeError,
    ShapeError,
    Tensor,
    arange,
    cat,
    dtype,
    device,
    empty,
    empty_like,
    eye,
    float32,
    from_dlpack,
    float64,
    from_numpy,
    full,
    full_like,
    int64,
    is_grad_enabled,
    linspace,
    manual_seed,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    stack,
    tensor,
    where,
    zeros,
    zeros_like,
)
from backprop._core import Generator, default_generator, get_rng_state, initial_seed, seed, set_rng_state
from backprop._core import bernoulli, multinomial, normal, poisson, randint_like
from backprop._core import get_default_device, get_default_dtype, set_default_device, set_default_dtype
from backprop._repr import get_printoptions, printoptions, set_printoptions
from backprop._size import Size
from backprop import _tensor_names
from backprop._core import LinAlgError, addmm, addmv, baddbmm, bmm, diag, diag_embed, diagonal, mv, outer, trace, tril, triu
from backprop._core import get_cpu_capability, get_cpu_kernels, get_num_threads, set_cpu_kernels, set_num_threads
from backprop._products import cdist, cross, einsum, kron, tensordot
from backprop._shape_ops import *  # noqa: F403  (flip, roll, scatter, meshgrid, hstack, ...: see its __all__)
from backprop._grad_mode import enable_grad, no_grad, set_grad_enabled
from backprop.serialization import LoadError, load, save
from backprop import _shape_ops  # noqa: E402  (its __all__ joins ours below)

bool = _core.bool  # noqa: A001  (torch.bool)
float = float32  # noqa: A001
double = float64
long = int64
from backprop._core import bfloat16, float16, int8, int16, int32, uint8, finfo, iinfo, promote_types, can_cast, result_type
half = float16
int = int32  # noqa: A001  (torch.int)
short = int16

# Functions that are tensor methods: bound directly, so calling them costs no Python frame.
_T = Tensor
abs = _T.abs  # noqa: A001
all = _T.all  # noqa: A001
any = _T.any  # noqa: A001
argmax = _T.argmax
argmin = _T.argmin
clamp = _T.clamp
clip = _T.clip
clone = _T.clone
cos = _T.cos
div = _T.div
eq = _T.eq
exp = _T.exp
flatten = _T.flatten
floor_divide = _T.floor_divide
gather = _T.gather
ge = _T.ge
gt = _T.gt
index_select = _T.index_select
isfinite = _T.isfinite
isnan = _T.isnan
le = _T.le
log = _T.log
log_softmax = _T.log_softmax
logical_and = _T.logical_and
logical_not = _T.logical_not
logical_or = _T.logical_or
logical_xor = _T.logical_xor
logsumexp = _T.logsumexp
lt = _T.lt
masked_fill = _T.masked_fill
matmul = _T.matmul
max = _T.max  # noqa: A001
maximum = _T.maximum
mean = _T.mean
min = _T.min  # noqa: A001
minimum = _T.minimum
mm = _T.mm
mul = _T.mul
narrow = _T.narrow
ne = _T.ne
neg = _T.neg
norm = _T.norm
permute = _T.permute
reciprocal = _T.reciprocal
relu = _T.relu
remainder = _T.remainder
reshape = _T.reshape
rsqrt = _T.rsqrt
select = _T.select
sigmoid = _T.sigmoid
sign = _T.sign
sin = _T.sin
softmax = _T.softmax
split = _T.split
chunk = _T.chunk
sqrt = _T.sqrt
squeeze = _T.squeeze
std = _T.std
sub = _T.sub
sum = _T.sum  # noqa: A001
t = _T.t
tanh = _T.tanh
transpose = _T.transpose
unbind = _T.unbind
unsqueeze = _T.unsqueeze
var = _T.var
add = _T.add
amax = _T.amax
amin = _T.amin
dot = _T.dot
det = _T.det
logdet = _T.logdet
slogdet = _T.slogdet
inverse = _T.inverse
ger = outer
prod = _T.prod
cumsum = _T.cumsum
cumprod = _T.cumprod
cummax = _T.cummax
cummin = _T.cummin
logcumsumexp = _T.logcumsumexp
sort = _T.sort
argsort = _T.argsort
topk = _T.topk
kthvalue = _T.kthvalue
median = _T.median
nanmedian = _T.nanmedian
mode = _T.mode
unique = _T.unique
unique_consecutive = _T.unique_consecutive
bincount = _T.bincount
histc = _T.histc
histogram = _T.histogram
count_nonzero = _T.count_nonzero
aminmax = _T.aminmax
nansum = _T.nansum
nanmean = _T.nanmean
allclose = _T.allclose
isclose = _T.isclose
equal = _T.equal
isinf = _T.isinf
isneginf = _T.isneginf
isposinf = _T.isposinf
nan_to_num = _T.nan_to_num
clamp_min = _T.clamp_min
clamp_max = _T.clamp_max
var_mean = _core.var_mean
std_mean = _core.std_mean

Tensor.__init__ = _tensor_names.__init__
Tensor.get_device = _tensor_names.get_device

# The op table's functions (rust/ops/table.rs): `bp.X` for each row marked `method`
# (log1p, expm1, atan2, fmod, bitwise_and, ...), bound directly like the ones above.
for _op in _core._op_table():
    if _op["api"] == "method":
        globals()[_op["name"]] = getattr(_core, _op["name"])
    if _op["inplace"] and _op["arity"] == 1 and _op["api"] in ("method", "bound"):
        globals()[_op["inplace"]] = getattr(_core, _op["inplace"])  # exp_, relu_, ... (torch.exp_)
del _op
from backprop._arith import *  # noqa: E402,F401,F403  (add/sub alpha, div rounding_mode, lerp, aliases)
from backprop import _arith  # noqa: E402  (its __all__ joins ours below)


def pow(input, exponent):  # noqa: A001
    """`input ** exponent`; either may be a number."""
    return input**exponent


def is_tensor(obj):
    """True when `obj` is a backprop Tensor (Parameters included)."""
    return isinstance(obj, Tensor)


def numel(input):
    """The number of elements of `input` (the product of its shape)."""
    return input.numel()


def as_tensor(data, dtype=None, device=None):
    """`data` as a tensor, without copying when it already is one of that dtype and device."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype) if (dtype or device) else data
    return tensor(data, dtype=dtype, device=device)


_SUBMODULES = {"random", "autograd", "nn", "optim", "data", "utils", "viz", "gpu", "cuda", "demo", "distributed", "func", "linalg", "testing"}


def __getattr__(name):
    # Submodules load on first use, keeping `import backprop` fast.
    if name in _SUBMODULES:
        import importlib

        try:
            return importlib.import_module(f"backprop.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"backprop.{name}":
                raise
    from backprop._missing import module_attribute_error

    raise module_attribute_error(__name__, name)


# The public names, for `from backprop import *` and for type checkers (mypy --strict reads
# only these as re-exported); the op table's functions join at import time.
__all__ = [
    "abs",
    "add",
    "addmm",
    "addmv",
    "all",
    "amax",
    "amin",
    "any",
    "arange",
    "argmax",
    "argmin",
    "as_tensor",
    "baddbmm",
    "bmm",
    "bool",
    "cat",
    "cdist",
    "chunk",
    "clamp",
    "clip",
    "clone",
    "cos",
    "cross",
    "det",
    "device",
    "DeviceError",
    "diag",
    "diag_embed",
    "diagonal",
    "div",
    "dot",
    "double",
    "dtype",
    "DTypeError",
    "einsum",
    "empty",
    "empty_like",
    "enable_grad",
    "eq",
    "exp",
    "eye",
    "flatten",
    "float",
    "float32",
    "float64",
    "floor_divide",
    "from_dlpack",
    "from_numpy",
    "full",
    "full_like",
    "gather",
    "ge",
    "ger",
    "gt",
    "index_select",
    "int64",
    "inverse",
    "is_grad_enabled",
    "is_tensor",
    "isfinite",
    "isnan",
    "kron",
    "le",
    "LinAlgError",
    "linspace",
    "load",
    "LoadError",
    "log",
    "log_softmax",
    "logdet",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "logsumexp",
    "long",
    "lt",
    "manual_seed",
    "masked_fill",
    "matmul",
    "max",
    "maximum",
    "mean",
    "min",
    "minimum",
    "mm",
    "mul",
    "mv",
    "narrow",
    "ne",
    "neg",
    "no_grad",
    "norm",
    "numel",
    "ones",
    "ones_like",
    "outer",
    "permute",
    "pow",
    "rand",
    "rand_like",
    "randint",
    "randn",
    "randn_like",
    "randperm",
    "reciprocal",
    "relu",
    "remainder",
    "reshape",
    "rsqrt",
    "save",
    "select",
    "set_grad_enabled",
    "ShapeError",
    "sigmoid",
    "sign",
    "sin",
    "slogdet",
    "softmax",
    "split",
    "sqrt",
    "squeeze",
    "stack",
    "std",
    "sub",
    "sum",
    "t",
    "tanh",
    "Tensor",
    "tensor",
    "tensordot",
    "trace",
    "transpose",
    "tril",
    "triu",
    "unbind",
    "unsqueeze",
    "var",
    "where",
    "zeros",
    "zeros_like",
]
__all__ += [_op["name"] for _op in _core._op_table() if _op["api"] == "method"]
__all__ += _shape_ops.__all__
# random
__all__ += [
    'Generator',
    'bernoulli',
    'default_generator',
    'get_rng_state',
    'initial_seed',
    'multinomial',
    'normal',
    'poisson',
    'randint_like',
    'seed',
    'set_rng_state',
]
# dtypes
__all__ += [
    'bfloat16',
    'can_cast',
    'finfo',
    'float16',
    'half',
    'iinfo',
    'int',
    'int16',
    'int32',
    'int8',
    'promote_types',
    'result_type',
    'short',
    'uint8',
]
# defaults and printing
__all__ += [
    'Size',
    'get_default_device',
    'get_default_dtype',
    'get_printoptions',
    'printoptions',
    'set_default_device',
    'set_default_dtype',
    'set_printoptions',
]
# CPU kernels and threads
__all__ += [
    'get_cpu_capability',
    'get_cpu_kernels',
    'get_num_threads',
    'set_cpu_kernels',
    'set_num_threads',
]
# reductions, scans, sorts and comparisons
__all__ += [
    'allclose',
    'aminmax',
    'argsort',
    'bincount',
    'clamp_max',
    'clamp_min',
    'count_nonzero',
    'cummax',
    'cummin',
    'cumprod',
    'cumsum',
    'equal',
    'histc',
    'histogram',
    'isclose',
    'isinf',
    'isneginf',
    'isposinf',
    'kthvalue',
    'logcumsumexp',
    'median',
    'mode',
    'nan_to_num',
    'nanmean',
    'nanmedian',
    'nansum',
    'prod',
    'sort',
    'std_mean',
    'topk',
    'unique',
    'unique_consecutive',
    'var_mean',
]
__all__ += [_op["inplace"] for _op in _core._op_table() if _op["inplace"] and _op["arity"] == 1 and _op["api"] in ("method", "bound")]
__all__ += _arith.__all__

__version__ = "0.1.0"

# Last, once every Tensor attribute above is set: the names PyTorch's Tensor has and this one
# lacks raise an AttributeError that says so.
_tensor_names.install_lacking_names(Tensor)
