"""The CPU configurations TensorFlow can run in here: one definition for the audit and the benchmarks.

TensorFlow reads `TF_ENABLE_ONEDNN_OPTS`, `ONEDNN_MAX_CPU_ISA` and
`TF_NUM_INTRAOP_THREADS` once, when it loads, so a configuration is a set of
environment variables for a subprocess of its own:

- oneDNN off (`TF_ENABLE_ONEDNN_OPTS=0`: Eigen runs the ops, as it does by
  default on CPUs without AVX-512 VNNI/BF16, AVX-VNNI or AMX);
- oneDNN on (`=1`), optionally capped to an ISA (`ONEDNN_MAX_CPU_ISA`);
- an intra-op thread count, or TensorFlow's default (every core).

`configurations(isa_flags)` lists those `migration_audit matrix` runs on a
CPU; `NAMED` holds the ones `benchmarks.bench --configs` takes by name.
"""

import os

__all__ = ["Configuration", "ISA_CAPS", "NAMED", "configurations"]

#: The oneDNN ISA caps tried, each where the CPU has the flag it needs.
ISA_CAPS = {"SSE41": "sse4_1", "AVX2": "avx2"}


class Configuration:
    """One way to run TensorFlow here: its name and the variables it sets.

    Args:
        onednn: oneDNN on or off.
        isa: `ONEDNN_MAX_CPU_ISA` (None: unset, oneDNN's best ISA).
        threads: intra-op threads (None: unset, TensorFlow's default).

    Attributes:
        name: e.g. `"onednn AVX2 threads=1"`.
        env: `{variable: value or None}` (None: unset in the child).

    Example:
    >>> Configuration(True, "AVX2", 1).name
    'onednn AVX2 threads=1'
    """

    def __init__(self, onednn, isa=None, threads=None):
        self.onednn = bool(onednn)
        self.isa = isa
        self.threads = threads
        self.env = {"TF_ENABLE_ONEDNN_OPTS": "1" if onednn else "0",
                    "ONEDNN_MAX_CPU_ISA": isa,
                    "TF_NUM_INTRAOP_THREADS": None if threads is None else str(threads)}
        self.name = (f"{'onednn ' + (isa or 'default') if onednn else 'eigen'} "
                     f"threads={threads or 'all'}")

    def child_env(self, base=None, log_level="3"):
        """`base` (default os.environ) with this configuration's variables set or unset.

        Args:
            base: the environment to start from.
            log_level: `TF_CPP_MIN_LOG_LEVEL` to set; None keeps `base`'s
                (`"2"` when it has none).
        """
        env = dict(os.environ if base is None else base)
        for key, value in self.env.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        if log_level is None:
            env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        else:
            env["TF_CPP_MIN_LOG_LEVEL"] = log_level
        return env

    def as_dict(self):
        return {"name": self.name, "env": dict(self.env)}


def configurations(isa_flags, thread_counts=(1, None)):
    """The configurations to run on a CPU with these flags.

    Args:
        isa_flags: the CPU's flags (`report.cpu_fingerprint()["isa"]`).
        thread_counts: intra-op thread counts (None: TensorFlow's default).

    Returns:
        A list of `Configuration`: oneDNN off, then on with each cap the
        CPU supports and uncapped, each with every thread count.

    Example:
    >>> [c.name for c in configurations(["avx2"])]  # doctest: +NORMALIZE_WHITESPACE
    ['eigen threads=1', 'eigen threads=all', 'onednn AVX2 threads=1',
     'onednn AVX2 threads=all', 'onednn default threads=1', 'onednn default threads=all']
    """
    settings = [(False, None)] + [(True, cap) for cap, flag in ISA_CAPS.items()
                                  if flag in isa_flags] + [(True, None)]
    return [Configuration(onednn, isa, threads) for onednn, isa in settings
            for threads in thread_counts]


#: Short name -> configuration (every core), as `benchmarks.bench --configs` takes them.
NAMED = {"onednn-off": Configuration(False), "onednn-on": Configuration(True),
         "onednn-avx2": Configuration(True, "AVX2")}
