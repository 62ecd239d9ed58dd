"""The one guard every TF1 entry point shares: refuse to run eagerly."""


def require_graph_mode(tf, caller):
    """Raises unless TensorFlow is building a graph (TF1 semantics).

    The port never switches eager execution off for the whole process (that
    would break every eager caller in it); instead each TF1 entry point must
    be called inside an explicit `with tf.Graph().as_default():` scope.

    Args:
        tf: the imported `tensorflow` module.
        caller: the public function's name, for the message.

    Raises:
        RuntimeError: TensorFlow is executing eagerly.
    """
    if tf.executing_eagerly():
        raise RuntimeError(
            f"`{caller}` builds a TF1 graph and must be called inside a "
            "`with tf.Graph().as_default():` scope. "
            "Received: tf.executing_eagerly()=True."
        )
