"""`python -m legacy_tf1`: run the original demo (see `legacy_tf1.cli`)."""

import sys

from legacy_tf1.cli import main

if __name__ == "__main__":
    sys.exit(main())
