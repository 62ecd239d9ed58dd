"""The migration audit: the TF1 port and the TF2 module, compared stage by stage.

`run_audit` feeds the same image and the same kernels to every runner of
`RUNNERS` (the faithful TF1 port, graph and session; the TF2 module, eager,
`tf.function`, XLA and the fast output path; the Keras model; the published
script; an independent float64 NumPy reference), and compares every stage;
`python -m migration_audit` prints the table and writes `report.json` /
`report.png`.
`audit_script` audits any TF1 script against its TF2 port, with bounds
derived from the script's graph (`python -m migration_audit script`).
`migration_audit.checkpoints` moves checkpoints across the migration
(TF1 `Saver` <-> TF2 `tf.train.Checkpoint`).

This is the one package that imports both ports. Names are loaded on first
use (PEP 562), so the command line can quiet TensorFlow's logs and reject
bad input before TensorFlow is imported.

Example:
>>> import migration_audit
>>> migration_audit.compare_arrays("pool", "b", [1.0], "a", [1.0], bound=0.0).passed
True
"""

from deconv_io._version import __version__
from deconv_runtime.lazy import lazy_exports

#: Public name -> the module that defines it.
_WHERE = {
    "AuditResult": "migration_audit.audit",
    "run_audit": "migration_audit.audit",
    "RUNNERS": "migration_audit.runners",
    "Runner": "migration_audit.runners",
    "ScriptAuditResult": "migration_audit.script_audit",
    "audit_script": "migration_audit.script_audit",
    "Comparison": "migration_audit.compare",
    "relative_error": "migration_audit.compare",
    "demo_bounds": "migration_audit.bounds",
    "demo_stages": "migration_audit.reference",
    "compare_arrays": "migration_audit.compare",
    "format_table": "migration_audit.report",
    "convert_tf1_to_tf2": "migration_audit.checkpoints",
    "load_tf1_checkpoint": "migration_audit.checkpoints",
    "read_tf1_checkpoint": "migration_audit.checkpoints",
    "restore_tf2_checkpoint_in_graph": "migration_audit.checkpoints",
    "save_tf1_checkpoint": "migration_audit.checkpoints",
    "save_tf2_checkpoint": "migration_audit.checkpoints",
    "tf2_checkpoint": "migration_audit.checkpoints",
    "main": "migration_audit.cli",
}

__all__ = sorted(_WHERE)


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
