"""Regenerate the Python code of ``proto/`` into ``nodechat/proto/`` (committed).

    python scripts/gen_protos.py          # rewrite nodechat/proto/
    python scripts/gen_protos.py --check  # exit 1 if the committed code is stale (CI)

protoc names generated modules after the proto path (``nodechat/v1/auth.proto``
becomes ``nodechat.v1.auth_pb2``, imported as ``from nodechat.v1 import ...``),
which is not where the code lives. So the script generates into a temporary
directory, rewrites those imports to ``nodechat.proto.v1`` (like temporalio's
``scripts/gen_protos.py``), adds the package ``__init__.py`` files and moves the
result into place. The output depends on the grpcio-tools version; regenerate
with the version CI installs.

Only the messages (``*_pb2.py``, ``*_pb2.pyi``) are generated, not the
``*_pb2_grpc.py`` stubs: nodechat's servers register their handlers and its
clients build their calls from the service descriptors (``nodechat.server.grpc``), so
the placeholder servicer classes would be dead code. Other languages generate
their own stubs from ``proto/``.
"""

from __future__ import annotations

import argparse
import difflib
import filecmp
import re
import shutil
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
SOURCE_PACKAGE = "nodechat.v1"  # the proto package, as protoc spells the import
OUT_DIR = ROOT / "nodechat" / "proto"
TARGET_PACKAGE = "nodechat.proto.v1"

_IMPORT_FIXES = [
    (
        re.compile(rf"^from {re.escape(SOURCE_PACKAGE)} import ", re.M),
        f"from {TARGET_PACKAGE} import ",
    ),
    (re.compile(rf"^import {re.escape(SOURCE_PACKAGE)}\.", re.M), f"import {TARGET_PACKAGE}."),
]

_INITS = {
    Path("__init__.py"): '"""Generated protobuf code (scripts/gen_protos.py); do not edit."""\n',
    Path(
        "v1/__init__.py"
    ): '"""nodechat.v1 messages and services, generated from proto/nodechat/v1."""\n',
}


def _protoc(out: Path) -> None:
    protos = sorted(PROTO_DIR.glob("nodechat/v1/*.proto"))
    if not protos:
        sys.exit(f"no .proto files under {PROTO_DIR}")
    well_known = resources.files("grpc_tools") / "_proto"
    cmd = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"--proto_path={PROTO_DIR}",
        f"--proto_path={well_known}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        *(str(p.relative_to(PROTO_DIR)) for p in protos),
    ]
    subprocess.run(cmd, check=True, cwd=PROTO_DIR)


def generate(target: Path) -> None:
    """Write the complete generated package into ``target`` (replacing it)."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp)
        _protoc(raw)
        generated = raw / Path(*SOURCE_PACKAGE.split("."))
        for path in sorted(generated.iterdir()):
            text = path.read_text(encoding="utf-8")
            for pattern, replacement in _IMPORT_FIXES:
                text = pattern.sub(replacement, text)
            path.write_text(text, encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        (target / "v1").mkdir(parents=True)
        for path in sorted(generated.iterdir()):
            shutil.copyfile(path, target / "v1" / path.name)
        for name, text in _INITS.items():
            (target / name).write_text(text, encoding="utf-8")


def _files(base: Path) -> set[Path]:
    return {
        p.relative_to(base) for p in base.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    }


def check() -> int:
    """0 if ``nodechat/proto`` matches a fresh generation, else 1 with the differences."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "proto"
        generate(fresh)
        expected, committed = _files(fresh), _files(OUT_DIR) if OUT_DIR.exists() else set()
        problems = [f"missing: nodechat/proto/{p}" for p in sorted(expected - committed)]
        problems += [
            f"not generated (remove it): nodechat/proto/{p}" for p in sorted(committed - expected)
        ]
        for rel in sorted(expected & committed):
            if not filecmp.cmp(fresh / rel, OUT_DIR / rel, shallow=False):
                diff = difflib.unified_diff(
                    (OUT_DIR / rel).read_text(encoding="utf-8").splitlines(),
                    (fresh / rel).read_text(encoding="utf-8").splitlines(),
                    f"committed/{rel}",
                    f"generated/{rel}",
                    lineterm="",
                    n=1,
                )
                problems.append(f"stale: nodechat/proto/{rel}\n" + "\n".join(list(diff)[:20]))
    if problems:
        print("generated gRPC code is out of date with proto/:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        print("run: python scripts/gen_protos.py", file=sys.stderr)
        return 1
    print("nodechat/proto is up to date", file=sys.stderr)
    return 0


def main() -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="do not write; exit 1 if nodechat/proto is stale"
    )
    args = parser.parse_args()
    if args.check:
        return check()
    generate(OUT_DIR)
    print(f"generated {OUT_DIR.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
