"""`python -m migration_audit`: see `migration_audit.cli`."""

import sys

from migration_audit.cli import main

if __name__ == "__main__":
    sys.exit(main())
