"""Write hourglass_cli/wire/protos/avs.proto from the Ava SDK's schema facts (run once; the proto is then ours).

``python scripts/ava_proto_from_schema.py ../shared/interop/ava/avs-v2.12.0-schema.json``

The schema (every message, field number, type, label, oneof, enum and RPC of AvaProtocol's avs.proto v2.12.0,
read from the generated code inside ``@avaprotocol/sdk-js@2.16.0``) is the wire contract. This script lays
it out as proto3 text — nested messages inside their parents, fields in number order, oneofs grouped — and
appends hourglass's additions, each marked ``hourglass:``:

- ``rpc CancelTask(IdReq) returns (google.protobuf.BoolValue)``: the RPC v2.3 replaced by SetTaskEnabled; the
  source design's clients still call it.
- ``NODE_TYPE_HOURGLASS_TASK = 100``, ``TaskNode.hourglass_task = 100`` and ``Execution.Step.hourglass_task =
  100``: a step computed by the AVS's operators and verified on chain. Unknown to the SDK, whose decoder skips
  unknown fields.

tests/wire/test_ava_proto.py checks the compiled descriptors against the schema, so a hand edit that breaks
the wire is caught whether or not this script is run again.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "hourglass_cli/wire/protos/avs.proto"

HEADER = """\
// The client API of an AVS aggregator, wire-compatible with AvaProtocol's EigenLayer-AVS avs.proto v2.12.0
// (package, message and field names and numbers as its JavaScript SDK @avaprotocol/sdk-js@2.16.0 speaks them).
// Laid out from ../shared/interop/ava/avs-v2.12.0-schema.json by scripts/ava_proto_from_schema.py; the lines
// marked "hourglass:" are our additions. tests/wire/test_ava_proto.py compares the descriptors with that schema.
syntax = "proto3";
package aggregator;

option go_package = "./avsproto";

import "google/protobuf/struct.proto";
import "google/protobuf/wrappers.proto";
"""

HOURGLASS_NODE = """\
// hourglass: a step whose result is computed by the AVS's operator set and verified on chain. The node creates a
// TaskMailbox task with the (templated) payload, waits for TaskVerified and outputs the verified result.
message HourglassTaskNode {
  message Config {
    string payload = 1;             // hex (0x…) or a template that renders to hex or to text (sent as UTF-8)
    string mailbox = 2;             // TaskMailbox address; empty = the devnet's / the API's configured one
    string executor_operator_set_id = 3;  // decimal; empty = the configured executor set
    string avs = 4;                 // AVS address; empty = the configured AVS
    string result_abi = 5;          // optional ABI tuple type to decode the result, e.g. "(uint256)"
    uint32 timeout_seconds = 6;     // 0 = the task SLA
  }
  message Output {
    google.protobuf.Value data = 1; // {taskHash, result, decoded, txHash, blockNumber, verified: true}
  }
  Config config = 1;
}
"""


def _type(spec: dict) -> str:
    kind = spec["type"]
    if kind.startswith("enum:"):
        kind = kind[len("enum:"):]
    return "." + kind if "." in kind else kind


def _field(spec: dict, number: str) -> str:
    kind = _type(spec)
    if spec["label"] == "map":
        return f"map<{spec['key']}, {kind}> {spec['name']} = {number};"
    label = "repeated " if spec["label"] == "repeated" else ("optional " if spec.get("optional") else "")
    return f"{label}{kind} {spec['name']} = {number};"


def _message(name: str, schema: dict, children: dict[str, list[str]], indent: str,
             extra: dict[str, list[str]]) -> list[str]:
    short = name.rsplit(".", 1)[1]
    lines = [f"{indent}message {short} {{"]
    for child in children.get(name, []):
        lines += _message(child, schema, children, indent + "  ", extra)
    fields = sorted(schema["messages"][name]["fields"].items(), key=lambda item: int(item[0]))
    oneofs: dict[str, list[str]] = {}
    for number, spec in fields:
        oneof = spec.get("oneof") if not spec.get("optional") else None
        if oneof is None:
            lines.append(f"{indent}  {_field(spec, number)}")
        else:
            oneofs.setdefault(oneof, []).append(f"{indent}    {_field(spec, number)}")
    for oneof, members in oneofs.items():
        lines.append(f"{indent}  oneof {oneof} {{")
        lines += members + [f"{indent}    {line.strip()}" for line in extra.pop((name, oneof), [])]
        lines.append(f"{indent}  }}")
    lines.append(f"{indent}}}")
    return lines


def render(schema: dict) -> str:
    messages = list(schema["messages"])
    children: dict[str, list[str]] = {}
    top = []
    for name in messages:
        parent = name.rsplit(".", 1)[0]
        if parent in schema["messages"]:
            children.setdefault(parent, []).append(name)
        else:
            top.append(name)
    extra = {
        ("aggregator.TaskNode", "task_type"): [
            "    HourglassTaskNode hourglass_task = 100;  // hourglass: verified by the AVS's operators"],
        ("aggregator.Execution.Step", "output_data"): [
            "    HourglassTaskNode.Output hourglass_task = 100;  // hourglass"],
    }
    out = [HEADER]
    for enum, values in schema["enums"].items():
        if not enum.startswith("aggregator."):
            continue
        out.append(f"enum {enum.rsplit('.', 1)[1]} {{")
        out += [f"  {key} = {value};" for key, value in values.items()]
        if enum == "aggregator.NodeType":
            out.append("  NODE_TYPE_HOURGLASS_TASK = 100;  // hourglass: a step verified by the AVS's operators")
        out.append("}\n")
    for name in top:
        out += _message(name, schema, children, "", extra)
        out.append("")
    if extra:
        raise SystemExit(f"oneofs not found for the hourglass additions: {sorted(extra)}")
    out.append(HOURGLASS_NODE)
    out.append("service Aggregator {")
    for rpc, spec in schema["services"]["aggregator.Aggregator"].items():
        request, response = (spec[key].removeprefix("aggregator.") for key in ("req", "resp"))
        out.append(f"  rpc {rpc}({request}) returns ({response});")
    out.append("  // hourglass: the RPC v2.3 replaced by SetTaskEnabled (the source design's clients call it)")
    out.append("  rpc CancelTask(IdReq) returns (google.protobuf.BoolValue);")
    out.append("}")
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.splitlines()[2], file=sys.stderr)
        return 2
    schema = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    for spec in schema["services"]["aggregator.Aggregator"].values():
        if spec["reqStream"] or spec["respStream"]:
            raise SystemExit("streaming RPCs are not expected in aggregator.Aggregator")
    OUT.write_text(render(schema), encoding="utf-8")
    print(OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
