"""`python -m legacy_tf1.original`: run the original script (see `legacy_tf1.original.cli`)."""

import sys

from legacy_tf1.original.cli import main

if __name__ == "__main__":
    sys.exit(main())
