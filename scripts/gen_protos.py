"""Regenerate the committed Python stubs (and the googleapis copy) from protos/.

Usage: python scripts/gen_protos.py [--check]

With --check nothing is written: the script exits 1 and names the files that differ when
the committed stubs or the googleapis copy do not match what the protos produce.
"""

from __future__ import annotations

import argparse
import filecmp
import re
import shutil
import sys
import tempfile
from pathlib import Path

import google.api
import grpc_tools
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
THIRD_PARTY = ROOT / "third_party" / "googleapis"
# The public contract package (README, "Python packages"): the stubs of every proto package
# under protos/quantum/ land in quantum_api/<package>/ (quantum.v1 -> quantum_api.v1).
CONTRACT = ROOT / "clients" / "python" / "quantum_api"
GENERATED = ("v1", "plugin", "linuxbridge")
# The googleapis files our protos import, plus those the Node client needs to decode
# google.rpc.Status details. They are copied from the installed googleapis-common-protos
# wheel so protoc, buf and proto-loader all read the same files with no download.
GOOGLEAPIS_FILES = (
    "google/api/annotations.proto",
    "google/api/field_behavior.proto",
    "google/api/http.proto",
    "google/rpc/code.proto",
    "google/rpc/error_details.proto",
    "google/rpc/status.proto",
)
IMPORT_RE = re.compile(r"^(from|import) quantum(\.| )", re.MULTILINE)


def copy_googleapis(dest: Path) -> None:
    source_root = Path(google.api.__path__[0]).parent.parent
    for name in GOOGLEAPIS_FILES:
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source_root / name, target)


def generate(dest: Path, googleapis: Path) -> None:
    """Write the stubs of protos/quantum/<package> to dest/<package>."""
    with tempfile.TemporaryDirectory() as tmp:
        _protoc(Path(tmp), googleapis)
        dest.mkdir(parents=True, exist_ok=True)
        for package in GENERATED:
            shutil.rmtree(dest / package, ignore_errors=True)
            shutil.copytree(Path(tmp, "quantum", package), dest / package)
    for package in GENERATED:
        folder = dest / package
        for path in folder.rglob("*.py*"):
            text = path.read_text()
            # protoc writes imports rooted at the proto root (quantum.v1); ours is quantum_api.
            fixed = IMPORT_RE.sub(r"\1 quantum_api\2", text)
            if fixed != text:
                path.write_text(fixed)
        for sub in [folder, *(p for p in folder.rglob("*") if p.is_dir())]:
            (sub / "__init__.py").touch()


def _protoc(dest: Path, googleapis: Path) -> None:
    sources = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{PROTOS}",
        f"-I{googleapis}",
        f"-I{well_known}",
        f"--python_out={dest}",
        f"--pyi_out={dest}",
        f"--grpc_python_out={dest}",
        *sources,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")


def differences(a: Path, b: Path) -> list[str]:
    names = {p.relative_to(a) for p in a.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    names |= {
        p.relative_to(b) for p in b.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    }
    return sorted(
        str(n)
        for n in names
        if not ((a / n).exists() and (b / n).exists() and filecmp.cmp(a / n, b / n, shallow=False))
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if committed files differ")
    args = parser.parse_args()
    if not args.check:
        copy_googleapis(THIRD_PARTY)
        generate(CONTRACT, THIRD_PARTY)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        googleapis, out = Path(tmp, "googleapis"), Path(tmp, "out")
        copy_googleapis(googleapis)
        generate(out, googleapis)
        diff = differences(googleapis, THIRD_PARTY)
        for package in GENERATED:
            diff += differences(out / package, CONTRACT / package)
    if diff:
        print("generated files are out of date; run: python scripts/gen_protos.py", file=sys.stderr)
        for name in diff:
            print(f"  differs: {name}", file=sys.stderr)
        return 1
    print("generated stubs match the protos")
    return 0


if __name__ == "__main__":
    sys.exit(main())
