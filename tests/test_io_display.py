"""deconv_io.display.choose_backend: matplotlib's own choice, one line when it cannot show."""

import matplotlib
import pytest

from deconv_io.display import choose_backend, is_interactive_backend


def test_show_where_matplotlib_chose_an_interactive_backend(monkeypatch, capsys):
    monkeypatch.setattr(matplotlib, "get_backend", lambda: "TkAgg")
    assert choose_backend(True, "prog") is True
    assert choose_backend(None, "prog") is True  # default: wherever matplotlib can
    assert capsys.readouterr().err == ""


def test_show_without_a_window_says_so_in_one_line(monkeypatch, capsys):
    monkeypatch.setattr(matplotlib, "get_backend", lambda: "agg")
    monkeypatch.setenv("DISPLAY", ":0")  # a DISPLAY variable is not what decides
    assert choose_backend(True, "prog") is False
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("prog: cannot open a window: matplotlib's backend here is 'agg'")
    assert choose_backend(None, "prog") is False  # the default stays silent
    assert capsys.readouterr().err == ""


def test_no_show_selects_agg(monkeypatch):
    calls = []
    monkeypatch.setattr(matplotlib, "use", lambda name, force=False: calls.append((name, force)))
    assert choose_backend(False) is False
    assert calls == [("Agg", True)]


@pytest.mark.parametrize("backend, interactive", [("agg", False), ("pdf", False),
                                                   ("QtAgg", True), ("module://my.backend", True)])
def test_is_interactive_backend(backend, interactive):
    assert is_interactive_backend(backend) is interactive
