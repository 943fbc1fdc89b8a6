"""examples/lecture.py, the lecture walk-through: it prints the lecture's numbers and writes the
pictures, or says why it skipped them."""

import importlib.util
import shutil
from pathlib import Path

import pytest

LECTURE = Path(__file__).resolve().parent.parent / "examples" / "lecture.py"


@pytest.fixture(scope="module")
def lecture():
    spec = importlib.util.spec_from_file_location("lecture", LECTURE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_prints_the_walk_through_with_the_slides_numbers(lecture, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    lecture.main(["--no-pictures"])
    out = capsys.readouterr().out
    assert "df/dx = -4, df/dy = -4, df/dz = 3" in out
    assert "df/dx1 = -0.59" in out and "f = 0.73" in out
    assert "grad_s3 = grad_L * (1 - L) * L  # 0.20" in out
    assert "gradcheck(LegendrePolynomial3): True" in out
    assert not any(tmp_path.iterdir())  # no lecture_graphs/ folder


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed (apt-get install graphviz)")
def test_writes_one_svg_per_example(lecture, capsys, tmp_path):
    pytest.importorskip("matplotlib", reason="Jacobian images need matplotlib")
    lecture.main([str(tmp_path / "graphs")])
    names = sorted(p.name for p in (tmp_path / "graphs").iterdir())
    assert names == sorted(
        f"{n}.svg"
        for n in [
            "simple_circuit", "sigmoid_neuron", "sigmoid_gate", "relu_vector", "matrix_multiply",
            "custom_multiply", "gate_patterns", "copy_gate", "jacobian_relu", "jacobian_matmul",
        ]
    )
    svg = (tmp_path / "graphs" / "sigmoid_neuron.svg").read_text()
    for number in ["-0.20", "0.39", "-0.39", "-0.59", "0.20", "0.73"]:
        assert f">{number}</text>" in svg


def test_without_dot_it_says_so_and_skips_the_graph_pictures(lecture, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    lecture.main([str(tmp_path / "graphs")])
    out = capsys.readouterr().out
    assert "skipping the graph pictures" in out and "apt-get install graphviz" in out
    assert not list((tmp_path / "graphs").glob("simple_circuit.svg"))
