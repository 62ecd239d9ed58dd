"""`python -m tf2`: see `tf2.cli`."""

from tf2.cli import console_main

if __name__ == "__main__":
    console_main()
