"""The ``sim`` back-end: a pure-Python simulated plugin with configurable behaviour profiles."""

from quantum_plugins.sim.backend import SimBackend
from quantum_plugins.sim.profiles import make_profile
from quantum_plugins.sim.server import build_sim_server

__all__ = ["SimBackend", "build_sim_server", "make_profile"]
