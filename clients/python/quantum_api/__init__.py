"""The Quantum API's public contract for Python: generated stubs and the error catalogue.

- ``quantum_api.v1``: the client API (``quantum.v1`` in protos/): messages and stubs of
  NetworkService, PortService, AttachmentService and WatchService.
- ``quantum_api.plugin.v1``: the back-end protocol (BackendService, StatusReporterService).
- ``quantum_api.linuxbridge.v1``: the linuxbridge agent protocol.
- ``quantum_api.errors``: every error the API returns, by ``ErrorInfo`` reason
  (``quantum.v1.ErrorReason``).

The core, the back-ends, the SDK, the benchmarks and the tests all import these, so the
one contract is shared; nothing here depends on the server.
"""
