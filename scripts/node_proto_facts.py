"""Write the facts (messages, fields, enums, RPCs) of upstream's protobuf/node.proto as JSON for
tests/wire/test_node_proto.py: ``python scripts/node_proto_facts.py UPSTREAM_PROTOBUF_DIR OUT.json``
(UPSTREAM_PROTOBUF_DIR holds node.proto and avs.proto of AvaProtocol/EigenLayer-AVS at v2.12.0)."""

from __future__ import annotations

import json
import sys
import tempfile
from importlib import resources
from pathlib import Path


def facts(folder: Path) -> dict:
    from google.protobuf import descriptor_pb2
    from grpc_tools import protoc

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "set.pb"
        well_known = resources.files("grpc_tools") / "_proto"
        if protoc.main(["protoc", f"-I{folder}", f"-I{well_known}", f"--descriptor_set_out={out}",
                        str(folder / "node.proto")]) != 0:
            raise SystemExit("protoc failed")
        fds = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    file = fds.file[0]
    return describe(file)


def describe(file) -> dict:
    messages: dict[str, list] = {}

    def walk(prefix: str, message) -> None:
        name = f"{prefix}.{message.name}"
        messages[name] = sorted([f.number, f.name, f.type, f.label, f.type_name,
                                 f.oneof_index if f.HasField("oneof_index") else -1] for f in message.field)
        for nested in message.nested_type:
            walk(name, nested)

    for message in file.message_type:
        walk(file.package, message)
    enums = {f"{file.package}.{e.name}": sorted([v.number, v.name] for v in e.value) for e in file.enum_type}
    services = {f"{file.package}.{s.name}": sorted([m.name, m.input_type, m.output_type, m.server_streaming,
                                                    m.client_streaming] for m in s.method) for s in file.service}
    return {"package": file.package, "messages": messages, "enums": enums, "services": services}


if __name__ == "__main__":
    Path(sys.argv[2]).write_text(json.dumps(facts(Path(sys.argv[1])), indent=1, sort_keys=True) + "\n")
