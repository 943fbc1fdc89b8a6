"""MNIST and Fashion-MNIST from their IDX files (gzip or raw), with torchvision's interface.

The files are looked for in `root` and in `root/<Name>/raw` (torchvision's layout), under
their standard names, uncompressed or `.gz`:

    train-images-idx3-ubyte  train-labels-idx1-ubyte  t10k-images-idx3-ubyte  t10k-labels-idx1-ubyte
"""

import hashlib
import os

from backprop.data.dataset import Dataset
from backprop.data.idx import IDXError, read_idx
from backprop.data.transforms import ToTensor, supports_batch

_SPLITS = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"), False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


class DatasetNotFoundError(FileNotFoundError):
    """The files of a data set are not where it looked."""


class _IDXImages(Dataset):
    """Images `[N, 28, 28]` (uint8) and int64 labels from a pair of IDX files.

    `dataset[i]` is `(image, label)`: the image is `transform(raw)` where `raw` is the uint8
    image as a NumPy array (torchvision passes a PIL image), or, without a transform, a float32
    tensor `[1, 28, 28]` in [0, 1] (what ToTensor gives); the label is an int.
    """

    name = ""
    default_root = None
    mirrors = ()
    md5 = {}
    classes = []
    how_to_get = ""

    def __init__(self, root=None, train=True, transform=None, target_transform=None, download=False) -> None:
        from backprop import from_numpy

        if root is None:
            if self.default_root is None:
                raise TypeError(f"{self.name}: pass root=, the directory that holds the IDX files")
            root = self.default_root
        self.root = os.path.expanduser(os.fspath(root))
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        images_name, labels_name = _SPLITS[bool(train)]
        if download and any(self._find(n, missing_ok=True) is None for n in (images_name, labels_name)):
            self.download()
        images_path, labels_path = self._find(images_name), self._find(labels_name)
        images, labels = read_idx(images_path), read_idx(labels_path)
        if images.ndim != 3 or images.dtype.name != "uint8":
            raise IDXError(f"{images_path}: expected uint8 images of shape N x H x W, got {images.dtype} {images.shape}")
        if labels.ndim != 1 or len(labels) != len(images):
            raise IDXError(f"{labels_path}: expected {len(images)} labels to match {images_path}, got shape {labels.shape}")
        if len(labels) and (labels.min() < 0 or labels.max() >= len(self.classes)):
            raise IDXError(f"{labels_path}: labels must lie in 0..{len(self.classes) - 1}, found {labels.min()}..{labels.max()}")
        self.data = images
        self.targets = from_numpy(labels.astype("int64"))

    # ---- locating and fetching the files ----------------------------------------------

    def _dirs(self):
        return [self.root, os.path.join(self.root, self.name, "raw")]

    def _find(self, base, missing_ok=False):
        for d in self._dirs():
            for name in (base, base + ".gz"):
                path = os.path.join(d, name)
                if os.path.isfile(path):
                    return path
        if missing_ok:
            return None
        looked = ", ".join(self._dirs())
        raise DatasetNotFoundError(
            f"{self.name}: cannot find {base} (or {base}.gz) in {looked}. {self.how_to_get} "
            f"The four files are {', '.join(n + '.gz' for pair in _SPLITS.values() for n in pair)}; put them in one "
            f"of those directories, or pass download=True to fetch them."
        )

    def download(self):
        """Fetches the four `.gz` files into `root/<Name>/raw` from the first mirror that
        answers, checking each file's MD5 (nothing is written for a file that fails it)."""
        import urllib.error
        import urllib.request

        target = os.path.join(self.root, self.name, "raw")
        os.makedirs(target, exist_ok=True)
        for pair in _SPLITS.values():
            for base in pair:
                if self._find(base, missing_ok=True):
                    continue
                filename = base + ".gz"
                errors = []
                for mirror in self.mirrors:
                    url = mirror + filename
                    try:
                        with urllib.request.urlopen(url, timeout=60) as response:
                            payload = response.read()
                    except (urllib.error.URLError, OSError) as e:
                        errors.append(f"{url}: {e}")
                        continue
                    digest = hashlib.md5(payload).hexdigest()
                    if digest != self.md5[filename]:
                        errors.append(f"{url}: MD5 {digest} does not match the published {self.md5[filename]}")
                        continue
                    with open(os.path.join(target, filename), "wb") as f:
                        f.write(payload)
                    break
                else:
                    raise DatasetNotFoundError(
                        f"{self.name}: could not download {filename}:\n  " + "\n  ".join(errors) + f"\n{self.how_to_get}"
                    )

    # ---- samples ------------------------------------------------------------------------

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        img = self.data[int(index)]
        x = self.transform(img) if self.transform is not None else ToTensor()(img)
        y = int(self.targets[int(index)])
        return x, (self.target_transform(y) if self.target_transform is not None else y)

    def __getitems__(self, indices):
        """A batch `(images, labels)` for a slice or an int64 index tensor: one gather of the
        images and labels, then the transform applied to the whole batch when it can be."""
        from backprop import stack, tensor

        images = self.data[indices] if isinstance(indices, slice) else self.data[indices.numpy()]
        labels = self.targets[indices]
        if self.transform is None:
            x = ToTensor().batch(images)
        elif supports_batch(self.transform):
            x = self.transform.batch(images)
        else:
            x = stack([self.transform(img) for img in images])
        if self.target_transform is not None:
            labels = tensor([self.target_transform(y) for y in labels.tolist()])
        return x, labels

    def __repr__(self):
        split = "Train" if self.train else "Test"
        lines = [f"Dataset {self.name}", f"    Number of datapoints: {len(self)}", f"    Root location: {self.root}", f"    Split: {split}"]
        if self.transform is not None:
            lines.append("    Transform: " + repr(self.transform).replace("\n", "\n    "))
        return "\n".join(lines)


class MNIST(_IDXImages):
    """The MNIST handwritten digits: 60,000 training and 10,000 test images, 10 classes."""

    name = "MNIST"
    mirrors = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
    md5 = {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }
    classes = [f"{d} - {w}" for d, w in enumerate("zero one two three four five six seven eight nine".split())]
    how_to_get = "Download the MNIST files from https://ossci-datasets.s3.amazonaws.com/mnist/ (torchvision's mirror)."


class FashionMNIST(_IDXImages):
    """Zalando's Fashion-MNIST: 28x28 grey images of clothing in 10 classes, 60,000 + 10,000.

    The default root is where Debian's `dataset-fashion-mnist` package installs the files.
    """

    name = "FashionMNIST"
    default_root = "/usr/share/datasets/fashion-mnist"
    mirrors = (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    )
    md5 = {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    }
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    how_to_get = (
        "Install them with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu; files go to "
        "/usr/share/datasets/fashion-mnist) or download them from https://github.com/zalandoresearch/fashion-mnist."
    )
