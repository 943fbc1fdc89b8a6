"""Affine layers: `Linear` (one fused matmul + bias kernel), `LazyLinear`, `Bilinear` and
`Identity`."""

import math

from backprop import _core
from backprop.nn import init
from backprop.nn.module import Module
from backprop.nn.parameter import Parameter


class Identity(Module):
    """Returns its input unchanged (a placeholder that keeps a model's structure); any
    constructor arguments are accepted and ignored, as in PyTorch."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """`y = x W^T + b` with `W: [out_features, in_features]`, initialised like PyTorch's:
    W and b uniform in +-1/sqrt(in_features)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(_core.empty(out_features, in_features, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(_core.empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """Re-initialises as PyTorch does: `weight` Kaiming-uniform with `a=sqrt(5)`, `bias` uniform in `+-1/sqrt(in_features)`."""
        # kaiming_uniform_ with a = sqrt(5) is uniform in +-1/sqrt(fan_in).
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        return _core.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class LazyLinear(Linear):
    """A `Linear` whose `in_features` is read from the first input. Until then its weight and
    bias are empty placeholders (do not hand them to an optimizer yet); the first call, or
    loading a state_dict, creates them and the module becomes a plain `Linear`."""

    def __init__(self, out_features: int, bias: bool = True, device=None, dtype=None) -> None:
        Module.__init__(self)
        self.in_features = 0
        self.out_features = out_features
        self._lazy = (bias, device, dtype)
        self.weight = Parameter(_core.empty(0, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(_core.empty(0, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)

    def has_uninitialized_params(self):
        """True until the first forward call (or a `load_state_dict`) fixes `in_features`."""
        return True

    def reset_parameters(self):
        """Nothing to do before the shapes are known; the first call initialises as `Linear` does."""
        pass

    def initialize_parameters(self, in_features):
        """Creates `weight` `[out_features, in_features]` (and `bias`) where the placeholders are, initialises them as `Linear`, and turns this module into a `Linear`."""
        bias = self._lazy[0]
        # Where the placeholders are now: `.to()` before the first call moves them.
        device, dtype = self.weight.device, self.weight.dtype
        self.in_features = in_features
        self.weight = Parameter(_core.empty(self.out_features, in_features, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(_core.empty(self.out_features, device=device, dtype=dtype))
        del self.__dict__["_lazy"]
        self.__class__ = Linear
        Linear.reset_parameters(self)

    def forward(self, input):
        self.initialize_parameters(input.shape[-1])
        return self.forward(input)

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Loads a state dict; a 2-D `weight` in it fixes `in_features` first."""
        w = state_dict.get("weight") if hasattr(state_dict, "get") else None
        if w is not None and w.dim() == 2:
            self.initialize_parameters(w.shape[1])
        return Module.load_state_dict(self, state_dict, strict, assign)

    def extra_repr(self):
        return f"in_features=0, out_features={self.out_features}, bias={self.bias is not None}"


class Bilinear(Module):
    """`y = x1^T W x2 + b` with `W: [out_features, in1_features, in2_features]`, initialised
    uniform in +-1/sqrt(in1_features) like PyTorch's."""

    def __init__(self, in1_features: int, in2_features: int, out_features: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        self.weight = Parameter(_core.empty(out_features, in1_features, in2_features, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(_core.empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """Re-initialises `weight` and `bias` uniformly in `+-1/sqrt(in1_features)`, as PyTorch does."""
        bound = 1 / math.sqrt(self.in1_features) if self.in1_features > 0 else 0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        from backprop.nn import functional as F

        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        return f"in1_features={self.in1_features}, in2_features={self.in2_features}, out_features={self.out_features}, bias={self.bias is not None}"
