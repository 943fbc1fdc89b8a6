"""bp.save / bp.load: safetensors files that other readers accept, state-dict and checkpoint
round trips (optimizer state included), and clear errors for what cannot be stored."""

import json
import struct

import numpy as np
import pytest

import backprop as bp
from backprop import nn, optim
from conftest import assert_close, to_np


def header(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8 : 8 + n]), n


def test_state_dict_round_trip(tmp_path):
    model = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2))
    path = tmp_path / "model.safetensors"
    bp.save(model.state_dict(), path)
    loaded = bp.load(path)
    assert list(loaded) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    other = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2))
    other.load_state_dict(loaded)
    x = bp.randn(3, 5)
    assert_close(other(x), to_np(model(x)))


def test_files_are_valid_safetensors(tmp_path):
    tensors = {
        "f32": bp.randn(3, 4),
        "f64": bp.randn(5, dtype=bp.float64),
        "i64": bp.arange(7),
        "flag": bp.tensor([True, False, True]),
        "scalar": bp.tensor(2.5),
        "empty": bp.zeros(0, 3),
        "view": bp.randn(4, 6)[:, 1:5:2],  # non-contiguous: stored as its values
    }
    path = tmp_path / "t.safetensors"
    bp.save(tensors, path, metadata={"format": "pt"})
    head, n = header(path)
    assert n % 8 == 0
    assert head["__metadata__"] == {"format": "pt"}
    assert head["f32"]["dtype"] == "F32" and head["i64"]["dtype"] == "I64" and head["flag"]["dtype"] == "BOOL"
    assert head["scalar"]["shape"] == []
    ends = sorted(v["data_offsets"] for k, v in head.items() if k != "__metadata__")
    assert ends[0][0] == 0 and all(a[1] == b[0] for a, b in zip(ends, ends[1:]))  # no gaps
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    read = safetensors_numpy.load_file(str(path))
    assert set(read) == set(tensors)
    for k, t in tensors.items():
        np.testing.assert_array_equal(read[k], to_np(t))
    back = bp.load(path)
    for k, t in tensors.items():
        assert back[k].dtype == t.dtype and tuple(back[k].shape) == tuple(t.shape)
        np.testing.assert_array_equal(to_np(back[k]), to_np(t))
    assert bp.serialization.load_metadata(path) == {"format": "pt"}


def test_reads_files_written_by_the_safetensors_library(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    path = str(tmp_path / "lib.safetensors")
    arrays = {
        "a": np.arange(6, dtype=np.float32).reshape(2, 3),
        "b": np.array([1, -2], dtype=np.int32),
        "h": np.array([0.5, 1.5], dtype=np.float16),
        "u": np.array([255, 3], dtype=np.uint8),
    }
    safetensors_numpy.save_file(arrays, path)
    loaded = bp.load(path)
    # every dtype is kept as it is stored, never widened
    assert [loaded[k].dtype for k in "abhu"] == [bp.float32, bp.int32, bp.float16, bp.uint8]
    for k, a in arrays.items():
        np.testing.assert_array_equal(to_np(loaded[k]), a)


def test_checkpoint_with_optimizer_state_round_trips(tmp_path):
    bp.manual_seed(0)
    model = nn.Linear(3, 2)
    opt = optim.AdamW(model.parameters(), lr=0.01, betas=(0.8, 0.99), amsgrad=True)
    x, y = bp.randn(6, 3), bp.randint(0, 2, (6,))
    for _ in range(3):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    path = tmp_path / "ckpt.safetensors"
    bp.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3, "note": None}, path)
    ckpt = bp.load(path)
    assert ckpt["epoch"] == 3 and ckpt["note"] is None
    sd = ckpt["optimizer"]
    assert sd["param_groups"][0]["betas"] == (0.8, 0.99) and sd["param_groups"][0]["params"] == [0, 1]
    assert set(sd["state"]) == {0, 1} and sd["state"][0]["step"].item() == 3
    # Continuing from the checkpoint gives the same parameters as never stopping.
    model2 = nn.Linear(3, 2)
    model2.load_state_dict(ckpt["model"])
    opt2 = optim.AdamW(model2.parameters())
    opt2.load_state_dict(sd)
    for m, o in ((model, opt), (model2, opt2)):
        o.zero_grad()
        nn.functional.cross_entropy(m(x), y).backward()
        o.step()
    assert_close(model2.weight, to_np(model.weight), rtol=1e-6)
    # The tensors are visible to other readers under dotted names.
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    names = set(safetensors_numpy.load_file(str(path)))
    assert {"model.weight", "model.bias", "optimizer.state.0.exp_avg", "optimizer.state.1.max_exp_avg_sq"} <= names


def test_what_cannot_be_stored_is_a_clear_error(tmp_path):
    with pytest.raises(TypeError, match="cannot store set"):
        bp.save({"a": {1, 2}}, tmp_path / "x")
    with pytest.raises(TypeError, match="cannot store ndarray"):
        bp.save({"a": bp.ones(1), "b": np.ones(2)}, tmp_path / "y")
    with pytest.raises(TypeError, match="dict keys"):
        bp.save({(1, 2): bp.ones(1)}, tmp_path / "z")


def test_not_a_safetensors_file_is_a_clear_error(tmp_path):
    path = tmp_path / "junk"
    path.write_bytes(b"\xff" * 4)
    with pytest.raises(ValueError, match="not a safetensors file"):
        bp.load(path)
    path.write_bytes(struct.pack("<Q", 10**9) + b"{}")
    with pytest.raises(ValueError, match="header length"):
        bp.load(path)
    path.write_bytes(struct.pack("<Q", 2) + b"{}")
    assert bp.load(path) == {}
