"""Hostile use of the three programs, as a table (issue 13).

Each case runs `python -m legacy_tf1`, `python -m tf2` or
`python -m migration_audit` (the audit or `convert-checkpoint`) in a fresh
process, some as the unprivileged user `nobody`, some under a file-size
(`RLIMIT_FSIZE`) or address-space (`RLIMIT_AS`) limit, some with stdout a
closed pipe, and asserts what every failure must look like: the expected
exit status, exactly one line on stderr, no traceback and no library
warning, every file that existed before byte for byte unchanged (special
files still special), and no temporary file left behind.

Most cases fail before TensorFlow is imported and take about a second;
those that fail only after computing (a PNG over the file-size limit) or
that send signals mid-run are marked slow.
"""

import dataclasses
import os
import resource
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deconv_io import save_weights
from deconv_io.atomic import TEMP_PATTERN
from deconv_io.dumps import TILED_DUMP_NAMES
from deconv_io.memory import resident_bytes

from .conftest import REPO

NOBODY = 65534
PROGRAMS = {"L": ["-m", "legacy_tf1"], "T": ["-m", "tf2"], "A": ["-m", "migration_audit"],
            "C": ["-m", "migration_audit", "convert-checkpoint"]}
# Lines no failure may print, from Python or a library.
FORBIDDEN = ("Traceback", "Warning", "WARNING", "warning:", "Exception ignored", "Matplotlib")


# --- shared inputs ------------------------------------------------------------------

@pytest.fixture(scope="session")
def base():
    """A world-searchable folder for every case (pytest's own is 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="hostile-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def stock(base):
    """Files every case copies from: a small image, weights, a TF1 checkpoint."""
    from migration_audit.checkpoints import save_tf1_checkpoint

    folder = base / "stock"
    folder.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (9, 7, 3), dtype=np.uint8)).save(folder / "in.png")
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(folder / "mid.png")
    kernel = rng.standard_normal((3, 3, 3, 64)).astype(np.float32)
    save_weights(folder / "w.npz", kernel, kernel)
    (folder / "ckpt").mkdir()
    save_tf1_checkpoint(folder / "ckpt" / "model", np.ones((1, 7, 5, 3), np.float32), seed=0)
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return folder


@pytest.fixture(scope="session")
def nobody_python():
    """A Python the user `nobody` can run, with this checkout and its packages.

    The virtual environment's interpreter may live under a folder `nobody`
    cannot enter (/root/.pyenv); a system Python of the same version, given
    the environment's site-packages, runs the same code.
    """
    if os.geteuid() != 0:
        pytest.skip("dropping to nobody needs root (these cases then run as this user)")
    import sysconfig

    site = sysconfig.get_paths()["purelib"]
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    env = {"PYTHONPATH": f"{REPO}{os.pathsep}{site}", "PATH": "/usr/bin:/bin"}
    for candidate in (sys.executable, f"/usr/bin/{version}", f"/usr/local/bin/{version}"):
        try:
            done = subprocess.run([candidate, "-c", "import numpy, PIL, deconv_io"],
                                  env=env, capture_output=True, preexec_fn=_drop_privileges,
                                  timeout=60, cwd="/")
        except (OSError, subprocess.SubprocessError):
            continue
        if done.returncode == 0:
            return candidate, env
    pytest.skip(f"no {version} that the user nobody can run with this checkout's packages "
                f"(the checkout at {REPO} must be readable by nobody)")


def _drop_privileges():
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


# --- the table ----------------------------------------------------------------------

@dataclasses.dataclass
class Case:
    """One hostile run.

    Attributes:
        program: "L" legacy_tf1, "T" tf2, "A" the audit, "C" convert-checkpoint.
        argv: the arguments; "{d}" is the case's folder, "{s}" the stock folder.
        setup: prepares the case's folder (gets it and the stock folder).
        status: the expected exit status.
        message: a fragment the one stderr line must hold.
        user: "nobody" to run unprivileged.
        fsize, as_bytes: RLIMIT_FSIZE / RLIMIT_AS for the run.
        env: extra environment.
        closed_stdout: stdout is a pipe whose reader has gone.
        slow: computes before failing.
    """

    program: str
    argv: list
    status: int = 2
    message: str = ""
    setup: object = None
    user: str = "root"
    fsize: int = None
    as_bytes: int = None
    env: dict = dataclasses.field(default_factory=dict)
    closed_stdout: bool = False
    slow: bool = False


def copy(name, to=None, mode=None):
    """A setup step: copy a stock file into the case's folder."""
    def step(d, s):
        target = d / (to or Path(name).name)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(s / name, target)
        if mode is not None:
            target.chmod(mode)
    return step


def copy_ckpt(to="ck"):
    def step(d, s):
        shutil.copytree(s / "ckpt", d / to)
    return step


def fifo(name):
    return lambda d, s: os.mkfifo(d / name)


def folder(name, mode=None):
    def step(d, s):
        (d / name).mkdir(parents=True, exist_ok=True)
        if mode is not None:
            (d / name).chmod(mode)
    return step


def symlink(name, target):
    return lambda d, s: os.symlink(target.format(d=d, s=s), d / name)


def write(name, data, mode=None):
    def step(d, s):
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes(data)
        if mode is not None:
            (d / name).chmod(mode)
    return step


def hardlink(name, source):
    return lambda d, s: os.link(d / source, d / name)


def unix_socket(name):
    def step(d, s):
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(d / name))
        sock.close()
    return step


def truncate(name, size):
    def step(d, s):
        with open(d / name, "r+b") as f:
            f.truncate(size)
    return step


def chmod(name, mode):
    return lambda d, s: (d / name).chmod(mode)


def steps(*parts):
    def step(d, s):
        for part in parts:
            part(d, s)
    return step


IMG = copy("in.png")
W = copy("w.npz")
CK = copy_ckpt()
DATA = "ck/model.data-00000-of-00001"
LONG = "x" * 240  # + 18 bytes of temporary name > 255
NO_MPL = {"MPLCONFIGDIR": "/proc/no-such-dir/mpl", "HOME": "/proc/no-such-home"}

CASES = {
    # Outputs that are special files: refused, never replaced.
    "L-dump-dev-null": Case("L", ["{d}/in.png", "--dump", "/dev/null"], setup=IMG,
                            message="is a character device"),
    "T-save-dev-null": Case("T", ["{d}/in.png", "--save", "/dev/null"], setup=IMG,
                            message="is a character device"),
    "L-save-fifo": Case("L", ["{d}/in.png", "--save", "{d}/pipe"],
                        setup=steps(IMG, fifo("pipe")), message="is a FIFO"),
    "T-dump-fifo": Case("T", ["{d}/in.png", "--dump", "{d}/pipe"],
                        setup=steps(IMG, fifo("pipe")), message="is a FIFO"),
    "L-dump-link-to-dev-stdout": Case("L", ["{d}/in.png", "--dump", "{d}/out"],
                                      setup=steps(IMG, symlink("out", "/dev/stdout")),
                                      message="an output must be a regular file"),
    "T-dump-socket": Case("T", ["{d}/in.png", "--dump", "{d}/sock"],
                          setup=steps(IMG, unix_socket("sock")), message="is a socket"),
    "L-dump-directory": Case("L", ["{d}/in.png", "--dump", "{d}/sub"],
                             setup=steps(IMG, folder("sub")), message="is a directory"),
    "T-output-dir-fifo": Case("T", ["{d}/in.png", "--output-dir", "{d}/pipe"],
                              setup=steps(IMG, fifo("pipe")), message="is not a folder"),
    "T-batch-output-is-directory": Case("T", ["{d}/in.png", "--output-dir", "{d}/out"],
                                        setup=steps(IMG, folder("out/in.npy")),
                                        message="is a directory"),
    "T-batch-dump-is-directory": Case("T", ["{d}/in.png", "--output-dir", "{d}/out",
                                            "--outputs", "stages"],
                                      setup=steps(IMG, folder("out/in.npz")),
                                      message="is a directory"),
    "A-report-json-fifo": Case("A", ["{d}/in.png", "--report", "{d}/rep"],
                               setup=steps(IMG, folder("rep"), fifo("rep/report.json")),
                               message="is a FIFO"),
    "A-report-png-directory": Case("A", ["{d}/in.png", "--report", "{d}/rep"],
                                   setup=steps(IMG, folder("rep/report.png")),
                                   message="is a directory"),
    "C-dst-index-dev-null": Case("C", ["{d}/ck/model", "{d}/out"],
                                 setup=steps(CK, symlink("out.index", "/dev/null")),
                                 message="is a character device"),
    "C-dst-data-is-directory": Case("C", ["{d}/ck/model", "{d}/out"],
                                    setup=steps(CK, folder("out.data-00000-of-00001")),
                                    message="is a directory"),
    # Outputs that are the run's inputs (after resolving links).
    "T-save-over-input-image": Case("T", ["{d}/in.png", "--save", "{d}/in.png"], setup=IMG,
                                    message="is an input of this run"),
    "L-dump-over-weights": Case("L", ["{d}/in.png", "--weights", "{d}/w.npz", "--dump",
                                      "{d}/w.npz"], setup=steps(IMG, W),
                                message="is an input of this run"),
    "L-dump-hardlink-of-weights": Case("L", ["{d}/in.png", "--weights", "{d}/w.npz",
                                             "--dump", "{d}/w2.npz"],
                                       setup=steps(IMG, W, hardlink("w2.npz", "w.npz")),
                                       message="is an input of this run"),
    "T-dump-symlink-to-image": Case("T", ["{d}/in.png", "--dump", "{d}/link"],
                                    setup=steps(IMG, symlink("link", "{d}/in.png")),
                                    message="is an input of this run"),
    "T-save-dotdot-image": Case("T", ["{d}/in.png", "--save", "{d}/sub/../in.png"],
                                setup=steps(IMG, folder("sub")),
                                message="is an input of this run"),
    "T-batch-output-over-weights": Case("T", ["{d}/in.png", "--output-dir", "{d}/out",
                                              "--weights", "{d}/out/in.npz", "--outputs",
                                              "output,stages"],
                                        setup=steps(IMG, folder("out"), copy("w.npz",
                                                                             "out/in.npz")),
                                        message="is an input of this run"),
    "A-report-json-hardlink-of-weights": Case(
        "A", ["{d}/in.png", "--weights", "{d}/w.npz", "--report", "{d}/rep"],
        setup=steps(IMG, W, folder("rep"), hardlink("rep/report.json", "w.npz")),
        message="is an input of this run"),
    "C-dst-is-src": Case("C", ["{d}/ck/model", "{d}/ck/model"], setup=CK,
                         message="is the source checkpoint itself"),
    "C-dst-data-hardlink-of-src": Case("C", ["{d}/ck/model", "{d}/out"],
                                       setup=steps(CK, hardlink("out.data-00000-of-00001",
                                                                DATA)),
                                       message="is an input of this run"),
    "L-dump-and-save-same-via-link": Case("L", ["{d}/in.png", "--dump", "{d}/a", "--save",
                                                "{d}/b"],
                                          setup=steps(IMG, write("a", b"old"),
                                                      symlink("b", "{d}/a")),
                                          message="name the same file"),
    # Dangling links, missing folders.
    "T-output-dir-dangling-link": Case("T", ["{d}/in.png", "--output-dir", "{d}/out"],
                                       setup=steps(IMG, symlink("out", "{d}/gone")),
                                       message="dangling symbolic link"),
    "A-report-dangling-link": Case("A", ["{d}/in.png", "--report", "{d}/rep"],
                                   setup=steps(IMG, symlink("rep", "{d}/gone")),
                                   message="dangling symbolic link"),
    "L-dump-dangling-link": Case("L", ["{d}/in.png", "--dump", "{d}/out.npz"],
                                 setup=steps(IMG, symlink("out.npz", "{d}/gone/x.npz")),
                                 message="dangling symbolic link"),
    "L-save-missing-folder": Case("L", ["{d}/in.png", "--save", "{d}/no/out.png"], setup=IMG,
                                  message="does not exist"),
    "T-dump-parent-is-a-file": Case("T", ["{d}/in.png", "--dump", "{d}/in.png/out.npz"],
                                    setup=IMG, message="is not a folder"),
    # Names too long once the temporary file's 18 bytes are added.
    "L-dump-name-238": Case("L", ["{d}/in.png", "--dump", "{d}/" + "d" * 238], setup=IMG,
                            message="at most 237 are allowed"),
    "T-dump-name-255": Case("T", ["{d}/in.png", "--dump", "{d}/" + "d" * 255], setup=IMG,
                            message="at most 237 are allowed"),
    "T-save-name-240": Case("T", ["{d}/in.png", "--save", "{d}/" + LONG], setup=IMG,
                            message="at most 237 are allowed"),
    "L-dump-name-256": Case("L", ["{d}/in.png", "--dump", "{d}/" + "d" * 256], setup=IMG,
                            message="the file name is 256 bytes"),
    "A-report-name-256": Case("A", ["{d}/in.png", "--report", "{d}/" + "r" * 256], setup=IMG,
                              message="the file name is 256 bytes"),
    "C-dst-name-240": Case("C", ["{d}/ck/model", "{d}/" + LONG], setup=CK,
                           message="the file name is"),
    # Inputs.
    "L-image-missing": Case("L", ["{d}/none.png"], message="Image not found"),
    "L-image-fifo": Case("L", ["{d}/pipe"], setup=fifo("pipe"), message="Image file is empty"),
    "T-image-dev-zero": Case("T", ["/dev/zero"], message="Image file is empty"),
    "A-image-directory": Case("A", ["{d}/sub"], setup=folder("sub"),
                              message="got a directory"),
    "L-weights-directory": Case("L", ["{d}/in.png", "--weights", "{d}/sub"],
                                setup=steps(IMG, folder("sub")), message="is a directory"),
    "T-weights-fifo": Case("T", ["{d}/in.png", "--weights", "{d}/pipe"],
                           setup=steps(IMG, fifo("pipe")), message="is a FIFO"),
    "L-weights-truncated": Case("L", ["{d}/in.png", "--weights", "{d}/w.npz"],
                                setup=steps(IMG, W, truncate("w.npz", 300)),
                                message="Not a valid .npz weights file"),
    "T-folder-without-images": Case("T", ["{d}/sub", "--output-dir", "{d}/out"],
                                    setup=folder("sub"), message="holds no image files"),
    "C-src-missing": Case("C", ["{d}/none", "{d}/out"], message="Checkpoint not found"),
    "C-src-truncated-data": Case("C", ["{d}/ck/model", "{d}/out"],
                                 setup=steps(CK, truncate(DATA, 100)),
                                 message="Cannot read checkpoint"),
    "C-src-garbage-state-file": Case("C", ["{d}/ck", "{d}/out"],
                                     setup=steps(CK, write("ck/checkpoint", b"garbage {{{\n")),
                                     message="is not a checkpoint state"),
    "C-src-corrupt-index": Case("C", ["{d}/ck/model", "{d}/out"],
                                setup=steps(CK, write("ck/model.index", b"junk" * 20)),
                                message="Cannot read checkpoint"),
    "C-src-empty": Case("C", ["", "{d}/out"], message="SRC is empty"),
    "C-dst-empty": Case("C", ["{d}/ck/model", ""], setup=CK, message="DST is empty"),
    "C-dst-missing-folder-slash": Case("C", ["{d}/ck/model", "{d}/nope/"], setup=CK,
                                       message="does not exist"),
    # Permissions, as the user nobody.
    "L-weights-unreadable": Case("L", ["{d}/in.png", "--weights", "{d}/w.npz"],
                                 setup=steps(IMG, copy("w.npz", mode=0o000)), user="nobody",
                                 message="Permission denied"),
    "T-weights-unreadable": Case("T", ["{d}/in.png", "--weights", "{d}/w.npz"],
                                 setup=steps(IMG, copy("w.npz", mode=0o000)), user="nobody",
                                 message="Permission denied"),
    "A-weights-unreadable": Case("A", ["{d}/in.png", "--weights", "{d}/w.npz"],
                                 setup=steps(IMG, copy("w.npz", mode=0o000)), user="nobody",
                                 message="Permission denied"),
    "T-folder-unlistable": Case("T", ["{d}/sub", "--output-dir", "{d}/out"],
                                setup=steps(copy("in.png", "sub/in.png"), folder("sub", 0o300)),
                                user="nobody", message="Cannot list folder"),
    "L-image-unreadable": Case("L", ["{d}/in.png"], setup=copy("in.png", mode=0o000),
                               user="nobody", message="permission denied"),
    "T-image-in-unsearchable-folder": Case("T", ["{d}/sub/in.png"],
                                           setup=steps(copy("in.png", "sub/in.png"),
                                                       folder("sub", 0o600)),
                                           user="nobody", message="Permission denied"),
    "T-dump-read-only-folder": Case("T", ["{d}/in.png", "--dump", "{d}/ro/out.npz"],
                                    setup=steps(IMG, folder("ro", 0o555)), user="nobody",
                                    message="is not writable"),
    "A-report-read-only-folder": Case("A", ["{d}/in.png", "--report", "{d}/ro/rep"],
                                      setup=steps(IMG, folder("ro", 0o555)), user="nobody",
                                      message="is not writable"),
    "L-dump-sticky-folder": Case("L", ["{d}/in.png", "--dump", "{d}/st/out.npz"],
                                 setup=steps(IMG, folder("st", 0o1777),
                                             write("st/out.npz", b"root's", mode=0o666)),
                                 user="nobody", message="sticky folder"),
    "T-save-sticky-folder": Case("T", ["{d}/in.png", "--save", "{d}/st/out.png"],
                                 setup=steps(IMG, folder("st", 0o1777),
                                             write("st/out.png", b"root's", mode=0o666)),
                                 user="nobody", message="sticky folder"),
    "C-dst-read-only-folder": Case("C", ["{d}/ck/model", "{d}/ro/out"],
                                   setup=steps(CK, folder("ro", 0o555)), user="nobody",
                                   message="is not writable"),
    "C-src-index-unreadable": Case("C", ["{d}/ck/model", "{d}/out"],
                                   setup=steps(CK, chmod("ck/model.index", 0o000)),
                                   user="nobody", message="Permission denied"),
    "L-no-matplotlib-config-bad-weights": Case("L", ["{d}/in.png", "--weights", "{d}/w.npz"],
                                               setup=steps(IMG, write("w.npz", b"PK\x03\x04")),
                                               user="nobody", env=NO_MPL,
                                               message="Not a valid .npz weights file"),
    # File-size limit (ulimit -f) and free space.
    "L-dump-over-ulimit-f": Case("L", ["{d}/mid.png", "--dump", "{d}/out.npz"],
                                 setup=copy("mid.png"), fsize=100_000,
                                 message="file-size limit"),
    "T-dump-over-ulimit-f": Case("T", ["{d}/mid.png", "--dump", "{d}/out.npz"],
                                 setup=steps(copy("mid.png"), write("out.npz", b"old dump")),
                                 fsize=100_000, message="file-size limit"),
    "T-batch-picture-over-input-image": Case("T", ["{d}/in.png", "--output-dir", "{d}"],
                                             setup=IMG, message="is an input of this run"),
    "T-batch-over-ulimit-f": Case("T", ["{d}/mid.png", "--output-dir", "{d}/out",
                                        "--outputs", "stages"],
                                  setup=copy("mid.png"), fsize=100_000, status=1,
                                  message="file-size limit"),
    "L-save-png-over-ulimit-f": Case("L", ["{d}/mid.png", "--save", "{d}/out.png"],
                                     setup=steps(copy("mid.png"), write("out.png", b"old")),
                                     fsize=2_000, message="Cannot write", slow=True),
    "T-save-png-over-ulimit-f-no-mpl-config": Case(
        "T", ["{d}/mid.png", "--save", "{d}/out.png"], setup=copy("mid.png"), fsize=2_000,
        env=NO_MPL, message="Cannot write", slow=True),
    "C-over-ulimit-f": Case("C", ["{d}/ck/model", "{d}/out"], setup=CK, fsize=4_000,
                            message="Cannot write", slow=True),
    # Memory: an address-space limit, --max-memory, --max-pixels.
    "L-large-image-under-rlimit-as": Case("L", ["{d}/mid.png"], setup=copy("mid.png"),
                                          as_bytes=1 << 30, message="use `python -m tf2"),
    "T-max-memory-too-small": Case("T", ["{d}/mid.png", "--max-memory", "1M"],
                                   setup=copy("mid.png"), message="cannot fit"),
    "T-batch-default-over-ulimit-f": Case("T", ["{d}/mid.png", "--output-dir", "{d}/out"],
                                          setup=copy("mid.png"), fsize=20_000, status=1,
                                          message="file-size limit"),
    "T-batch-max-memory-too-small": Case("T", ["{d}/mid.png", "--output-dir", "{d}/out",
                                               "--max-memory", "1M"],
                                         setup=copy("mid.png"), status=1,
                                         message="cannot fit"),
    "A-over-max-pixels": Case("A", ["{d}/mid.png", "--max-pixels", "100"],
                              setup=copy("mid.png"), message="over the limit of 100"),
    # A closed pipe on stdout.
    "L-stdout-closed": Case("L", ["{d}/in.png", "--dump", "{d}/out.npz"], setup=IMG,
                            closed_stdout=True, message="closed pipe"),
    "T-stdout-closed": Case("T", ["{d}/in.png", "--dump", "{d}/out.npz"], setup=IMG,
                            closed_stdout=True, message="closed pipe"),
    "A-stdout-closed": Case("A", ["{d}/in.png", "--report", "{d}/rep"], setup=IMG,
                            closed_stdout=True, message="closed pipe"),
    "C-stdout-closed": Case("C", ["{d}/ck/model", "{d}/out"], setup=CK, closed_stdout=True,
                            message="closed pipe"),
    # Usage.
    "T-max-memory-garbage": Case("T", ["{d}/in.png", "--max-memory", "lots"], setup=IMG,
                                 message="--max-memory"),
    "T-odd-tile": Case("T", ["{d}/in.png", "--tile", "3"], setup=IMG, message="even int"),
    "L-max-pixels-zero": Case("L", ["{d}/in.png", "--max-pixels", "0"], setup=IMG,
                              message="expected an int >= 1"),
}


def _snapshot(folder):
    """Every entry under `folder`: its type and, for regular files, its bytes."""
    found = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root) / name
            info = os.lstat(path)
            if stat.S_ISREG(info.st_mode):
                found[path] = ("file", path.read_bytes())
            else:
                found[path] = (stat.S_IFMT(info.st_mode), os.readlink(path)
                               if stat.S_ISLNK(info.st_mode) else None)
    return found


def _temps(folder):
    return [p for p in Path(folder).rglob("*") if TEMP_PATTERN.match(p.name)]


def _limits(case):
    def apply():
        if case.fsize is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # so a write raises EFBIG
            resource.setrlimit(resource.RLIMIT_FSIZE, (case.fsize, case.fsize))
        if case.as_bytes is not None:
            resource.setrlimit(resource.RLIMIT_AS, (case.as_bytes, case.as_bytes))
        if case.user == "nobody":
            _drop_privileges()
    return apply


def _default_signals():
    """preexec_fn: SIGINT, SIGTERM and SIGHUP at their defaults in the child."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


def _env(extra):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(TF_CPP_MIN_LOG_LEVEL="2", MPLBACKEND="Agg", **extra)
    return env


def run_case(case, d, s, python=None):
    argv = [a.format(d=d, s=s) for a in case.argv]
    executable, env = (sys.executable, {}) if python is None else python
    env = _env({**env, **case.env})
    command = [executable, *PROGRAMS[case.program], *argv]
    process = subprocess.Popen(command, cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               preexec_fn=_limits(case))
    if case.closed_stdout:
        process.stdout.close()
        process.stdout = None
    try:
        out, err = process.communicate(timeout=300)
    finally:
        process.kill()
    return process.returncode, (out or b"").decode(errors="replace"), err.decode(
        errors="replace")


def assert_clean_failure(status, err, expected_status, message):
    lines = err.splitlines()
    assert status == expected_status, err
    assert len(lines) == 1 and err.endswith("\n"), err
    assert not any(word in err for word in FORBIDDEN), err
    assert message in err, err
    assert len(lines[0]) <= 1000


@pytest.mark.e2e
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if c.slow else n
                                  for n, c in CASES.items()])
def test_hostile_case(name, base, stock, request):
    case = CASES[name]
    python = request.getfixturevalue("nobody_python") if case.user == "nobody" else None
    d = base / name
    d.mkdir()
    d.chmod(0o777)
    try:
        if case.setup is not None:
            case.setup(d, stock)
        before = _snapshot(d)
        null = os.stat("/dev/null")
        status, out, err = run_case(case, d, stock, python)
        assert_clean_failure(status, err, case.status, case.message)
        after = _snapshot(d)
        # Every entry that existed is unchanged; a batch's refusals write nothing either.
        assert {p: v for p, v in after.items() if p in before} == before
        assert _temps(d) == []
        assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
        assert os.stat("/dev/null").st_rdev == null.st_rdev
    finally:
        for path in [d, *d.rglob("*")]:  # let the cleanup into 000 folders
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)


def test_the_table_has_at_least_60_cases():
    assert len(CASES) >= 60
    assert {c.program for c in CASES.values()} == set(PROGRAMS)


# --- signals --------------------------------------------------------------------------

def _wait_for(predicate, process, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.05)
    return False


def _rss(pid):
    """Resident bytes of a process (Linux), 0 when unknown."""
    return resident_bytes(pid) or 0


def _read_line(process, timeout=120):
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    return process.stdout.readline().decode() if ready else ""


@pytest.fixture(scope="session")
def large_image(base):
    """A 2000x2000 image: the TF1 session on it runs for seconds."""
    path = base / "large.png"
    pixels = np.random.default_rng(1).integers(0, 256, (2000, 2000, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, compress_level=1)
    return path


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_legacy_stops_inside_the_session_run(signum, large_image, tmp_path):
    dump = tmp_path / "out.npz"
    dump.write_bytes(b"old dump")
    # The child starts with default dispositions: a test run under nohup (or
    # a CI runner that ignores SIGHUP) would otherwise hand it an ignored
    # SIGHUP, which the program rightly leaves ignored.
    process = subprocess.Popen(
        [sys.executable, "-m", "legacy_tf1", str(large_image), "--dump", str(dump),
         "--no-show"], cwd=REPO, env=_env({}), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=_default_signals)
    try:
        assert _read_line(process).startswith("(2000, 2000, 3)")
        # The session is running once conv1 (1 GB here) is being filled:
        # TensorFlow's runtime and the image alone stay well below 1.3 GB.
        assert _wait_for(lambda: _rss(process.pid) > 1.3e9, process), \
            "the run ended before its session grew"
        process.send_signal(signum)
        _, err = process.communicate(timeout=120)  # hangs only if the signal is ignored
    finally:
        process.kill()
    name = signal.Signals(signum).name
    assert_clean_failure(process.returncode, err.decode(), 128 + signum,
                         f"interrupted by {name}; no output file was changed")
    assert dump.read_bytes() == b"old dump"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npz"]


def _slow_folder(tmp_path, count=6):
    """A small image, then images that --max-memory makes run in many small tiles."""
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(2)
    Image.fromarray(rng.integers(0, 256, (9, 7, 3), dtype=np.uint8)).save(images / "a.png")
    for i in range(count):
        pixels = rng.integers(0, 256, (600, 600, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(images / f"b{i}.png")
    # 1 GiB of runtime, the image and output whole, and tiles of 64x64.
    return images, str(2**30 + 14 * 2**20)


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.parametrize("outputs", ["stages", "picture,output"])
def test_folder_mode_sigterm_says_what_was_written_and_a_rerun_cleans_up(outputs, tmp_path):
    suffixes = {"stages": (".npz",), "picture,output": (".png", ".npy")}[outputs]
    last = suffixes[-1]
    images, budget = _slow_folder(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / f"b5{last}").write_bytes(b"old")
    stale = out / f".b4{last}.0123456789ab.tmp"  # left by a killed run: nobody holds its lock
    stale.write_bytes(b"half")
    foreign = out / ".notes.tmp"  # not this project's pattern: left alone
    foreign.write_bytes(b"mine")
    argv = [sys.executable, "-m", "tf2", str(images), "--output-dir", str(out), "--max-memory",
            budget, "--outputs", outputs]
    process = subprocess.Popen(argv, cwd=REPO, env=_env({}), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, preexec_fn=_default_signals)
    try:
        assert _wait_for(lambda: (out / f"a{last}").exists(), process)
        assert not stale.exists()  # removed before the first image
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=120)
    finally:
        process.kill()
    err = err.decode()
    assert_clean_failure(process.returncode, err, 128 + signal.SIGTERM,
                         "interrupted by SIGTERM; ")
    written = sorted(p.name for p in out.iterdir()
                     if p.suffix in suffixes and p.name != f"b5{last}")
    assert f"{len(written)} output file(s) written before it are complete and kept" in err
    assert "no output file was changed" not in err
    assert (out / f"b5{last}").read_bytes() == b"old" and foreign.read_bytes() == b"mine"
    assert _temps(out) == []
    done = sum(all(f"{stem}{suffix}" in written for suffix in suffixes)
               for stem in ["a", *(f"b{i}" for i in range(6))])
    # A rerun with --skip-existing redoes the damaged b5 and finishes the rest.
    rerun = subprocess.run([*argv, "--skip-existing"], cwd=REPO, env=_env({}),
                           capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{7 - done} written, {done} skipped (existing), 0 failed" in rerun.stdout
    if outputs == "stages":
        with np.load(out / "b5.npz") as dump:
            assert tuple(dump.files) == TILED_DUMP_NAMES
    else:
        assert np.load(out / "b5.npy").shape == (1, 600, 600, 3)
        with Image.open(out / "b5.png") as im:
            assert im.size == (600, 600)


@pytest.mark.e2e
@pytest.mark.slow
def test_audit_sigterm_stops_and_writes_no_report(tmp_path):
    image = tmp_path / "in.png"
    pixels = np.random.default_rng(5).integers(0, 256, (300, 300, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(image)
    report = tmp_path / "rep"
    process = subprocess.Popen(
        [sys.executable, "-m", "migration_audit", str(image), "--report", str(report)],
        cwd=REPO, env=_env({}), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=_default_signals)
    try:
        time.sleep(2)  # inside TensorFlow's import or the audit's run
        assert process.poll() is None
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=120)
    finally:
        process.kill()
    # The audit's progress lines (stderr) may come before the signal does.
    err = "".join(line for line in err.decode().splitlines(True)
                  if not line.startswith(("migration_audit: auditing ", "migration_audit: [")))
    assert_clean_failure(process.returncode, err, 143,
                         "interrupted by SIGTERM; no output file was changed")
    assert not report.exists() or list(report.iterdir()) == []


# --- memory in folder mode ----------------------------------------------------------

@pytest.mark.e2e
@pytest.mark.slow
def test_folder_mode_tiles_a_large_image_under_an_address_space_limit(tmp_path):
    """Issue 13's case: small, 3000x3000, small under an 8 GB address-space limit."""
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(3)
    for name, side in (("a", 9), ("b", 3000), ("c", 7)):
        pixels = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(images / f"{name}.png", compress_level=1)
    out = tmp_path / "out"

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (8 * 2**30, 8 * 2**30))

    # Every output, so that the decoding and writing threads run under the limit too.
    done = subprocess.run([sys.executable, "-m", "tf2", str(images), "--output-dir", str(out),
                           "--outputs", "picture,output,stages"],
                          cwd=REPO, env=_env({}), capture_output=True, text=True,
                          preexec_fn=limit, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "tf2: 3 written, 0 skipped (existing), 0 failed" in done.stdout
    with np.load(out / "b.npz") as dump:
        assert tuple(dump.files) == TILED_DUMP_NAMES
        assert dump["output"].shape == (1, 3000, 3000, 3)
        np.testing.assert_array_equal(np.load(out / "b.npy"), dump["output"])
    with np.load(out / "a.npz") as dump:
        assert "conv1" in dump.files


# --- EXIF orientation -----------------------------------------------------------------

def test_both_ports_feed_pixels_as_stored_ignoring_exif_orientation(tmp_path):
    """A JPEG tagged Orientation=6 (rotate 90 degrees) is fed unrotated by both ports."""
    from deconv_io import load_image

    pixels = np.random.default_rng(4).integers(0, 256, (6, 10, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    Image.fromarray(pixels).save(path, exif=exif, quality=95)
    with Image.open(path) as im:
        assert im.getexif()[0x0112] == 6
        stored = np.asarray(im.convert("RGB"), np.float32)
    image = load_image(path)
    assert image.shape == (6, 10, 3)  # not (10, 6, 3)
    np.testing.assert_array_equal(image, stored)
    # In-process: what is fed does not depend on a fresh process.
    from legacy_tf1.cli import main as legacy_main
    from tf2.cli import main as tf2_main

    for program, main in (("legacy_tf1", legacy_main), ("tf2", tf2_main)):
        dump = tmp_path / f"{program}.npz"
        assert main([str(path), "--dump", str(dump), "--no-show"]) == 0
        with np.load(dump) as arrays:
            np.testing.assert_array_equal(arrays["image"][0], stored)
