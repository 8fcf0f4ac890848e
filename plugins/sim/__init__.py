"""The ``sim`` back-end: a pure-Python simulated plugin with configurable behaviour profiles."""

from quantum_plugins.sim.backend import SimBackend
from quantum_plugins.sim.profiles import PROFILE_NAMES, Profile, make_profile
from quantum_plugins.sim.server import build_sim_server

__all__ = ["PROFILE_NAMES", "Profile", "SimBackend", "build_sim_server", "make_profile"]
