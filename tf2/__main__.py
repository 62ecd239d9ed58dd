"""`python -m tf2`: see `tf2.cli`."""

import sys

from tf2.cli import main

if __name__ == "__main__":
    sys.exit(main())
