"""End-to-end training: a small MLP learns the spiral set; the demo runs on MNIST-format
files, on the spiral fallback, and saves a checkpoint that loads back into its model."""

import time

import numpy as np
import pytest

import backprop as bp
from backprop import nn, optim
from backprop.data import DataLoader, datasets
from test_data import write_fake_mnist


def test_mlp_learns_the_spiral_set_to_over_95_percent(device):
    bp.manual_seed(0)
    ds = datasets.spiral(100, 3, seed=0)
    x, y = (t.to(device) for t in ds.tensors)
    model = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 3)).to(device)
    opt = optim.Adam(model.parameters(), lr=0.02)
    loss_fn = nn.CrossEntropyLoss()
    start = time.perf_counter()
    for epoch in range(60):
        for xb, yb in DataLoader(bp.data.TensorDataset(x, y), batch_size=32, shuffle=True, seed=epoch):
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
    model.eval()
    with bp.no_grad():
        accuracy = (model(x).argmax(dim=1) == y).float().mean().item()
    assert accuracy > 0.95, f"training accuracy {accuracy:.3f} after {time.perf_counter() - start:.1f}s"


def test_linear_classifier_cannot_fit_the_spiral():
    """The data set is what it claims: not linearly separable (so the MLP test means something)."""
    bp.manual_seed(0)
    x, y = datasets.spiral(100, 3, seed=0).tensors
    model = nn.Linear(2, 3)
    opt = optim.Adam(model.parameters(), lr=0.05)
    for _ in range(300):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    with bp.no_grad():
        accuracy = (model(x).argmax(dim=1) == y).float().mean().item()
    assert accuracy < 0.7


def test_demo_trains_on_mnist_files_and_saves_a_loadable_checkpoint(tmp_path, capsys):
    from backprop import demo

    write_fake_mnist(tmp_path / "mnist", n_train=200, n_test=50)
    path = tmp_path / "ckpt.safetensors"
    accuracy = demo.main(["--data", str(tmp_path / "mnist"), "--epochs", "2", "--batch-size", "32", "--save", str(path)])
    out = capsys.readouterr().out
    assert f"Training on MNIST from {tmp_path / 'mnist'}" in out
    assert "epoch 2: train loss" in out and "test accuracy" in out and "samples/s" in out
    assert 0.0 <= accuracy <= 1.0
    ckpt = bp.load(path)
    model = demo.MLP()
    model.load_state_dict(ckpt["model"])
    assert ckpt["epochs"] == 2 and ckpt["optimizer"]["state"][0]["step"].item() == 2 * 7


def test_demo_falls_back_to_the_spiral_set(tmp_path, monkeypatch, capsys):
    from backprop import demo

    monkeypatch.setattr(datasets.FashionMNIST, "default_root", str(tmp_path / "absent"))
    accuracy = demo.main(["--epochs", "3"])
    captured = capsys.readouterr()
    assert "Training on the spiral set" in captured.out
    assert "Fashion-MNIST not found" in captured.err and "apt-get install dataset-fashion-mnist" in captured.err
    assert accuracy > 0.6  # 3 epochs of the 2-512-512-3 MLP already beat chance (1/3) by far
    assert np.isfinite(accuracy)


def test_demo_rejects_bad_arguments():
    from backprop import demo

    with pytest.raises(SystemExit):
        demo.main(["--epochs", "0"])
