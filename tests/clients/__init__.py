"""Tests of the Python SDK and the `quantum` CLI against real servers."""
