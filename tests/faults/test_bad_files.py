"""Files that are not what they claim: checkpoints of random, truncated, empty, damaged or hostile
bytes, and a user's model file that raises, needs arguments or names something else. Each gets an
accurate one-line message from every command that opens it, never a traceback and never the
wrong diagnosis (random bytes are not "objects that could run code")."""

from __future__ import annotations

import pickle
import random
import re
from pathlib import Path

import pytest
import torch

from cnnlab.cli import main
from cnnlab.errors import CheckpointError
from cnnlab.runs import load_checkpoint, save_checkpoint


class _Hostile:
    """Unpickling this would create a file: the classic code-execution payload, made harmless."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _good_bytes(tmp_path: Path) -> bytes:
    path = save_checkpoint(tmp_path / "good.pt", {"model_state": {"w": torch.randn(2000)}})
    return path.read_bytes()


def _flipped_inside(data: bytes) -> bytes:
    """A byte of a tensor flipped, size kept: torch.load alone would load it as wrong weights."""
    at = len(data) // 2
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


# name -> (bytes maker, what the message must say, what it must not say)
CASES = {
    "random": (lambda t: random.Random(0).randbytes(4096), "is not a PyTorch file", "could run code"),
    "text": (lambda t: b"these are not weights\n", "is not a PyTorch file", "could run code"),
    "empty": (lambda t: b"", "is empty (0 bytes)", "could run code"),
    "truncated": (lambda t: _good_bytes(t)[:1500], "truncated or corrupt", "could run code"),
    "flipped": (lambda t: _flipped_inside(_good_bytes(t)), "do not match their stored CRC-32", "run code"),
    "random pickle": (
        lambda t: b"\x80\x02" + random.Random(1).randbytes(2048),
        "truncated or corrupt",
        "could run code",
    ),
    "hostile pickle": (
        lambda t: pickle.dumps(_Hostile(t / "pwned"), protocol=2),
        "could run code when loaded",
        "corrupt",
    ),
}


@pytest.fixture(params=sorted(CASES))
def bad_file(request, tmp_path) -> tuple[Path, str, str]:
    make, says, never = CASES[request.param]
    path = tmp_path / "model.pt"
    path.write_bytes(make(tmp_path))
    return path, says, never


def test_each_bad_checkpoint_gets_its_own_accurate_message(bad_file, tmp_path):
    path, says, never = bad_file
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert says in message and never not in message and str(path) in message
    assert "\n" not in message and not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(
    "command",
    [["eval", "{p}"], ["visualize", "{p}", "--filters"], ["export", "{p}", "--format", "onnx"]],
    ids=["eval", "visualize", "export"],
)
def test_every_command_that_opens_a_checkpoint_says_it_in_one_line(bad_file, command, capsys, tmp_path):
    path, says, never = bad_file
    code = main([part.format(p=path) for part in command])
    err = capsys.readouterr().err.strip()
    assert code == 1, err
    assert err.startswith("Error:") and says in " ".join(err.split()) and "Traceback" not in err
    assert not (tmp_path / "pwned").exists()


def test_resume_from_a_damaged_last_checkpoint_says_so(tiny, interrupted_run, capsys):
    run = interrupted_run(tiny, 5)
    last = run / "checkpoints" / "last.pt"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 3])
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--quiet"]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "last.pt is truncated or corrupt" in err and "Traceback" not in err


USER_FILES = {
    "raises on import": (
        "import torch\nx = 1\nraise ValueError('no GPU here')\n",
        "Net",
        r"ValueError: no GPU here \(net.py, line 3\)",
    ),
    "syntax error": ("class Net(:\n    pass\n", "Net", r"SyntaxError: .*\(net.py, line 1\)"),
    "needs arguments": (
        "from torch import nn\nclass Net(nn.Module):\n"
        "    def __init__(self, width):\n        super().__init__()\n",
        "Net",
        r"net.py:Net cannot be built without arguments .*width",
    ),
    "constructor fails": (
        "from torch import nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.fc = nn.Linear(4, 'x')\n",
        "Net",
        r"Building .*net.py:Net raised TypeError: .*\(net.py, line 5\)",
    ),
    "not a class": ("WIDTH = 3\n", "WIDTH", r"net.py:WIDTH is a int, not an nn.Module"),
    "missing name": (
        "from torch import nn\nclass Small(nn.Module):\n    pass\n",
        "Net",
        r"defines no 'Net'. Its nn.Module classes: Small",
    ),
    "returns something else": ("def Net():\n    return 3\n", "Net", r"returned a int, not an nn.Module"),
}


@pytest.mark.parametrize("case", sorted(USER_FILES))
def test_explain_a_bad_user_model_is_one_line_naming_the_file_and_the_cause(case, tmp_path, capsys):
    source, name, expected = USER_FILES[case]
    path = tmp_path / "net.py"
    path.write_text(source)
    code = main(["explain", f"{path}:{name}", "--input", "1x8x8"])
    err = " ".join(capsys.readouterr().err.split())
    assert code in (1, 2) and "Traceback" not in err and err.startswith("Error:")
    assert str(path) in err
    assert re.search(expected, err), err


def test_a_settings_file_with_several_problems_reports_them_all_at_once(tmp_path, capsys):
    """The issue's case: two unknown keys and two wrong types reported only the first; the docs
    promise all at once. The known names are listed once, not after each unknown one."""
    settings = tmp_path / "bad.yaml"
    settings.write_text('epochs: "three"\nbatch_size: [1]\nfoo: 1\nepochz: 2\n')
    assert main(["train", "--config", str(settings), "--runs-dir", str(tmp_path / "runs")]) == 2  # usage
    err = capsys.readouterr().err
    assert "4 problems in" in err and "bad.yaml" in err, err
    for problem in (
        "epochs = 'three'",
        "batch_size = [1]",
        "Unknown setting 'foo'",
        "Unknown setting 'epochz'",
    ):
        assert problem in err, err
    assert "Did you mean 'epochs'?" in err and err.count("Known settings:") == 1, err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("name", "text", "line"),
    [("broken.yaml", "epochs: 3\n  lr: [\n", 2), ("broken.toml", "epochs = 3\nlr = \n", 2)],
)
def test_a_broken_settings_file_names_the_file_and_the_line(name, text, line, tmp_path, capsys):
    settings = tmp_path / name
    settings.write_text(text)
    assert main(["train", "--config", str(settings), "--runs-dir", str(tmp_path / "runs")]) == 2  # usage
    err = capsys.readouterr().err
    assert name in err and f"line {line}" in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) <= 2, err  # one line (a long path may wrap once)
