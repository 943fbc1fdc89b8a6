"""PyTorch's `torch.utils` names: `backprop.utils.data` is `backprop.data`."""
