"""Regenerate the committed gRPC/protobuf stubs: ``python -m hourglass_cli.wire.regen [--check]``.

The stubs under ``wire/gen/`` are grpcio-tools output for ``wire/protos/``, post-processed the same
way every time (so ``--check`` can compare byte for byte):

1. Imports between generated modules, and the module name message classes report, are made absolute
   under ``hourglass_cli.wire.gen`` (protoc writes ``eigenlayer.hourglass...``, which only works with
   ``gen/`` itself on ``sys.path``). The proto file names registered in the descriptor pool stay
   ``eigenlayer/hourglass/v1/...``, as upstream's.
2. ``*_pb2.py``: protoc 33 gencode calls ``ValidateProtobufRuntimeVersion(7, <minor>, ...)``, which
   refuses every protobuf runtime older than the protoc that ran (so 5.x and 6.x). The gencode itself is
   a serialized descriptor plus ``_builder`` calls that protobuf >= 5.26 runtimes load unchanged (checked
   with 5.26 and 6.x), and our dependency floor is protobuf 5, so the call is dropped.
3. ``*_pb2_grpc.py``: grpcio-tools stamps its own version as the minimum grpcio
   (``GRPC_GENERATED_VERSION``); the code it writes needs only grpcio 1.64 (``_registered_method``
   arrived in 1.63, ``add_registered_method_handlers`` in 1.64), so the stamp is lowered to that.
   Our own code never imports these modules: :mod:`hourglass_cli.wire.services` builds the handlers and
   stubs from the descriptors and works with grpcio >= 1.60. They are kept for users who want them.

Byte-identical output needs the same grpcio-tools version as the one recorded in ``gen/__init__.py``.
"""

from __future__ import annotations

import argparse
import filecmp
import importlib.metadata
import re
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path

WIRE_DIR = Path(__file__).resolve().parent
PROTO_ROOT = WIRE_DIR / "protos"
GEN_DIR = WIRE_DIR / "gen"
GEN_PACKAGE = "hourglass_cli.wire.gen"
PROTO_FILES = (
    "eigenlayer/hourglass/v1/performer/performer.proto",
    "eigenlayer/hourglass/v1/executor/executor.proto",
    "avs.proto",  # package aggregator: the client API (AvaProtocol's EigenLayer-AVS wire)
    "node.proto",  # package aggregator, service Node: the operators of the client API's triggers
)
MIN_GRPCIO_FOR_PB2_GRPC = "1.64.0"

_RUNTIME_IMPORT = "from google.protobuf import runtime_version as _runtime_version\n"
_RUNTIME_CHECK = re.compile(r"_runtime_version\.ValidateProtobufRuntimeVersion\(\n(?:[^\n]*\n)*?\)\n")
_GRPC_VERSION = re.compile(r"^GRPC_GENERATED_VERSION = '([0-9.]+)'$", re.M)
_PB_VERSION = re.compile(r"^# Protobuf Python Version: (\S+)$", re.M)
_GEN_IMPORT = re.compile(r"^from eigenlayer(\.| import )", re.M)
_TOP_IMPORT = re.compile(r"^import ((?:avs|node)_pb2) as ", re.M)  # protos at the root of wire/protos
_BUILD_MODULE = re.compile(r"^(_builder\.BuildTopDescriptorsAndMessages\(DESCRIPTOR, ')(eigenlayer\.|avs_pb2'|node_pb2')", re.M)


class RegenError(RuntimeError):
    """protoc failed, or its output no longer has the shape the post-processing expects."""


def grpcio_tools_version() -> str:
    """The installed grpcio-tools version (the generator)."""
    return importlib.metadata.version("grpcio-tools")


def recorded_version(gen_dir: Path = GEN_DIR) -> str | None:
    """The grpcio-tools version the committed stubs were made with, read from ``gen/__init__.py``."""
    try:
        text = (gen_dir / "__init__.py").read_text(encoding="utf-8")
    except OSError:
        return None
    match = re.search(r'^GRPCIO_TOOLS_VERSION = "([^"]+)"$', text, re.M)
    return match.group(1) if match else None


def _run_protoc(out_dir: Path) -> None:
    from grpc_tools import protoc

    well_known = resources.files("grpc_tools") / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *(str(PROTO_ROOT / name) for name in PROTO_FILES),
    ]
    if protoc.main(args) != 0:
        raise RegenError(f"protoc failed on {', '.join(PROTO_FILES)} (its message is above)")


def _fix_pb2(text: str, name: str) -> str:
    if _RUNTIME_IMPORT in text:
        text, count = _RUNTIME_CHECK.subn(
            "# hourglass regen: protobuf runtime version check dropped (see hourglass_cli/wire/regen.py)\n",
            text.replace(_RUNTIME_IMPORT, ""),
        )
        if count != 1:
            raise RegenError(f"{name}: runtime_version imported but its validation call was not found")
    # Message classes report the module they really live in (pickle, repr).
    text, count = _BUILD_MODULE.subn(rf"\g<1>{GEN_PACKAGE}.\g<2>", text)
    if count != 1:
        raise RegenError(f"{name}: BuildTopDescriptorsAndMessages call not found; update hourglass_cli/wire/regen.py")
    text = _TOP_IMPORT.sub(rf"from {GEN_PACKAGE} import \g<1> as ", text)
    return _GEN_IMPORT.sub(lambda m: f"from {GEN_PACKAGE}.eigenlayer{m.group(1)}", text)


def _fix_pb2_grpc(text: str, name: str) -> str:
    text, count = _GRPC_VERSION.subn(
        "# hourglass regen: the code below needs grpcio >= 1.64, not the generator's own version\n"
        f"GRPC_GENERATED_VERSION = '{MIN_GRPCIO_FOR_PB2_GRPC}'",
        text,
    )
    if count != 1:
        raise RegenError(f"{name}: GRPC_GENERATED_VERSION not found; update hourglass_cli/wire/regen.py")
    text = _TOP_IMPORT.sub(rf"from {GEN_PACKAGE} import \g<1> as ", text)
    return _GEN_IMPORT.sub(lambda m: f"from {GEN_PACKAGE}.eigenlayer{m.group(1)}", text)


def _write_packages(out_dir: Path, protobuf_version: str) -> None:
    """An ``__init__.py`` in every generated folder; the top one records the generator."""
    folders = {out_dir}
    for path in out_dir.rglob("*.py"):
        folders.update(parent for parent in path.parents if parent.is_relative_to(out_dir))
    for folder in sorted(folders):
        init = folder / "__init__.py"
        if folder == out_dir:
            init.write_text(
                '"""Generated protobuf/gRPC stubs for wire/protos; do not edit '
                '(python -m hourglass_cli.wire.regen)."""\n\n'
                f'GRPCIO_TOOLS_VERSION = "{grpcio_tools_version()}"\n'
                f'PROTOBUF_GENCODE_VERSION = "{protobuf_version}"\n',
                encoding="utf-8",
            )
        elif not init.exists():
            init.write_text("", encoding="utf-8")


def generate(out_dir: Path) -> list[Path]:
    """Generate and post-process the stubs into ``out_dir`` (created; must be empty or absent)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    _run_protoc(out_dir)
    protobuf_version = "unknown"
    for path in sorted(out_dir.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if path.name.endswith("_pb2_grpc.py"):
            text = _fix_pb2_grpc(text, path.name)
        elif path.name.endswith("_pb2.py"):
            found = _PB_VERSION.search(text)
            protobuf_version = found.group(1) if found else protobuf_version
            text = _fix_pb2(text, path.name)
        path.write_text(text, encoding="utf-8")
    _write_packages(out_dir, protobuf_version)
    return sorted(p for p in out_dir.rglob("*") if p.is_file())


def _tree(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def compare(expected_dir: Path, actual_dir: Path) -> list[str]:
    """Differences between two stub trees: missing, extra or changed files (empty when identical)."""
    expected, actual = _tree(expected_dir), _tree(actual_dir)
    problems = [f"missing: {name}" for name in sorted(expected - actual)]
    problems += [f"not generated any more: {name}" for name in sorted(actual - expected)]
    problems += [
        f"differs: {name}"
        for name in sorted(expected & actual)
        if not filecmp.cmp(expected_dir / name, actual_dir / name, shallow=False)
    ]
    return problems


def check(gen_dir: Path = GEN_DIR) -> list[str]:
    """Regenerate into a temporary folder and compare with ``gen_dir`` byte for byte."""
    with tempfile.TemporaryDirectory(prefix="hourglass-regen-") as tmp:
        fresh = Path(tmp) / "gen"
        generate(fresh)
        return compare(fresh, gen_dir)


def regenerate(gen_dir: Path = GEN_DIR) -> list[Path]:
    """Replace ``gen_dir`` with freshly generated stubs (built aside, then swapped in)."""
    with tempfile.TemporaryDirectory(prefix="hourglass-regen-", dir=gen_dir.parent) as tmp:
        fresh = Path(tmp) / "gen"
        generate(fresh)
        if gen_dir.exists():
            shutil.rmtree(gen_dir)
        shutil.move(str(fresh), str(gen_dir))
    return sorted(p for p in gen_dir.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hourglass_cli.wire.regen", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="regenerate into a temporary folder and fail if anything differs from wire/gen")
    args = parser.parse_args(argv)
    if not args.check:
        for path in regenerate():
            print(path.relative_to(WIRE_DIR.parent.parent))
        return 0
    problems = check()
    if not problems:
        print(f"wire/gen is up to date (grpcio-tools {grpcio_tools_version()})")
        return 0
    for line in problems:
        print(line, file=sys.stderr)
    recorded, installed = recorded_version(), grpcio_tools_version()
    if recorded != installed:
        print(f"note: wire/gen was generated with grpcio-tools {recorded}, {installed} is installed; "
              f"install grpcio-tools=={recorded} to check, or regenerate and commit", file=sys.stderr)
    else:
        print("wire/gen is stale: run `python -m hourglass_cli.wire.regen` and commit the result", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
