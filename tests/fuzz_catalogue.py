"""The catalogue of hostile calls run by `test_fuzz_hostile.py`: careless and malicious
arguments (negative, huge, wrong-typed, NaN, empty, 0-dim, mixed-device) for the public
functions and methods. Each entry is `(code, kind)`: `code` is one Python expression or
statement run in a namespace made by `SETUP`; `kind` says which exceptions are a correct
answer:

- "value": ValueError (ShapeError, DTypeError), IndexError, RuntimeError (DeviceError) or
  MemoryError: the argument has the right type but a bad value;
- "type": additionally TypeError: the argument has the wrong type;
- "overflow": additionally OverflowError: an int beyond 64 bits, refused by Python's own
  int conversion.

Never acceptable: a crash of the process, a PanicException, SystemError, or returning
normally. Entries are generated from tables so adding a function or a hostile value adds
many calls.
"""

SETUP = """
import math
import numpy as np
import backprop as bp
import backprop.nn.functional as F
x = bp.randn(2, 3)
v = bp.randn(4)
s = bp.tensor(1.5)
z = bp.zeros(0, 3)
i = bp.tensor([0, 2, 1])
b = bp.tensor([True, False, True])
w = bp.randn(3, 3, requires_grad=True)
leaf = bp.randn(3, requires_grad=True)
big = 2 ** 62
huge = 2 ** 70
"""

# Sizes no machine can hold, sizes whose product overflows 64 bits, and malformed sizes.
BAD_SHAPES_VALUE = [
    "-1",
    "(-1,)",
    "(2, -3)",
    "big",
    "(big, 4)",
    "(2**31, 2**31, 2**31)",
    "(2**32, 2**32)",
    "(0, big, big)",
    "2**48",
    "(2**63 - 1,)",
]
BAD_SHAPES_TYPE = ['"3"', "2.5", "(2, 2.5)", "[[2]]", "None, 3"]

FACTORIES = ["bp.zeros({})", "bp.ones({})", "bp.empty({})", "bp.rand({})", "bp.randn({})"]


def _factories():
    out = []
    for f in FACTORIES:
        out += [(f.format(sh), "value") for sh in BAD_SHAPES_VALUE]
        out += [(f.format(sh), "type") for sh in BAD_SHAPES_TYPE]
        out.append((f.format("(huge,)"), "overflow"))
    for sh in BAD_SHAPES_VALUE:
        out.append((f"bp.full({sh if sh.startswith('(') else '(' + sh + ',)'}, 1.0)", "value"))
        out.append((f"bp.randint(0, 10, {sh if sh.startswith('(') else '(' + sh + ',)'})", "value"))
    out += [
        ("bp.full((2,), 'x')", "type"),
        ("bp.eye(-1)", "value"),
        ("bp.eye(3, -2)", "value"),
        ("bp.eye(2**32)", "value"),
        ("bp.eye(2**40, 2**40)", "value"),
        ("bp.eye(big, big)", "value"),
        ("bp.eye('3')", "type"),
        ("bp.arange(0, 1e20, 1e-20)", "value"),
        ("bp.arange(0, math.inf)", "value"),
        ("bp.arange(0, 1, 0)", "value"),
        ("bp.arange(math.nan)", "value"),
        ("bp.arange(0, 10, math.nan)", "value"),
        ("bp.arange(1, 0, 1)", "value"),
        ("bp.arange(0, 2**62, 1)", "value"),
        ("bp.arange('a')", "type"),
        ("bp.linspace(0, 1, -1)", "value"),
        ("bp.linspace(0, 1, big)", "value"),
        ("bp.randperm(-1)", "value"),
        ("bp.randperm(big)", "value"),
        ("bp.randperm(2**64)", "overflow"),
        ("bp.randint(5, 2, (3,))", "value"),
        ("bp.randint(3, 3, (3,))", "value"),
        ("bp.randint(0, 10)", "type"),
        ("bp.zeros(3, dtype='complex64')", "type"),
        ("bp.zeros(3, dtype=42)", "type"),
        ("bp.zeros(3, device='tpu')", "value"),
        ("bp.zeros(3, device=7)", "type"),
        ("bp.rand(3, dtype=bp.int64)", "value"),
        ("bp.randn(3, dtype=bp.bool)", "value"),
        ("bp.zeros_like(x, dtype='nope')", "type"),
        ("bp.full_like(x, 1.0, device='tpu')", "value"),
    ]
    return out


def _conversion():
    return [
        ("bp.tensor(['\u00e9' * 60])", "type"),
        ("bp.tensor([[1, 2], [3]])", "value"),
        ("bp.tensor([1, [2]])", "type"),
        ("bp.tensor([[1], 2])", "value"),
        ("bp.tensor([2**63])", "value"),
        ("bp.tensor(2**64)", "value"),
        ("bp.tensor([1, -2**64])", "value"),
        ("bp.tensor({'a': 1})", "type"),
        ("bp.tensor(object())", "type"),
        ("bp.tensor('abc')", "type"),
        ("bp.tensor([None])", "type"),
        ("bp.tensor([1, 'a'])", "type"),
        ("bp.tensor(1, dtype='float128')", "type"),
        ("(lambda a: (a.append(a), bp.tensor(a)))([])", "value"),
        ("(lambda a: (a.append([a]), bp.tensor(a)))([])", "value"),
        ("(lambda a: (a.append(a), bp.tensor([a, a])))([])", "value"),
        ("bp.tensor([bp.zeros(2), bp.zeros(3)])", "value"),
        ("bp.tensor(np.array(['a', 'b']))", "type"),
        ("bp.from_numpy([1, 2])", "type"),
        ("bp.from_numpy(np.array([1 + 2j]))", "type"),
        ("bp.tensor(np.zeros(2, dtype=np.complex64))", "type"),
    ]


# Dimension arguments out of range or of the wrong type, for every method taking one.
DIM_METHODS = [
    "sum(dim={d})", "mean(dim={d})", "softmax({d})", "log_softmax({d})", "argmax({d})",
    "amax({d})", "logsumexp({d})", "squeeze({d})", "unsqueeze({d})", "flatten({d})",
    "transpose(0, {d})", "select({d}, 0)", "narrow({d}, 0, 1)", "unbind({d})", "split(1, {d})",
    "chunk(2, {d})", "var({d})", "std({d})", "max({d})", "min({d})",
    "index_select({d}, i)", "gather({d}, i.reshape(1, 3))",
]
BAD_DIMS_VALUE = ["5", "-6", "big", "-2**63"]
BAD_DIMS_TYPE = ['"a"', "1.5", "huge"]


def _dims():
    out = []
    for m in DIM_METHODS:
        for d in BAD_DIMS_VALUE:
            out.append((f"x.{m.format(d=d)}", "value"))
        for d in BAD_DIMS_TYPE[:2]:
            out.append((f"x.{m.format(d=d)}", "type"))
    # A 0-dim tensor has no dimension to pick along.
    out += [
        ("s.select(0, 0)", "value"),
        ("s.unbind()", "value"),
        ("s.narrow(0, 0, 1)", "value"),
        ("s.split(1)", "value"),
        ("s.chunk(1)", "value"),
        ("s.unflatten(0, (1,))", "value"),
        ("s.softmax(1)", "value"),
        ("s.transpose(0, 1)", "value"),
        ("s.sum(2)", "value"),
        ("s[0]", "value"),
        ("s.index_select(0, i)", "value"),
        ("len(s)", "type"),
        ("iter(s)", "type"),
    ]
    return out


def _shapes():
    return [
        ("x.reshape(-2)", "value"),
        ("x.reshape(-1, -1)", "value"),
        ("x.reshape(4)", "value"),
        ("x.reshape(big, 4)", "value"),
        ("z.reshape(0, big, big)", "value"),
        ("z.reshape(-1, 0)", "value"),
        ("x.reshape('a')", "type"),
        ("x.view(-2, 3)", "value"),
        ("x.T.view(6)", "value"),
        ("x.view(7)", "value"),
        ("x.expand(-2, 3)", "value"),
        ("x.expand(4, 3)", "value"),
        ("x.expand(3)", "value"),
        ("x.expand(big, big, 3)", "value"),
        ("bp.ones(1, 1).expand(2**32, 2**32)", "value"),
        ("x.expand('a')", "type"),
        ("x.permute(0, 0)", "value"),
        ("x.permute(0)", "value"),
        ("x.permute(0, 5)", "value"),
        ("x.permute(0, 1, 2)", "value"),
        ("x.narrow(1, 1, big)", "value"),
        ("x.narrow(1, 1, 2**63 - 1)", "value"),
        ("x.narrow(1, 0, -1)", "value"),
        ("x.narrow(1, 4, 0)", "value"),
        ("x.narrow(1, -big, 1)", "value"),
        ("x.split(0)", "value"),
        ("x.split(-1)", "value"),
        ("x.split([1, 1], 1)", "value"),
        ("x.split([big, big], 1)", "value"),
        ("x.chunk(0)", "value"),
        ("x.chunk(-3)", "value"),
        ("x.unflatten(1, (2, 2))", "value"),
        ("x.unflatten(1, (-1, -1))", "value"),
        ("x.flatten(1, 0)", "value"),
        ("x.t().t().reshape(2, 3, -1, -1)", "value"),
        ("bp.cat([])", "value"),
        ("bp.cat([x, v])", "value"),
        ("bp.cat([s, s])", "value"),
        ("bp.cat([x, x], dim=5)", "value"),
        ("bp.cat([x, 3])", "type"),
        ("bp.stack([])", "value"),
        ("bp.stack([x, v])", "value"),
        ("bp.stack([x, x], dim=4)", "value"),
        ("bp.stack([x, x], dim=-4)", "value"),
        ("x.broadcast_to((4, 3))", "value"),
        ("x.expand_as(v)", "value"),
        ("x.reshape_as(v)", "value"),
        ("x.view_as(v)", "value"),
    ]


def _indexing():
    return [
        ("x[5]", "value"),
        ("x[-5]", "value"),
        ("x[2**63 - 1]", "value"),
        ("x[-2**63]", "value"),
        ("x[0, 0, 0]", "value"),
        ("x[..., ..., 0]", "value"),
        ("x[::0]", "value"),
        ("x[::-1]", "value"),
        ("x[:, ::-2]", "value"),
        ("x[bp.tensor([5])]", "value"),
        ("x[bp.tensor([-3])]", "value"),
        ("x[bp.tensor([0.5])]", "value"),
        ("x[bp.tensor([True, False, True])]", "value"),
        ("x[bp.tensor([[True, False]])]", "value"),
        ("x[:, bp.tensor([True, False])]", "value"),
        ("v[bp.tensor([True, True])]", "value"),
        ("x[bp.tensor([0, 1]), bp.tensor([0, 1, 2])]", "value"),
        ("x['a']", "type"),
        ("x[1.5]", "type"),
        ("x[{}]", "type"),
        ("x[object()]", "type"),
        ("x.__setitem__(5, 1.0)", "value"),
        ("x.__setitem__((slice(None), 0), bp.zeros(3))", "value"),
        ("x.__setitem__(0, bp.zeros(4))", "value"),
        ("x.__setitem__(0, 'a')", "type"),
        ("bp.zeros(3).expand(2, 3).__setitem__(0, 1.0)", "value"),
        ("x.gather(1, bp.tensor([[-1], [0]]))", "value"),
        ("x.gather(1, bp.tensor([[3], [0]]))", "value"),
        ("x.gather(1, bp.tensor([0, 1]))", "value"),
        ("x.gather(1, bp.tensor([[0.0]]))", "value"),
        ("x.gather(1, bp.zeros(3, 3, dtype=bp.int64))", "value"),
        ("x.index_select(1, bp.tensor([[0]]))", "value"),
        ("x.index_select(1, bp.tensor([3]))", "value"),
        ("x.index_select(1, bp.tensor([0.0]))", "value"),
        ("x.masked_fill(bp.tensor([1.0, 0.0, 1.0]), 2.0)", "value"),
        ("x.masked_fill(bp.tensor([1, 0, 1]), 2.0)", "value"),
        ("x.masked_fill(bp.tensor([True, False]), 2.0)", "value"),
        ("x.masked_fill(b, 'a')", "type"),
        ("bp.where(bp.tensor([True, False]), x, 0.0)", "value"),
        ("bp.where(b, x, 'a')", "type"),
    ]


def _arithmetic():
    out = []
    for op in ["+", "-", "*", "/", "**", "//", "%", "@", "<", "&", "|"]:
        out.append((f"x {op} v", "value"))
        out.append((f"x {op} 'a'", "type"))
    out += [
        ("x @ s", "value"),
        ("s @ s", "value"),
        ("x @ x", "value"),
        ("z @ x", "value"),
        ("x.mm(bp.zeros(2, 3, 3))", "value"),
        ("bp.zeros(2, 2, 2).mm(bp.zeros(2, 2))", "value"),
        ("v.mm(v)", "value"),
        ("x.dot(x)", "value"),
        ("v.dot(bp.zeros(3))", "value"),
        ("s.dot(s)", "value"),
        ("x.matmul(bp.zeros(4, 2))", "value"),
        ("~x", "type"),  # torch: TypeError (~ is only implemented on integer and Boolean tensors)
        ("x & x", "type"),
        ("x << 1", "type"),
        ("i.exp_()", "value"),
        ("bp.zeros(3).add_(bp.zeros(2, 3))", "value"),
        ("i.div_(2, rounding_mode='round')", "value"),
        ("i // bp.tensor([0, 0, 0])", "value"),
        ("i % bp.tensor([0, 0, 0])", "value"),
        ("i // 0", "value"),
        ("i % 0", "value"),
        ("x.clamp()", "value"),
        ("x.clamp('a')", "type"),
        ("x.pow('a')", "type"),
        ("bp.maximum(x, v)", "value"),
        ("x.add(v)", "value"),
        ("x.add_(x, alpha='a')", "type"),
        ("b.sum().exp() + 'a'", "type"),
        ("bp.tensor([True]).neg()", "value"),
        ("i.sqrt().backward()", "value"),
    ]
    return out


def _inplace_and_autograd():
    return [
        ("bp.zeros(3).expand(2, 3).add_(1)", "value"),
        ("bp.zeros(3).expand(2, 3).mul_(2)", "value"),
        ("bp.zeros(3).expand(2, 3).fill_(1)", "value"),
        ("bp.zeros(3).expand(2, 3).zero_()", "value"),
        ("bp.zeros(1, 3).expand(2, 3).copy_(bp.ones(2, 3))", "value"),
        ("bp.zeros(3).add_(bp.zeros(2, 3))", "value"),
        ("i.add_(0.5)", "value"),
        ("i.div_(2)", "value"),
        ("leaf.add_(1)", "value"),
        ("leaf.zero_()", "value"),
        ("(leaf * 1)[0:2].add_(1) if False else leaf[0:2].add_(1)", "value"),
        ("bp.zeros(3).normal_(0, -1)", "value"),
        ("bp.zeros(3).normal_(0, math.nan)", "value"),
        ("bp.zeros(3).uniform_('a')", "type"),
        ("bp.zeros(3).copy_(bp.zeros(4))", "value"),
        ("bp.zeros(3).copy_('a')", "type"),
        ("x.backward()", "value"),
        ("(w * 2).backward()", "value"),
        ("(w * 2).sum().backward(bp.ones(2))", "value"),
        ("(w * 2).backward(bp.ones(2))", "value"),
        ("(w * 2).sum().backward(inputs=[])", "value"),
        ("(w * 2).sum().backward(inputs=[x])", "value"),
        ("(w * 2).sum().backward(inputs=[3])", "type"),
        ("(lambda l: (l.backward(), l.backward()))((w * w).sum())", "value"),
        ("w.register_hook(3)", "type"),
        ("x.register_hook(lambda g: g)", "value"),
        ("i.requires_grad_()", "value"),
        ("(w * 1).requires_grad_(False)", "value"),
        ("bp.tensor([1, 2], requires_grad=True)", "value"),
        ("(lambda h: (h, (leaf * 2).sum().backward()))(leaf.register_hook(lambda g: bp.ones(4)))", "value"),
        ("(lambda h: (h, (leaf * 3).sum().backward()))(leaf.register_hook(lambda g: g.double()))", "value"),
        ("(lambda h: (h, (leaf * 4).sum().backward()))(leaf.register_hook(lambda g: 'a'))", "type"),
        ("(lambda t: (t.register_hook(lambda g: bp.ones(5)), (t * 2).sum().backward()))(leaf * 1)", "value"),
        ("x.retain_grad()", "value"),
        ("x.numpy() if False else leaf.numpy()", "value"),
        ("import copy; copy.deepcopy(w * 2)", "value"),
        ("bp.autograd.grad((w * 2).sum(), [x])", "value"),
        ("bp.autograd.grad((w * 2).sum(), [leaf])", "value"),
        ("bp.autograd.grad((w * 2), [w])", "value"),
    ]


def _nn():
    return [
        ("F.cross_entropy(s, bp.tensor(0))", "value"),
        ("F.cross_entropy(x, bp.tensor([0, 3]))", "value"),
        ("F.cross_entropy(x, bp.tensor([0, -1]))", "value"),
        ("F.cross_entropy(x, bp.tensor([0.0, 1.0]))", "value"),
        ("F.cross_entropy(x, bp.tensor([0]))", "value"),
        ("F.cross_entropy(x, bp.tensor([0, 1]), reduction='avg')", "value"),
        ("F.cross_entropy(x, bp.tensor([0, 1]), label_smoothing=2.0)", "value"),
        ("F.cross_entropy(x, bp.tensor([0, 1]), label_smoothing=math.nan)", "value"),
        ("F.cross_entropy(x, bp.tensor([0, 1]), weight=bp.ones(2))", "value"),
        ("F.cross_entropy(x, 'a')", "type"),
        ("F.cross_entropy(z, bp.tensor([0]))", "value"),
        ("F.nll_loss(x, bp.tensor([0, 1]), weight=bp.ones(4))", "value"),
        ("F.nll_loss(s, bp.tensor(0))", "value"),
        ("F.nll_loss(x, bp.tensor([5, 1]))", "value"),
        ("F.multi_margin_loss(x, bp.tensor([0, 1]), weight=bp.ones(2))", "value"),
        ("F.multi_margin_loss(x, bp.tensor([0, 1]), p=3)", "value"),
        ("F.multi_margin_loss(x, bp.tensor([0, 5]))", "value"),
        ("F.multi_margin_loss(s, bp.tensor(0))", "value"),
        ("F.multi_margin_loss(bp.zeros(2, 3, 4), bp.zeros(2, 4, dtype=bp.int64))", "value"),
        ("F.mse_loss(x, v)", "value"),
        ("F.dropout(x, 2.0)", "value"),
        ("F.dropout(x, -0.5)", "value"),
        ("F.dropout(x, math.nan)", "value"),
        ("F.softmax(x, 3)", "value"),
        ("F.log_softmax(x, -3)", "value"),
        ("F.linear(x, bp.zeros(4, 2))", "value"),
        ("F.linear(x, bp.zeros(4, 3), bp.zeros(5))", "value"),
        ("F.linear(s, s)", "value"),
        ("bp.nn.Linear(-1, 3)", "value"),
        ("bp.nn.Linear(3, 2)(v)", "value"),
    ]


def _conversions_out():
    return [
        ("x.item()", "value"),
        ("z.item()", "value"),
        ("float(x)", "value"),
        ("int(x)", "value"),
        ("x.__index__()", "type"),
        ("bool(x)", "value"),
        ("bool(z)", "value"),
        ("x.to('tpu')", "value"),
        ("x.to('cuda:x:y') if False else x.to('npu')", "value"),
        ("x.to(42)", "type"),
        ("x.to('complex64')", "value"),
        ("x.to(dtype='nope')", "type"),
        ("x.to(device='tpu')", "value"),
        ("bp.device('tpu')", "value"),
        ("bp.device(3)", "type"),
        ("x.type_as(3)", "type"),
        ("x.size(5)", "value"),
        ("x.stride(5)", "value"),
        ("x.size('a')", "type"),
    ]


def _gpu():
    """Mixed-device and device-limit calls, run only where a GPU adapter exists."""
    return [
        ("x + x.to('gpu')", "value"),
        ("x.to('gpu') @ x.T", "value"),
        ("bp.cat([x, x.to('gpu')])", "value"),
        ("bp.stack([v, v.to('gpu')])", "value"),
        ("bp.where(b.to('gpu'), i, i)", "value"),
        ("x.to('gpu').gather(1, bp.tensor([[0], [1]]))", "value"),
        ("F.nll_loss(x.to('gpu'), bp.tensor([0, 1]))", "value"),
        ("x.to('gpu')[bp.tensor([5]).to('gpu')].cpu()", "value"),
        ("bp.zeros(3).add_(bp.ones(3, device='gpu'))", "value"),
        ("bp.zeros(3).copy_(bp.ones(4, device='gpu'))", "value"),
        ("bp.zeros(2**40, device='gpu')", "value"),
        ("bp.zeros(big, device='gpu')", "value"),
        ("bp.ones(1, 1, device='gpu').expand(2**20, 2**20).exp()", "value"),
        ("F.cross_entropy(x.to('gpu'), bp.tensor([0, 1]))", "value"),
        ("F.cross_entropy(x.to('gpu'), bp.tensor([0, 7], device='gpu')).item()", "value"),
        ("x.to('gpu').numpy()", "type"),
        ("(w.to('gpu') * 2).sum().backward(bp.ones(3))", "value"),
        ("bp.tensor([2**40], device='gpu')", "value"),
    ]


def _memory():
    """Requests the allocator must refuse (as MemoryError), never abort on. Each needs at
    least 2**48 bytes, more than any x86-64 or arm64 user address space, so the kernel refuses
    it whatever its overcommit policy (a request it granted would be filled, and kill the run)."""
    return [
        ("bp.zeros(2**47)", "value"),
        ("bp.ones(2**45, 2)", "value"),
        ("bp.full((2**46,), 3.0)", "value"),
        ("bp.rand(2**47)", "value"),
        ("bp.randn(2**47, dtype=bp.float64)", "value"),
        ("bp.ones(1).expand(2**47).exp()", "value"),
        ("bp.ones(1).expand(2**47) + 1", "value"),
        ("bp.ones(1).expand(2**47).contiguous()", "value"),
        ("bp.ones(1).expand(2**47).clone()", "value"),
        ("bp.ones(1).expand(2**47).tolist()", "value"),
        ("bp.ones(1).expand(2**47).numpy().sum() if False else bp.ones(1).expand(2**47).float().double()", "value"),
        ("bp.cat([bp.ones(1).expand(2**46), bp.ones(1).expand(2**46)])", "value"),
        ("bp.ones(2**24, 1) @ bp.ones(1, 2**24)", "value"),
        ("bp.arange(0, 2**47)", "value"),
        ("bp.randint(0, 5, (2**47,))", "value"),
        ("bp.randperm(2**47)", "value"),
        ("bp.eye(2**24)", "value"),
        ("bp.linspace(0, 1, 2**47)", "value"),
        ("F.dropout(bp.ones(1).expand(2**47), 0.5)", "value"),
        ("F.softmax(bp.ones(1).expand(2**47), 0)", "value"),
        ("bp.where(bp.tensor(True), bp.ones(1).expand(2**47), 0.0)", "value"),
    ]


def catalogue(gpu=False):
    """Every hostile call, as (code, kind) pairs."""
    out = _factories() + _conversion() + _dims() + _shapes() + _indexing() + _arithmetic()
    out += _inplace_and_autograd() + _nn() + _conversions_out() + _memory()
    if gpu:
        out += _gpu()
    return out
