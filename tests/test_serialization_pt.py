"""bp.load of PyTorch files without torch (fixtures written by torch.save itself, see
tests/fixtures/make_pt_fixtures.py), the restricted unpickler refusing code, file objects,
map_location, tied weights, atomic saves and the validated safetensors header (LoadError)."""

import io
import json
import os
import pickle
import struct
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import backprop as bp
from backprop import nn
from backprop.serialization import LoadError
from conftest import assert_close, to_np

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


def fixture(name):
    return os.path.join(FIXTURES, name)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


@pytest.mark.parametrize("name", ["sequential_state_dict.pt", "sequential_state_dict_legacy.pt"])
def test_a_pytorch_state_dict_loads_into_the_matching_module(name):
    sd = bp.load(fixture(name))
    assert list(sd) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    model.load_state_dict(sd)
    assert sd["0.weight"].dtype == bp.float32 and sd["0.weight"].shape == (8, 4)


def test_a_pytorch_checkpoint_reproduces_pytorchs_output():
    ckpt = bp.load(fixture("mlp_checkpoint.pt"), weights_only=True)
    model = MLP()
    model.load_state_dict(ckpt["model"])
    assert_close(model(ckpt["input"]), to_np(ckpt["output"]), rtol=1e-5, atol=1e-6)
    assert ckpt["epoch"] == 2
    assert ckpt["config"] == {"lr": 1e-2, "betas": (0.9, 0.999), "name": "mlp", "flags": [True, None], "ids": {1, 2}}
    opt = ckpt["optimizer"]
    assert opt["param_groups"][0]["params"] == [0, 1, 2, 3] and opt["param_groups"][0]["betas"] == (0.9, 0.999)
    assert opt["state"][0]["exp_avg"].shape == (8, 4) and opt["state"][0]["step"].item() == 2


def test_pytorch_dtypes_and_views():
    d = bp.load(fixture("dtypes_and_views.pt"))
    # every dtype loads as itself (bfloat16 too, though NumPy lacks it)
    assert d["f16"].tolist() == d["f16_as_f64"].tolist() and d["bf16"].tolist() == d["bf16_as_f64"].tolist()
    assert d["f16"].dtype == bp.float16 and d["bf16"].dtype == bp.bfloat16 and d["f64"].tolist() == [1e300, -0.5]
    assert [d[k].dtype for k in ("i32", "i16", "i8", "u8")] == [bp.int32, bp.int16, bp.int8, bp.uint8]
    assert d["i32"].tolist() == [-7, 2**31 - 1] and d["i16"].tolist() == [-300, 5] and d["i64"].tolist() == [-(2**63), 2**63 - 1]
    assert d["i8"].tolist() == [-128, 127] and d["u8"].tolist() == [0, 255] and d["bool"].tolist() == [True, False, True]
    assert d["scalar"].shape == () and d["scalar"].item() == 2.5 and d["empty"].shape == (0, 3)
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert_close(d["base"], base)
    assert_close(d["transposed"], base.T)
    assert_close(d["row"], base[1])


def test_tied_weights_stay_tied():
    sd = bp.load(fixture("tied_lm.pt"))
    assert sd["embed.weight"] is sd["head.weight"]  # one storage in the file, one tensor here


def malicious_zip(payload):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", payload)
        z.writestr("archive/byteorder", "little")
    return buf.getvalue()


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_a_malicious_pickle_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "evil.pt"
    path.write_bytes(malicious_zip(pickle.dumps({"w": Evil()}, protocol=2)))
    legacy = pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2) + pickle.dumps(Evil(), protocol=2)
    called = []
    monkeypatch.setattr(os, "system", lambda cmd: called.append(cmd))
    with pytest.raises(LoadError, match="refused to load the global posix.system|refused to load the global os.system") as info:
        bp.load(path)
    assert isinstance(info.value, pickle.UnpicklingError) and isinstance(info.value, ValueError)
    assert str(path) in str(info.value) and not called
    with pytest.raises(LoadError, match="refused"):  # the legacy reader too
        bp.load(io.BytesIO(legacy))
    # A user class is refused without weights_only=False, and admitted with it.
    benign = tmp_path / "ns.pt"
    benign.write_bytes(malicious_zip(pickle.dumps({"cfg": collections_counter()}, protocol=2)))
    assert bp.load(benign)["cfg"]["a"] == 2
    import argparse

    ns = tmp_path / "argparse.pt"
    ns.write_bytes(malicious_zip(pickle.dumps({"args": argparse.Namespace(lr=0.1)}, protocol=2)))
    with pytest.raises(LoadError, match="argparse.Namespace"):
        bp.load(ns)
    assert bp.load(ns, weights_only=False)["args"].lr == 0.1


def collections_counter():
    import collections

    return collections.Counter("aab")


def test_file_objects_and_map_location(tmp_path):
    with open(fixture("sequential_state_dict.pt"), "rb") as f:
        sd = bp.load(f, map_location="cpu")
    assert sd["0.bias"].device.type == "cpu"
    seen = []
    bp.load(fixture("sequential_state_dict.pt"), map_location=lambda t, loc: seen.append(loc))
    assert seen == ["cpu"] * 4
    buf = io.BytesIO()
    bp.save({"a": bp.arange(3), "nested": {"b": [bp.ones(2)]}}, buf)
    buf.seek(0)
    back = bp.load(buf, map_location={"cpu": "cpu"})
    assert back["a"].tolist() == [0, 1, 2] and back["nested"]["b"][0].tolist() == [1.0, 1.0]


def test_tied_parameters_round_trip_through_save(tmp_path):
    a = nn.Linear(3, 3, bias=False)
    b = nn.Linear(3, 3, bias=False)
    b.weight = a.weight
    model = nn.Sequential(a, b)
    path = tmp_path / "tied.safetensors"
    bp.save(model.state_dict(), path)
    back = bp.load(path)
    assert list(back) == ["0.weight", "1.weight"] and back["0.weight"] is back["1.weight"]
    (n,) = struct.unpack("<Q", path.read_bytes()[:8])
    header = json.loads(path.read_bytes()[8 : 8 + n])
    assert [k for k in header if k != "__metadata__"] == ["0.weight"]  # stored once
    other = nn.Sequential(nn.Linear(3, 3, bias=False), nn.Linear(3, 3, bias=False))
    other.load_state_dict(back)
    assert_close(other[1].weight, to_np(a.weight))


def test_a_failed_save_leaves_the_old_file_intact(tmp_path, monkeypatch):
    from backprop import serialization

    path = tmp_path / "ckpt.safetensors"
    bp.save({"w": bp.ones(4)}, path)
    before = path.read_bytes()

    def disk_full(out, parts):
        out.write(parts[0])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(serialization, "_write_parts", disk_full)
    with pytest.raises(OSError, match="No space left"):
        bp.save({"w": bp.zeros(1000)}, path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["ckpt.safetensors"]  # no temporary left behind
    monkeypatch.undo()
    with pytest.raises(TypeError):
        bp.save({"w": bp.zeros(3), "x": object()}, path)  # fails before writing anything
    assert path.read_bytes() == before
    bp.save({"w": bp.zeros(2)}, path)
    assert bp.load(path)["w"].tolist() == [0.0, 0.0] and os.listdir(tmp_path) == ["ckpt.safetensors"]


def safetensors_bytes(header, body=b""):
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + body


@pytest.mark.parametrize(
    "header, body, tensor, field",
    [
        ([1, 2], b"", None, "header"),
        ({"__metadata__": {"a": 1}}, b"", None, "__metadata__"),
        ({"t": 3}, b"", "t", "entry"),
        ({"t": {"dtype": "F32", "shape": [1]}}, b"", "t", "data_offsets"),
        ({"t": {"dtype": "Q7", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4, "t", "dtype"),
        ({"t": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4, "t", "shape"),
        ({"t": {"dtype": "F32", "shape": "2", "data_offsets": [0, 4]}}, b"\0" * 4, "t", "shape"),
        ({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4, "t", "data_offsets"),
        ({"t": {"dtype": "F32", "shape": [1], "data_offsets": [0, 8]}}, b"\0" * 4, "t", "data_offsets"),
        ({"t": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}, b"\0" * 4, "t", "data_offsets"),
        ({"t": {"dtype": "F32", "shape": [1], "data_offsets": "0-4"}}, b"\0" * 4, "t", "data_offsets"),
        (
            {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}},
            b"\0" * 8,
            "b",
            "data_offsets",
        ),
        ({"t": {"dtype": "F32", "shape": [2**40, 2**40], "data_offsets": [0, 4]}}, b"\0" * 4, "t", "data_offsets"),
    ],
)
def test_malformed_headers_are_one_load_error(tmp_path, header, body, tensor, field):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(safetensors_bytes(header, body))
    with pytest.raises(LoadError) as info:
        bp.load(path)
    e = info.value
    assert (e.tensor, e.field) == (tensor, field) and str(path) in str(e) and isinstance(e, ValueError)
    assert bp.LoadError is LoadError


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 300))
def test_corrupted_files_raise_only_load_errors(junk, cut):
    good = io.BytesIO()
    bp.save({"a": bp.arange(4), "b": bp.ones(2, 2), "c": {"d": [1.5, None]}}, good)
    data = good.getvalue()
    for candidate in (junk, data[:cut], data[:cut] + junk, data[:8] + junk + data[8 + len(junk) :]):
        try:
            bp.load(io.BytesIO(candidate))
        except LoadError:
            pass


@settings(max_examples=40, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers(-3, 2**40) | st.text(max_size=3) | st.lists(st.integers(), max_size=3),
                    lambda inner: st.dictionaries(st.sampled_from(["dtype", "shape", "data_offsets", "x"]), inner, max_size=4), max_leaves=8))
def test_random_header_entries_raise_only_load_errors(entry):
    try:
        bp.load(io.BytesIO(safetensors_bytes({"t": entry}, b"\0" * 16)))
    except LoadError:
        pass


def test_map_location_moves_tensors_and_saves_read_back_from_the_device(tmp_path, device):
    sd = bp.load(fixture("sequential_state_dict.pt"), map_location=device)
    assert all(t.device.type == device for t in sd.values())
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).to(device)
    model.load_state_dict(sd)
    x = bp.randn(2, 4, device=device)
    path = tmp_path / "m.safetensors"
    bp.save({"model": model.state_dict(), "empty_a": bp.zeros(0), "empty_b": bp.zeros(0)}, path)
    back = bp.load(path, map_location=device)
    assert back["empty_a"] is not back["empty_b"]
    again = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).to(device)
    again.load_state_dict(back["model"])
    assert_close(again(x), to_np(model(x)), rtol=1e-5, atol=1e-6)


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(["sequential_state_dict.pt", "sequential_state_dict_legacy.pt", "tied_lm.pt"]), st.integers(0, 4000), st.binary(min_size=1, max_size=8))
def test_corrupted_pytorch_files_raise_only_load_errors(name, at, junk):
    with open(fixture(name), "rb") as f:
        data = f.read()
    at %= len(data)
    for candidate in (data[:at], data[:at] + junk + data[at + len(junk) :]):
        try:
            bp.load(io.BytesIO(candidate))
        except LoadError:
            pass


def test_corrupted_pickle_inside_a_valid_zip_is_a_load_error():
    with pytest.raises(LoadError, match="could not be unpickled"):
        bp.load(io.BytesIO(malicious_zip(b"\x80\x02garbage")))
    with pytest.raises(LoadError, match="persistent id"):
        bp.load(io.BytesIO(malicious_zip(b"\x80\x02X\x03\x00\x00\x00abcQ.")))


@pytest.mark.parametrize("tree", ['{"$dict": 5}', '{"$dict": [[1]]}', '{"$list": 3}', '{"$tensor": "nope"}', '{"$what": 1}', "[" * 5000 + "]" * 5000, "{"])
def test_a_malformed_structure_entry_is_a_load_error(tree):
    data = safetensors_bytes({"__metadata__": {"backprop.tree": tree}})
    with pytest.raises(LoadError, match="__metadata__"):
        bp.load(io.BytesIO(data))
    deep = '{"$list": [' * 900 + "1" + "]}" * 900
    try:
        bp.load(io.BytesIO(safetensors_bytes({"__metadata__": {"backprop.tree": deep}})))
    except LoadError:
        pass
