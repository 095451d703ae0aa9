"""The root command: version, exit codes, and errors without tracebacks."""

from __future__ import annotations

from cnnlab import __version__
from cnnlab.cli import main


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"cnnlab {__version__}"


def test_a_bad_flag_value_is_a_usage_error_with_exit_code_2(capsys):
    assert main(["experiment", "fc-vs-cnn", "--seeds", "abc"]) == 2
    err = capsys.readouterr().err
    assert "Invalid value for '--seeds'" in err and "Traceback" not in err


def test_a_missing_argument_is_a_usage_error(capsys):
    assert main(["experiment"]) == 2
    assert "Missing argument" in capsys.readouterr().err


def test_a_cnnlab_error_prints_its_message_only_and_debug_adds_the_traceback(capsys):
    assert main(["data", "verify", "no-such-dataset"]) == 2
    err = capsys.readouterr().err
    assert "Unknown dataset 'no-such-dataset'" in err and "Traceback" not in err
    assert main(["--debug", "data", "verify", "no-such-dataset"]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_debug_is_the_root_option_not_any_word_on_the_line(capsys):
    # "--debug" here is the dataset's name (after "--"), not the option: no traceback.
    assert main(["data", "verify", "--", "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Unknown dataset '--debug'" in err and "Traceback" not in err
    assert main(["data", "verify", "no-such-dataset"]) == 2  # a --debug run before does not stick
    assert "Traceback" not in capsys.readouterr().err


def test_every_area_has_its_commands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("data", "models", "explain", "train", "recipes", "runs", "eval", "predict", "visualize",
                    "export", "generate", "lowrank", "experiment"):  # fmt: skip
        assert command in out, command
