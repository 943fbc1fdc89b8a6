"""Image transforms with torchvision's names: `Compose`, `ToTensor`, `Normalize`, `Lambda`.

Each transform works on one image (`t(img)`, as in torchvision) and on a whole batch with a
leading sample dimension (`t.batch(imgs)`): data sets call `batch` so that a DataLoader batch
is transformed by a few tensor operations, not by one Python call per image. Images are
NumPy arrays (or anything with `__array__`, such as PIL images): `H x W` or `H x W x C`.
"""

from backprop._core import Tensor


def supports_batch(transform):
    """Whether `transform.batch(images)` exists and gives the same result as per-image calls."""
    return getattr(transform, "batchable", False)


class Compose:
    """Applies `transforms` in order."""

    def __init__(self, transforms) -> None:
        self.transforms = list(transforms)

    @property
    def batchable(self):
        return all(supports_batch(t) for t in self.transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def batch(self, imgs):
        for t in self.transforms:
            imgs = t.batch(imgs)
        return imgs

    def __repr__(self):
        inner = "".join(f"\n    {t!r}" for t in self.transforms)
        return f"Compose({inner}\n)"


class ToTensor:
    """An image (`H x W` or `H x W x C`) as a float32 tensor `C x H x W`; uint8 values are
    scaled from [0, 255] to [0, 1], other types are converted as they are."""

    batchable = True

    def __call__(self, img):
        return self._convert(img, batched=False)

    def batch(self, imgs):
        """`N x H x W` or `N x H x W x C` images as one `N x C x H x W` tensor."""
        return self._convert(imgs, batched=True)

    @staticmethod
    def _convert(x, batched):
        import numpy as np

        from backprop import from_numpy

        if isinstance(x, Tensor):
            raise TypeError("ToTensor: the input is already a tensor; ToTensor converts NumPy arrays or PIL images")
        a = np.asarray(x)
        image_dims = a.ndim - (1 if batched else 0)
        if image_dims == 2:
            a = a[..., None]
        elif image_dims != 3:
            raise ValueError(f"ToTensor: expected {'N x ' if batched else ''}H x W (x C) images, got an array of shape {a.shape}")
        a = np.moveaxis(a, -1, -3)
        if a.dtype == np.uint8:
            out = np.multiply(a, np.float32(1 / 255), dtype=np.float32)
        else:
            out = np.ascontiguousarray(a, dtype=np.float32)
        return from_numpy(np.ascontiguousarray(out))

    def __repr__(self):
        return "ToTensor()"


class Normalize:
    """`(x - mean[c]) / std[c]` for each channel `c` of a `C x H x W` (or `N x C x H x W`) tensor."""

    batchable = True

    def __init__(self, mean, std, inplace=False) -> None:
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        if len(self.mean) != len(self.std):
            raise ValueError(f"Normalize: mean has {len(self.mean)} entries but std has {len(self.std)}")
        if any(s == 0 for s in self.std):
            raise ValueError(f"Normalize: std evaluated to zero after conversion to float32, leading to division by zero ({self.std})")
        self.inplace = inplace

    def __call__(self, x):
        return self.batch(x)

    def batch(self, x):
        from backprop import tensor

        if not isinstance(x, Tensor) or not x.is_floating_point():
            raise TypeError(f"Normalize: expected a float tensor (apply ToTensor first), got {type(x).__name__}")
        channels = x.shape[-3] if x.dim() >= 3 else None
        if channels is None or channels != len(self.mean) and len(self.mean) != 1:
            raise ValueError(f"Normalize: {len(self.mean)} channel statistics for a tensor of shape {list(x.shape)} (channels at dim -3)")
        mean = tensor(self.mean, dtype=x.dtype, device=x.device).view(-1, 1, 1)
        std = tensor(self.std, dtype=x.dtype, device=x.device).view(-1, 1, 1)
        return (x - mean) / std

    def __repr__(self):
        return f"Normalize(mean={self.mean}, std={self.std})"


class Lambda:
    """Applies a user function to each image (per image: not batched)."""

    batchable = False

    def __init__(self, fn) -> None:
        if not callable(fn):
            raise TypeError(f"Lambda: expected a callable, got {type(fn).__name__}")
        self.fn = fn

    def __call__(self, img):
        return self.fn(img)

    def __repr__(self):
        return "Lambda()"
