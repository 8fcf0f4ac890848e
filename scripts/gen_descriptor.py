"""Write the descriptor set Envoy's gRPC-JSON transcoder reads (deploy/envoy/rest.yaml).

Usage: python scripts/gen_descriptor.py [OUT]   (default build/quantum.pb; `make descriptor`)

It holds the client API (quantum.v1, with its google.api.http annotations) and everything
it imports, plus google/rpc/error_details.proto: the transcoder turns an error's
grpc-status-details-bin into a JSON body only for the detail types it knows, so an error
body carries its ErrorInfo reason (docs/operations.md, "REST through Envoy").
"""

from __future__ import annotations

import sys
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
THIRD_PARTY = ROOT / "third_party" / "googleapis"
DEFAULT_OUT = ROOT / "build" / "quantum.pb"
EXTRA = ("google/rpc/error_details.proto",)


def build(out: Path) -> Path:
    """Write the descriptor set to ``out``; return it."""
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    sources = sorted(
        str(p.relative_to(PROTOS)) for p in (PROTOS / "quantum" / "v1").glob("*.proto")
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        f"-I{PROTOS}",
        f"-I{THIRD_PARTY}",
        f"-I{well_known}",
        "--include_imports",
        f"--descriptor_set_out={out}",
        *sources,
        *EXTRA,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    return out


if __name__ == "__main__":
    target = build(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT)
    print(f"wrote {target}")
