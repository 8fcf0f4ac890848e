"""The conformance suite: user-level scenarios any back-end must pass the same way.

Run it against a back-end with ``quantum-grpc conformance --backend HOST:PORT``.
"""
