"""Our node.proto (service aggregator.Node) matches upstream's protobuf/node.proto at v2.12.0 field for field:
the facts in data/node-v2.12.0-facts.json were written by scripts/node_proto_facts.py from upstream's file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from google.protobuf import descriptor_pb2

from hourglass_cli.wire.gen import node_pb2

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from node_proto_facts import describe  # noqa: E402

FACTS = Path(__file__).parent / "data" / "node-v2.12.0-facts.json"


def ours() -> dict:
    file = descriptor_pb2.FileDescriptorProto()
    node_pb2.DESCRIPTOR.CopyToProto(file)
    return describe(file)


def test_node_proto_matches_upstream_v2_12() -> None:
    upstream = json.loads(FACTS.read_text())
    mine = json.loads(json.dumps(ours()))
    assert mine["package"] == upstream["package"] == "aggregator"
    assert mine["enums"] == upstream["enums"]
    assert mine["services"] == upstream["services"]
    assert set(mine["messages"]) == set(upstream["messages"])
    for name, fields in upstream["messages"].items():
        assert mine["messages"][name] == fields, name


def test_a_changed_field_number_is_noticed() -> None:
    upstream = json.loads(FACTS.read_text())
    upstream["messages"]["aggregator.NotifyTriggersReq"][0][0] = 99
    assert json.loads(json.dumps(ours()))["messages"]["aggregator.NotifyTriggersReq"] != \
        upstream["messages"]["aggregator.NotifyTriggersReq"]
