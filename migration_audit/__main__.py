"""`python -m migration_audit`: see `migration_audit.cli`."""

from deconv_runtime.cli import run_as_program
from migration_audit.cli import main

if __name__ == "__main__":
    run_as_program(main)
