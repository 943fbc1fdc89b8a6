"""`python -m backprop.demo`'s command line: help with every default, device choices, and
data problems as one-line errors that name this CLI's options (not `download=True`)."""

import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from backprop import demo


def test_help_gives_a_sentence_and_the_default_of_every_option():
    parser = demo._parser()
    text = parser.format_help()
    for action in parser._actions:
        if action.dest == "help":
            continue
        assert action.help and len(action.help.split()) >= 3, f"{action.option_strings} has no explanation"
        assert action.option_strings[0] in text
    assert text.count("(default:") == len(parser._actions) - 1
    assert "{cpu,gpu,cuda}" in text


def test_help_runs_as_a_module():
    out = subprocess.run([sys.executable, "-m", "backprop.demo", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "--distributed" in out.stdout and "--download" in out.stdout


def _error_line(capsys, argv):
    with pytest.raises(SystemExit) as e:
        demo.main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code != 0
    assert "Traceback" not in "\n".join(err)
    return err[-1]


def test_device_has_choices(capsys):
    line = _error_line(capsys, ["--device", "tpu"])
    assert "invalid choice: 'tpu'" in line


def test_missing_data_directory_is_one_line(capsys):
    line = _error_line(capsys, ["--data", "/nonexistent/mnist"])
    assert line == "python -m backprop.demo: error: --data /nonexistent/mnist: no such directory"


def test_data_directory_without_files_points_to_download(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        demo.main(["--data", str(tmp_path)])
    err = capsys.readouterr().err
    assert e.value.code == 1 and len(err.strip().splitlines()) == 1, err
    assert "pass --download to fetch them" in err and "download=True" not in err


def test_download_without_network_is_one_clear_line(tmp_path, capsys, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(SystemExit) as e:
        demo.main(["--data", str(tmp_path), "--download"])
    err = capsys.readouterr().err
    assert e.value.code == 1 and len(err.strip().splitlines()) == 1, err
    assert "could not download" in err and "network" in err


def test_download_needs_a_data_directory(capsys):
    line = _error_line(capsys, ["--download"])
    assert "--download needs --data DIR" in line
