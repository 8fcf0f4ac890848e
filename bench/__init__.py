"""Benchmarks that run real quantum-grpc servers on loopback (see bench/README.md)."""

import os

# grpc's C core logs routine events (a GOAWAY when a server stops) to stderr at INFO;
# keep the benchmark's output to its own progress lines and errors.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
