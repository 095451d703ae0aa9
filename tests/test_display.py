"""cnnlab.display: tables, inline figures, notebook detection and the one-line errors in IPython."""

from __future__ import annotations

import re

import pytest
from IPython.core.interactiveshell import InteractiveShell

from cnnlab import display
from cnnlab.errors import UnknownNameError


def test_tables_escape_and_align():
    html = display.html_table(["name", "n"], [["<b>", 1.23456], ["x", None]], title="T", right=["n"])
    assert "&lt;b&gt;" in html and "1.235" in html and "text-align:right" in html
    text = display.text_table(["name", "n"], [["a", 10], ["long name", 2]])
    assert text.splitlines()[0].startswith("name       n")


def test_record_table_keeps_every_key_in_order():
    columns, rows = display.record_table([{"a": 1}, {"a": 2, "b": 3}])
    assert columns == ["a", "b"] and rows == [[1, ""], [2, 3]]


def test_picture_is_a_png():
    from matplotlib.figure import Figure

    figure = Figure(figsize=(1, 1))
    figure.add_subplot().plot([0, 1])
    picture = display.Picture("p", figure, ["a note"], label="a plot")
    assert picture._repr_png_().startswith(b"\x89PNG")
    assert "a note" in picture._repr_html_() and "base64," in picture._repr_html_()
    assert repr(picture) == "<Picture: a plot>\na note"


def test_not_a_notebook_outside_a_kernel():
    assert display.in_notebook() is False


@pytest.fixture
def shell():
    shell = InteractiveShell.instance()
    yield shell
    shell.set_custom_exc((), None)
    InteractiveShell.clear_instance()


def test_cnnlab_errors_show_as_one_line_in_ipython(shell, capsys):
    assert display.register_error_display(shell)
    shell.run_cell(
        "from cnnlab.errors import UnknownNameError\nraise UnknownNameError('model', 'lenet', ['lenet5'])"
    )
    out = capsys.readouterr()
    shown = (out.out + out.err).strip()
    assert shown == "UnknownNameError: Unknown model 'lenet'. Did you mean 'lenet5'? Known models: lenet5."


def test_other_errors_keep_their_traceback(shell, capsys):
    display.register_error_display(shell)
    shell.run_cell("def f():\n    raise ValueError('plain')\nf()")
    shown = re.sub(r"\x1b\[[0-9;]*m", "", "".join(capsys.readouterr()))
    assert "ValueError: plain" in shown and "f()" in shown  # the frames are there


def test_handler_prints_the_message_alone(capsys):
    error = UnknownNameError("model", "x", ["y"])
    assert display._one_line_error(None, type(error), error, None) == []
    assert capsys.readouterr().err == f"UnknownNameError: {error}\n"
