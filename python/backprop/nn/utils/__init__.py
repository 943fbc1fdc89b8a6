"""`nn.utils`: gradient clipping, parameters as a vector, parametrizations, layer fusion."""

from backprop.nn.utils import parametrizations, parametrize
from backprop.nn.utils.clip_grad import clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm
from backprop.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters
from backprop.nn.utils.fusion import fuse_linear_bn_eval, fuse_linear_bn_weights

__all__ = [
    "clip_grad_norm_",
    "clip_grad_value_",
    "clip_grads_with_norm_",
    "fuse_linear_bn_eval",
    "fuse_linear_bn_weights",
    "get_total_norm",
    "parameters_to_vector",
    "parametrizations",
    "parametrize",
    "vector_to_parameters",
]
