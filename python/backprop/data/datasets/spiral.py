"""The spiral data set (CS231n): `classes` interleaved 2-D spiral arms, not linearly separable."""


def spiral(n_per_class=100, classes=3, noise=0.2, seed=0):
    """`TensorDataset(X, y)`: X float32 `[n_per_class * classes, 2]`, y int64 class indices.

    Arm `j` has radius growing linearly from 0 to 1 and angle from 4j to 4(j + 1) radians,
    plus Gaussian angle noise of standard deviation `noise`; `seed` makes it reproducible.
    """
    import numpy as np

    from backprop import from_numpy
    from backprop.data.dataset import TensorDataset

    if n_per_class < 1 or classes < 1:
        raise ValueError(f"spiral: n_per_class and classes must be positive, got {n_per_class} and {classes}")
    rng = np.random.default_rng(seed)
    r = np.tile(np.linspace(0.0, 1.0, n_per_class), classes)
    arm = np.repeat(np.arange(classes), n_per_class)
    t = np.concatenate([np.linspace(4.0 * j, 4.0 * (j + 1), n_per_class) for j in range(classes)])
    t = t + rng.standard_normal(t.shape) * noise
    x = np.stack([r * np.sin(t), r * np.cos(t)], axis=1).astype(np.float32)
    return TensorDataset(from_numpy(x), from_numpy(arm.astype(np.int64)))
