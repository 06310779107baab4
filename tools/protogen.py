"""Generate the Python stubs (with mypy stubs) from proto/, or check that they are current.

`python tools/protogen.py` rewrites proto/gen; `python tools/protogen.py --check` regenerates
into a temporary directory and fails, listing the files, when proto/gen has drifted;
`--deps DIR` copies the google/type protos the contracts import into DIR (for buf).
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

import grpc_tools
from google.type import date_pb2
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO = ROOT / "proto"
GEN = PROTO / "gen"
# The mypy-protobuf plugins live beside the interpreter running this script.
BIN = Path(sys.executable).parent
# google/type/*.proto (Date) ship with googleapis-common-protos, whose Python modules the
# generated code imports: their .proto files are only read, never generated again.
GOOGLEAPIS = Path(date_pb2.__file__).parents[2]
IMPORTED = ("google/type/date.proto", "google/type/money.proto")


def generate(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    sources = sorted(str(p.relative_to(PROTO)) for p in (PROTO / "kopa").rglob("*.proto"))
    include = Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "protoc",
        f"-I{PROTO}",
        f"-I{include}",
        f"-I{GOOGLEAPIS}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--plugin=protoc-gen-mypy={BIN / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={BIN / 'protoc-gen-mypy_grpc'}",
        f"--mypy_out={out}",
        f"--mypy_grpc_out={out}",
        *sources,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed: see the messages above, fix the .proto files and rerun")
    for package in [out / "kopa", *(p for p in (out / "kopa").rglob("*") if p.is_dir())]:
        (package / "__init__.py").touch()


def tree(root: Path) -> dict[str, Path]:
    return {str(p.relative_to(root)): p for p in root.rglob("*") if p.is_file()}


def check() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        generate(fresh)
        want, have = tree(fresh), tree(GEN) if GEN.exists() else {}
        drift = sorted(
            name
            for name in want.keys() | have.keys()
            if name not in want
            or name not in have
            or not filecmp.cmp(want[name], have[name], shallow=False)
        )
    if drift:
        print("generated stubs differ from proto/ (run `make proto` and commit):")
        for name in drift:
            print(f"  proto/gen/{name}")
        return 1
    print(f"proto stubs are current ({len(want)} files)")
    return 0


def copy_imported(root: Path) -> None:
    """The imported google/type protos into `root` (buf reads one tree of sources)."""
    for name in IMPORTED:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(GOOGLEAPIS / name, root / name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if proto/gen is stale")
    parser.add_argument("--deps", type=Path, help="copy the imported google protos into DIR")
    args = parser.parse_args()
    if args.deps:
        copy_imported(args.deps)
        return 0
    if args.check:
        return check()
    shutil.rmtree(GEN, ignore_errors=True)
    generate(GEN)
    print(f"generated {len(tree(GEN))} files in {GEN.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
