"""`python -m tf2`: see `tf2.cli`."""

from deconv_io.cli import run_as_program
from tf2.cli import main

if __name__ == "__main__":
    run_as_program(main)
