"""The command-line plumbing both ports share: one stderr line, exit 2 or 130.

In-process through `capsys`, and twice through a real interpreter to see the
exit status and that no traceback is printed.
"""

import os
import subprocess
import sys
import textwrap

import pytest

from deconv_io import DEFAULT_MAX_PIXELS, InputError, load_image
from deconv_runtime.cli import ArgumentParser, add_common_arguments, positive_int, run_main
from deconv_runtime.tf_import import quiet_tensorflow


def make_parser():
    parser = ArgumentParser(prog="demo")
    parser.add_argument("image", nargs="?")
    add_common_arguments(parser)
    return parser


def one_line(text):
    assert text.endswith("\n") and text.count("\n") == 1, repr(text)
    return text


# --- ArgumentParser ----------------------------------------------------------------


@pytest.mark.parametrize("argv,message", [
    (["--bogus"], "demo: error: unrecognized arguments: --bogus (see --help)\n"),
    (["--seed", "x"], "demo: error: argument --seed: invalid int value: 'x' (see --help)\n"),
    (["--max-pixels", "0"],
     "demo: error: argument --max-pixels: expected an int >= 1, got '0' (see --help)\n"),
    (["--max-pixels", "-5"],
     "demo: error: argument --max-pixels: expected an int >= 1, got '-5' (see --help)\n"),
    (["--max-pixels", "1e6"],
     "demo: error: argument --max-pixels: expected an int >= 1, got '1e6' (see --help)\n"),
    (["--dump"], "demo: error: argument --dump: expected one argument (see --help)\n"),
    (["a.jpg", "b.jpg"], "demo: error: unrecognized arguments: b.jpg (see --help)\n"),
])
def test_usage_error_is_one_line_and_exit_2(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        make_parser().parse_args(argv)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert one_line(captured.err) == message


def test_multi_line_usage_message_is_folded(capsys):
    with pytest.raises(SystemExit):
        make_parser().error("first\nsecond")
    assert one_line(capsys.readouterr().err) == "demo: error: first second (see --help)\n"


def test_help_exits_0(capsys):
    with pytest.raises(SystemExit) as exit_info:
        make_parser().parse_args(["--help"])
    assert exit_info.value.code == 0
    assert "--max-pixels" in capsys.readouterr().out


def test_common_defaults():
    args = make_parser().parse_args([])
    assert (args.image, args.seed, args.weights, args.dump, args.save, args.show,
            args.max_pixels, args.verbose) == (None, None, None, None, None, None,
                                               DEFAULT_MAX_PIXELS, False)


def test_common_values():
    args = make_parser().parse_args(["x.png", "--seed", "3", "--max-pixels", "12",
                                     "--no-show", "--verbose", "--dump", "d.npz"])
    assert (args.seed, args.max_pixels, args.show, args.verbose) == (3, 12, False, True)
    assert str(args.dump) == "d.npz"


def test_positive_int():
    assert positive_int("7") == 7


@pytest.mark.parametrize("text, args, value", [
    ("7", (1,), 7), (" 7 ", (1,), 7), ("+3", (1,), 3), ("1", (1,), 1), ("0", (1,), None),
    ("-5", (1,), None), ("1e6", (1,), None), ("", (1,), None), ("x", (1,), None),
    ("9", (0, 9), 9), ("10", (0, 9), None), ("0", (0, 9), 0),
    ("4", (2, None, 2), 4), ("7", (2, None, 2), None), ("0", (2, None, 2), None),
])
def test_parse_int(text, args, value):
    from deconv_io.checks import parse_int

    assert parse_int(text, *args) == value


def test_int_argument_messages():
    import argparse

    from deconv_runtime.arguments import int_argument

    assert int_argument(0, 9)("0") == 0
    with pytest.raises(argparse.ArgumentTypeError, match=r"^expected an int from 0 to 9, "
                                                         r"got '10'$"):
        int_argument(0, 9)("10")
    with pytest.raises(argparse.ArgumentTypeError, match=r"^expected an int >= 0, got '-1'$"):
        int_argument(0)("-1")
    with pytest.raises(argparse.ArgumentTypeError, match=r"^expected an even int, got '3'$"):
        int_argument(2, multiple_of=2, expected="an even int")("3")


# --- run_main ----------------------------------------------------------------------


@pytest.mark.parametrize("status", [0, 1])
def test_run_main_passes_the_status_through(capsys, status):
    assert run_main(lambda: status, "demo") == status
    assert capsys.readouterr().err == ""


def test_run_main_maps_input_error_to_one_line_and_2(capsys):
    def body():
        raise InputError("Image not found: x.jpg")
    assert run_main(body, "demo") == 2
    assert one_line(capsys.readouterr().err) == "demo: error: Image not found: x.jpg\n"


def test_run_main_folds_a_multi_line_message(capsys):
    def body():
        raise InputError("Image not found: odd\nname.jpg")
    assert run_main(body, "demo") == 2
    assert one_line(capsys.readouterr().err) == "demo: error: Image not found: odd name.jpg\n"


def test_run_main_bad_image_end_to_end(tmp_path, capsys):
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image")
    assert run_main(lambda: load_image(bad) is None, "demo") == 2
    assert one_line(capsys.readouterr().err) == (
        f"demo: error: Not an image file Pillow can read: {bad}\n")


def test_run_main_ctrl_c_is_130(capsys):
    def body():
        raise KeyboardInterrupt
    assert run_main(body, "demo") == 130
    assert one_line(capsys.readouterr().err) == (
        "demo: interrupted by SIGINT; no output file was changed\n")


def test_run_main_lets_a_bug_raise():
    # A bug is not the user's mistake: it keeps its traceback.
    def body():
        raise ZeroDivisionError("bug")
    with pytest.raises(ZeroDivisionError):
        run_main(body, "demo")


# --- quiet_tensorflow ---------------------------------------------------------------


def test_quiet_tensorflow(monkeypatch):
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    quiet_tensorflow(False)
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "2"
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "1")
    quiet_tensorflow(False)  # a user's own setting is kept
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "1"
    quiet_tensorflow(True)
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"


# --- a real process ----------------------------------------------------------------

SCRIPT = textwrap.dedent("""
    import sys
    from deconv_io import load_image
    from deconv_runtime.cli import ArgumentParser, add_common_arguments, run_main

    parser = ArgumentParser(prog="demo")
    parser.add_argument("image")
    add_common_arguments(parser)
    args = parser.parse_args()
    sys.exit(run_main(lambda: load_image(args.image, args.max_pixels) is None, "demo"))
""")


@pytest.mark.parametrize("argv,message", [
    (["{bad}"], "demo: error: Not an image file Pillow can read: {bad}"),
    (["{bad}", "--max-pixels", "0"],
     "demo: error: argument --max-pixels: expected an int >= 1, got '0' (see --help)"),
])
def test_process_exits_2_with_one_line_and_no_traceback(tmp_path, argv, message):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 not really a JPEG")
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, *(a.format(bad=bad) for a in argv)],
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == message.format(bad=bad) + "\n"
    assert "Traceback" not in result.stderr


def test_check_output_dir_accepts_a_folder_or_one_it_can_make(tmp_path):
    from deconv_io.paths import check_output_dir

    assert check_output_dir(tmp_path, "--output-dir") == tmp_path
    assert check_output_dir(tmp_path / "new", "--output-dir") == tmp_path / "new"
    a_file = tmp_path / "f"
    a_file.write_text("x")
    with pytest.raises(InputError, match=r"^--report .*f: exists and is not a folder$"):
        check_output_dir(a_file, "--report")
    with pytest.raises(InputError, match=r"^--output-dir .*y: folder .*x does not exist$"):
        check_output_dir(tmp_path / "x" / "y", "--output-dir")
