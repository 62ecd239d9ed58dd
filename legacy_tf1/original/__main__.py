"""`python -m legacy_tf1.original`: run the original script (see `legacy_tf1.original.cli`)."""

from deconv_runtime.cli import run_as_program
from legacy_tf1.original.cli import main

if __name__ == "__main__":
    run_as_program(main)
