"""Where the data pipeline's randomness comes from: one rule for every `generator=` argument.

PyTorch's samplers, `random_split` and `DataLoader` take a `torch.Generator`; here
`generator=` accepts:

- `None`: a fresh NumPy generator seeded from backprop's global generator, so
  `bp.manual_seed(s)` makes shuffling, splitting and worker seeds reproducible;
- a `backprop.Generator`: kept as it is, and drawn from each time (a new NumPy generator
  seeded by one draw from it), so its state advances as PyTorch's would and reseeding it
  later changes what follows;
- an `int`: the seed of a private stream, created once when the sampler, loader or split is
  made (so each epoch still gets a new order, and the same seed the same sequence of orders);
- a `numpy.random.Generator`: used as it is, its state advancing as PyTorch's would;
- another object with a `manual_seed`/`initial_seed` pair (a `torch.Generator`): a NumPy
  generator seeded from `initial_seed()`.
"""

import numpy as np


def resolve(generator, who):
    """What an object keeps of its `generator=` argument: None (draw from backprop's global
    generator each time), a `backprop.Generator` or a `numpy.random.Generator`."""
    from backprop import Generator

    if generator is None or isinstance(generator, (np.random.Generator, Generator)):
        return generator
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return np.random.default_rng(int(generator))
    if callable(getattr(generator, "initial_seed", None)):
        return np.random.default_rng(int(generator.initial_seed()))
    raise TypeError(
        f"{who}: generator must be None, a backprop.Generator, an int seed or a numpy.random.Generator, "
        f"got {type(generator).__name__}"
    )


def rng(resolved):
    """The NumPy generator to draw from now: the kept one, or a fresh one seeded by a draw from
    the kept `backprop.Generator` (or from backprop's global generator when none is kept)."""
    if isinstance(resolved, np.random.Generator):
        return resolved
    from backprop import randint

    return np.random.default_rng(int(randint(0, 2**62, (), generator=resolved).item()))


def draw_seed(resolved):
    """A 63-bit seed drawn from `resolved` (advancing it), for worker processes."""
    return int(rng(resolved).integers(0, 2**62))
