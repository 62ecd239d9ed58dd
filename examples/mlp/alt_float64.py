"""A correct MLP port in float64 (NumPy): more precise than TF1, so it must pass."""
import numpy as np


def port(inputs, variables):
    v = {k: np.asarray(a, np.float64) for k, a in variables.items()}
    hidden = np.maximum(np.asarray(inputs["x"], np.float64) @ v["hidden/w"] + v["hidden/b"], 0.0)
    logits = hidden @ v["out/w"] + v["out/b"]
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return {"hidden/relu": hidden, "out/logits": logits,
            "probs": shifted / shifted.sum(axis=-1, keepdims=True)}
