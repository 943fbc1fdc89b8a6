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
from backprop._core import LinAlgError, addmm, addmv, baddbmm, bmm, diag, diag_embed, diagonal, mv, outer, trace, tril, triu
from backprop._products import cdist, cross, einsum, kron, tensordot
from backprop._shape_ops import *  # noqa: F403  (flip, roll, scatter, meshgrid, hstack, ...: see its __all__)
from backprop._grad_mode import enable_grad, no_grad, set_grad_enabled
from backprop.serialization import LoadError, load, save

bool = _core.bool  # noqa: A001  (torch.bool)
float = float32  # noqa: A001
double = float64
long = int64

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

# The op table's functions (rust/ops/table.rs): `bp.X` for each row marked `method`
# (log1p, expm1, atan2, fmod, bitwise_and, ...), bound directly like the ones above.
for _op in _core._op_table():
    if _op["api"] == "method":
        globals()[_op["name"]] = getattr(_core, _op["name"])
    if _op["inplace"] and _op["arity"] == 1 and _op["api"] in ("method", "bound"):
        globals()[_op["inplace"]] = getattr(_core, _op["inplace"])  # exp_, relu_, ... (torch.exp_)
del _op
from backprop._arith import *  # noqa: E402,F401,F403  (add/sub alpha, div rounding_mode, lerp, aliases)


def pow(input, exponent):  # noqa: A001
    """`input ** exponent`; either may be a number."""
    return input**exponent


def is_tensor(obj):
    return isinstance(obj, Tensor)


def numel(input):
    return input.numel()


def as_tensor(data, dtype=None, device=None):
    """`data` as a tensor, without copying when it already is one of that dtype and device."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype) if (dtype or device) else data
    return tensor(data, dtype=dtype, device=device)


def from_dlpack(obj):
    """A tensor sharing memory with any DLPack producer (PyTorch, JAX, NumPy) on the CPU."""
    import numpy as np

    return from_numpy(np.from_dlpack(obj))


_SUBMODULES = {"autograd", "nn", "optim", "data", "utils", "viz", "gpu", "cuda", "demo", "distributed", "func", "linalg", "testing"}


def __getattr__(name):
    # Submodules load on first use, keeping `import backprop` fast.
    if name in _SUBMODULES:
        import importlib

        try:
            return importlib.import_module(f"backprop.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"backprop.{name}":
                raise
    raise AttributeError(f"module 'backprop' has no attribute {name!r}")


__version__ = "0.1.0"
