"""TF1 scripts and their TF2 ports (correct, by another algorithm, buggy), audited.

Not part of the product: material for `python -m migration_audit script` and
its tests. `python -m examples.verdicts` prints the verdict table.
"""
