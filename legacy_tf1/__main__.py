"""`python -m legacy_tf1`: run the original demo (see `legacy_tf1.cli`)."""

from deconv_runtime.cli import run_as_program
from legacy_tf1.cli import main

if __name__ == "__main__":
    run_as_program(main)
