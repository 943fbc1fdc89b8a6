"""Ready-made parametrizations: weight normalisation and spectral normalisation, registered
through `parametrize` with PyTorch's state_dict layout."""

from backprop import _core
from backprop._grad_mode import no_grad
from backprop.nn.module import Module
from backprop.nn.utils import parametrize


def _norm_except_dim(v, dim):
    """The 2-norm over every dim but `dim` (keeping dims), or over all of v for dim None."""
    if dim is None:
        return v.norm()
    dims = tuple(d for d in range(v.dim()) if d != dim)
    if not dims:
        return v.abs()
    return v.norm(2.0, dims, True)


class _WeightNorm(Module):
    def __init__(self, dim=0) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, weight_g, weight_v):
        return weight_v * (weight_g / _norm_except_dim(weight_v, self.dim))

    def right_inverse(self, weight):
        return _norm_except_dim(weight, self.dim), weight


def weight_norm(module, name="weight", dim=0):
    """Reparametrizes `module.<name>` as g * v / ||v|| (norm over all dims but `dim`; `dim=None`
    is the whole tensor): originals `original0` (g, the magnitude) and `original1` (v)."""
    if dim is not None:
        dim = dim % getattr(module, name).dim()
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    return module


class _SpectralNorm(Module):
    def __init__(self, weight, n_power_iterations=1, dim=0, eps=1e-12) -> None:
        super().__init__()
        ndim = weight.dim()
        if n_power_iterations <= 0:
            raise ValueError(f"Expected n_power_iterations to be positive, but got n_power_iterations={n_power_iterations}")
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            w = self._matrix(weight)
            h, wd = w.shape
            u = _core.randn(h, dtype=weight.dtype, device=weight.device)
            v = _core.randn(wd, dtype=weight.dtype, device=weight.device)
            self.register_buffer("_u", u / u.norm().clamp(min=eps))
            self.register_buffer("_v", v / v.norm().clamp(min=eps))
            self._power_method(w, 15)

    def _matrix(self, weight):
        if self.dim != 0:
            order = [self.dim] + [d for d in range(weight.dim()) if d != self.dim]
            weight = weight.permute(*order)
        return weight.reshape(weight.shape[0], -1)

    def _power_method(self, w, iterations):
        with no_grad():
            w = w.detach()
            for _ in range(iterations):
                u = w @ self._v
                self._u.copy_(u / u.norm().clamp(min=self.eps))
                v = w.t() @ self._u
                self._v.copy_(v / v.norm().clamp(min=self.eps))

    def forward(self, weight):
        if weight.dim() == 1:
            return weight / weight.norm().clamp(min=self.eps)
        w = self._matrix(weight)
        if self.training:
            self._power_method(w, self.n_power_iterations)
        u = self._u.clone()
        v = self._v.clone()
        sigma = (u * (w @ v)).sum()
        return weight / sigma

    def right_inverse(self, value):
        return value


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Divides `module.<name>` by its largest singular value, estimated by power iteration
    (one step per training-mode access; buffers `_u`, `_v` hold the singular vectors)."""
    weight = getattr(module, name, None)
    if weight is None or not hasattr(weight, "dim"):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if dim is None:
        dim = 0
    parametrize.register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module
