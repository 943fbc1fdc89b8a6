"""Tensor methods defined in Python because the binding cannot hold them: pyo3 names its glue
for a `get_device` method exactly as it names the `device` getter's, so the two collide."""


def get_device(self):
    """The device index: -1 for a CPU tensor, 0 for a GPU one (backprop uses one GPU)."""
    return -1 if self.device.type == "cpu" else 0
