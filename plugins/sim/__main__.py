"""``python -m quantum_plugins.sim``: run the sim back-end on its own."""

import argparse
import sys

from quantum_plugins.sim.cli import add_arguments, run

parser = argparse.ArgumentParser(prog="python -m quantum_plugins.sim", description=__doc__)
add_arguments(parser)
sys.exit(run(parser.parse_args()))
