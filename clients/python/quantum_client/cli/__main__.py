"""``python -m quantum_client.cli``: the `quantum` command."""

import sys

from quantum_client.cli import main

if __name__ == "__main__":
    sys.exit(main())
