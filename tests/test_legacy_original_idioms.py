"""TF1 tutorial idioms run unchanged through the original-script runner.

Each test writes a small script as a TF1 tutorial would write it and runs it
in-process (`run_script`, or `main([...])` for the command line); one
subprocess test checks what only a process shows (`--verbose`'s traceback
on stderr, the exit status).
"""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from deconv_io.errors import InputError
from legacy_tf1.original import UnsupportedContribError, run_script
from legacy_tf1.original.cli import main
from tests.conftest import REPO


def _script(tmp_path, source, name="tutorial.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


APP_RUN = """
    import tensorflow as tf

    flags = tf.app.flags
    flags.DEFINE_integer("steps", 3, "how many steps")
    flags.DEFINE_string("name", "counter", "the variable's name")
    FLAGS = flags.FLAGS


    def main(argv):
        counter = tf.Variable(0, name=FLAGS.name)
        step = tf.assign_add(counter, 1)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for _ in range(FLAGS.steps):
                sess.run(step)
            sess.run(tf.constant(argv[1:] or ["none"]))


    if __name__ == "__main__":
        tf.app.run()
"""


def test_app_run_calls_the_scripts_main_with_its_flags_and_argv(tmp_path):
    path = _script(tmp_path, APP_RUN)
    result = run_script(path, argv=["--steps", "5", "extra"])
    assert result.runs[-2] == 5  # the flag parsed from the script's argv
    assert list(result.runs[-1]) == [b"extra"]  # main gets the arguments left over
    # Twice in one process: a fresh FlagValues per run (no DuplicateFlagError),
    # and the defaults again, not the first run's values.
    assert run_script(path).runs[-2] == 3


def test_app_run_with_a_main_argument_and_flags_read_before_it(tmp_path):
    path = _script(tmp_path, """
        import tensorflow as tf

        tf.flags.DEFINE_float("learning_rate", 0.5, "step size")
        rate = tf.flags.FLAGS.learning_rate  # read before tf.app.run: parses argv


        def train(argv):
            del argv
            with tf.Session() as sess:
                sess.run(tf.constant(rate) * 2)


        tf.app.run(train)
    """)
    assert run_script(path, argv=["--learning_rate=0.25"]).runs == [0.5]


def test_app_run_with_a_failing_status_is_one_line(tmp_path):
    # tf.app.run exits with main's status, as in TF1; the runner's contract
    # (issue 21) turns a non-zero SystemExit into one InputError line (exit 2).
    path = _script(tmp_path, """
        import tensorflow as tf

        def main(argv):
            return 3

        tf.app.run()
    """)
    with pytest.raises(InputError, match="status 3") as info:
        run_script(path)
    assert "\n" not in str(info.value)


def test_command_line_passes_arguments_after_the_double_dash(tmp_path, capsys):
    path = _script(tmp_path, APP_RUN)
    dump = tmp_path / "out.npz"
    assert main([str(path), "--no-show", "--dump", str(dump), "--", "--steps", "4"]) == 0
    assert np.load(dump)["run_4"] == 4  # run 0 the initializer (no array), 1..4 the steps


def test_tf_logging(tmp_path):
    import tensorflow as tf

    before = tf.compat.v1.logging.get_verbosity()
    path = _script(tmp_path, """
        import tensorflow as tf

        tf.logging.set_verbosity(tf.logging.INFO)
        tf.logging.info("building the graph")
        with tf.Session() as sess:
            sess.run(tf.constant(tf.logging.get_verbosity()))
    """)
    assert run_script(path).runs == [tf.compat.v1.logging.INFO]
    assert tf.compat.v1.logging.get_verbosity() == before  # put back after the run


LAYERS = """
    import numpy as np
    import tensorflow as tf

    images = tf.placeholder(tf.float32, [None, 8, 8, 3], name="images")
    training = tf.placeholder_with_default(False, [], name="training")
    net = tf.layers.conv2d(images, 4, 3, padding="same", activation=tf.nn.relu)
    net = tf.layers.batch_normalization(net, training=training)
    net = tf.layers.max_pooling2d(net, 2, 2)
    net = tf.layers.average_pooling2d(net, 2, 2)
    net = tf.layers.conv2d_transpose(net, 2, 3, strides=2, padding="same")
    net = tf.layers.flatten(net)
    net = tf.layers.dropout(net, rate=0.5, training=training)
    logits = tf.layers.dense(net, 5)
    names = sorted(v.op.name for v in tf.global_variables())
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(logits, {images: np.ones((2, 8, 8, 3), np.float32)})
        sess.run(tf.constant(names))
"""


def test_tf_layers_create_tf1_variables_in_the_scripts_graph(tmp_path):
    result = run_script(_script(tmp_path, LAYERS))
    assert result.runs[1].shape == (2, 5)
    assert [n.decode() for n in result.runs[2]] == sorted([
        "batch_normalization/beta", "batch_normalization/gamma",
        "batch_normalization/moving_mean", "batch_normalization/moving_variance",
        "conv2d/bias", "conv2d/kernel", "conv2d_transpose/bias", "conv2d_transpose/kernel",
        "dense/bias", "dense/kernel"])


def test_tf_layers_stay_inside_the_shim():
    import tensorflow as tf

    # Outside a script, tf.compat.v1.layers is still Keras 3's refusal.
    with pytest.raises(AttributeError, match="not available with Keras 3"):
        tf.compat.v1.layers.dense  # noqa: B018


def test_contrib_layers_regularizer_flatten_fully_connected(tmp_path):
    path = _script(tmp_path, """
        import numpy as np
        import tensorflow as tf

        x = tf.constant(np.arange(12, dtype=np.float32).reshape(2, 2, 3))
        flat = tf.contrib.layers.flatten(x)
        reg = tf.contrib.layers.l2_regularizer(0.5)
        hidden = tf.contrib.layers.fully_connected(
            flat, 4, weights_initializer=tf.ones_initializer(), weights_regularizer=reg)
        linear = tf.contrib.layers.fully_connected(
            flat, 1, activation_fn=None, biases_initializer=None, scope="out",
            weights_initializer=tf.constant_initializer(-1.0))
        losses = tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)
        names = sorted(v.op.name for v in tf.global_variables())
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run([flat, hidden, linear, tf.add_n(losses), tf.constant(names)])
    """)
    flat, hidden, linear, loss, names = run_script(path).runs[1]
    # Worked by hand: rows 0..5 and 6..11; ones weights sum each row (15, 51);
    # ReLU keeps them. Linear with -1 weights: -15, -51. l2: 0.5 * (24 ones) / 2.
    np.testing.assert_array_equal(flat, np.arange(12, dtype=np.float32).reshape(2, 6))
    np.testing.assert_array_equal(hidden, [[15.0] * 4, [51.0] * 4])
    np.testing.assert_array_equal(linear, [[-15.0], [-51.0]])
    assert loss == 0.5 * 24 / 2
    assert [n.decode() for n in names] == ["fully_connected/biases", "fully_connected/weights",
                                           "out/weights"]


def test_contrib_layers_names_the_replacement_of_what_it_lacks(tmp_path):
    path = _script(tmp_path, """
        import tensorflow as tf

        net = tf.contrib.layers.conv2d(tf.zeros([1, 4, 4, 3]), 8, 3)
    """)
    with pytest.raises(UnsupportedContribError,
                       match=r"tf.contrib.layers.conv2d is not supported .*: use tf.layers.conv2d"):
        run_script(path)


BROKEN = """
    import tensorflow as tf


    def build():
        return tf.reshape(tf.zeros([2, 3]), [4, 4])


    def main(argv):
        build()


    tf.app.run()
"""


def test_an_error_in_the_script_is_one_line_naming_its_line(tmp_path, capsys):
    path = _script(tmp_path, BROKEN)
    assert main([str(path), "--no-show"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "tutorial.py line 6: ValueError" in err
    with pytest.raises(InputError) as info:
        run_script(path)
    assert "line 6, in build" in info.value.script_traceback


def test_verbose_prints_the_scripts_own_traceback(tmp_path):
    path = _script(tmp_path, BROKEN)
    proc = subprocess.run([sys.executable, "-m", "legacy_tf1.original", str(path), "--no-show",
                           "--verbose"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    tb = proc.stderr[proc.stderr.index("Traceback (most recent call last):"):]
    frames = [line for line in tb.splitlines() if line.startswith("  File ")]
    # The script's frames only: module level (tf.app.run()), main, build.
    assert [f.rsplit(", in ", 1)[1] for f in frames] == ["<module>", "main", "build"]
    assert all(str(path) in f for f in frames)
    assert "shim.py" not in tb and "tensorflow/" not in tb
    assert tb.rstrip().splitlines()[-1].startswith("legacy_tf1.original: error: tutorial.py "
                                                   "line 6: ValueError")
