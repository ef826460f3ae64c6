"""What operators and the aggregator's ``aggregator.Node`` service agree on: signed bytes, dedup keys, outputs.

Upstream (AvaProtocol EigenLayer-AVS v2.12) checks no operator signature; on the same wire we sign three things,
each an ABI encoding (``eth_abi.encode``) signed with the operator's *registered* key of the monitoring operator
set — ``Signer.sign_offchain`` (ECDSA: keccak256 then secp256k1, 65 bytes r‖s‖v; BN254: hash-to-G1 of the
bytes, a 64-byte G1 signature checked against the operator's KeyRegistrar G2 key):

- **auth** ``("hourglass-operator-auth:v1", chainId, purpose, operator, epochMs)`` with purpose ``"sync"``
  (``SyncMessagesReq``: ``monotonic_clock`` = epochMs, ``signature`` raw bytes) or ``"ping"`` (``Checkin``:
  ``status.last_heartbeat`` = epochMs, ``signature`` hex). Accepted within ``[api.triggers].auth_window``
  seconds of the server's clock.
- **report** ``("hourglass-trigger-report:v1", chainId, operator, taskId, triggerRequestId, outputHash)``
  (``NotifyTriggersReq.signature`` hex), ``outputHash`` = :func:`output_hash` of the trigger output sent.
- **overload** ``("hourglass-event-overload:v1", chainId, operator, taskId, blockNumber, queryIndex,
  eventsDetected, timestampMs)``; ``EventOverloadAlert`` has no signature field, so it travels in the call's
  metadata ``hourglass-signature`` (hex).

Dedup keys (``trigger_request_id``, the source design's): ``<task>:<ms>`` (fixed time / cron: the scheduled
time), ``<task>:<block>`` (block interval), ``<task>:<txHash>:<logIndex>`` (event).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from eth_abi import encode
from eth_utils import keccak, to_checksum_address

AUTH_DOMAIN = "hourglass-operator-auth:v1"
REPORT_DOMAIN = "hourglass-trigger-report:v1"
OVERLOAD_DOMAIN = "hourglass-event-overload:v1"
SIGNATURE_METADATA = "hourglass-signature"
PURPOSES = ("sync", "ping")

_TASK = r"[0-9A-HJKMNP-TV-Z]{26}"
_REQUEST = re.compile(rf"^({_TASK}):(?:(\d{{1,19}})|(0x[0-9a-f]{{64}}):(\d{{1,9}}))$")


def auth_message(chain_id: int, purpose: str, operator: str, epoch_ms: int) -> bytes:
    """The bytes an operator signs to open a stream (``sync``) or check in (``ping``)."""
    if purpose not in PURPOSES:
        raise ValueError(f"purpose must be one of {PURPOSES}")
    return encode(["string", "uint256", "string", "address", "uint64"],
                  [AUTH_DOMAIN, int(chain_id), purpose, to_checksum_address(operator), int(epoch_ms)])


def report_message(chain_id: int, operator: str, task_id: str, request_id: str, digest: bytes) -> bytes:
    """The bytes an operator signs with a trigger report."""
    return encode(["string", "uint256", "address", "string", "string", "bytes32"],
                  [REPORT_DOMAIN, int(chain_id), to_checksum_address(operator), task_id, request_id, bytes(digest)])


def overload_message(chain_id: int, operator: str, task_id: str, block_number: int, query_index: str,
                     events_detected: int, timestamp_ms: int) -> bytes:
    """The bytes an operator signs with an EventOverloadAlert."""
    return encode(["string", "uint256", "address", "string", "uint64", "string", "uint32", "uint64"],
                  [OVERLOAD_DOMAIN, int(chain_id), to_checksum_address(operator), task_id, int(block_number),
                   query_index, int(events_detected), int(timestamp_ms)])


def canonical(data: Any) -> bytes:
    """JSON with sorted keys and no spaces: the same bytes on every machine for the same output."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def output_hash(value: Any) -> bytes:
    """keccak256 of the canonical JSON of a trigger output (a ``google.protobuf.Value`` as sent, or plain data as
    it reads back from one: whole numbers as ints)."""
    from google.protobuf import struct_pb2

    from hourglass_cli.api.engine import from_value, to_value

    if not isinstance(value, struct_pb2.Value):
        value = to_value(value)
    return keccak(canonical(from_value(value)))


def time_request_id(task_id: str, at_ms: int) -> str:
    return f"{task_id}:{int(at_ms)}"


def block_request_id(task_id: str, block: int) -> str:
    return f"{task_id}:{int(block)}"


def event_request_id(task_id: str, tx_hash: str, log_index: int) -> str:
    return f"{task_id}:{tx_hash.lower()}:{int(log_index)}"


@dataclass(frozen=True)
class RequestId:
    """A parsed dedup key: ``number`` (ms or block) for time/block triggers, ``tx_hash``/``log_index`` for events."""

    task_id: str
    number: int | None = None
    tx_hash: str | None = None
    log_index: int | None = None


def parse_request_id(text: str) -> RequestId | None:
    """The parts of a dedup key, None when it is not one."""
    match = _REQUEST.match(text or "")
    if match is None:
        return None
    task_id, number, tx_hash, log_index = match.groups()
    if number is not None:
        return RequestId(task_id, number=int(number))
    return RequestId(task_id, tx_hash=tx_hash, log_index=int(log_index))


def time_output(at_ms: int) -> dict:
    """The output of a fixed-time or cron trigger that fired at its scheduled time ``at_ms``."""
    from hourglass_cli.api.auth import iso_ms

    return {"timestamp": int(at_ms), "timestampIso": iso_ms(at_ms / 1000)}


def _hex(value: Any) -> str:
    return "0x" + bytes(value).hex() if value is not None else ""


def block_output(block: Any) -> dict:
    """The output of a block trigger for a block as web3's ``get_block`` gives it."""
    return {"blockNumber": int(block["number"]), "blockHash": _hex(block.get("hash")),
            "timestamp": int(block["timestamp"]), "parentHash": _hex(block["parentHash"]),
            "gasLimit": int(block["gasLimit"]), "gasUsed": int(block["gasUsed"])}


def log_output(log: Any) -> dict:
    """The raw part of an event trigger's output for a log as web3's ``get_logs`` gives it."""
    return {"blockNumber": int(log["blockNumber"]), "transactionHash": _hex(log["transactionHash"]),
            "logIndex": int(log["logIndex"]), "address": to_checksum_address(log["address"]),
            "topics": [_hex(t) for t in log["topics"]], "data": _hex(log["data"])}


def log_filter(addresses: Any, topics: Any, from_block: int, to_block: int) -> dict:
    """``eth_getLogs`` parameters of an event query, read as ``api.chain.latest_event`` reads them: topics flat
    (entry i = topic i, ``""``/``"null"`` any value, an address padded to 32 bytes), trailing wildcards dropped."""
    from hourglass_cli.api.chain import _topic

    params: dict[str, Any] = {"fromBlock": int(from_block), "toBlock": int(to_block)}
    if addresses:
        params["address"] = [to_checksum_address(a) for a in addresses]
    flat = [_topic(t) for t in topics]
    while flat and flat[-1] is None:
        flat.pop()
    if flat:
        params["topics"] = flat
    return params


def format_decimals(raw: int, decimals: int) -> str:
    """``raw`` base units as a decimal string with ``decimals`` places, trailing zeros dropped (upstream's
    FormatWithDecimals): 1500000 with 6 → ``"1.5"``, 2000000 → ``"2"``."""
    if decimals <= 0:
        return str(raw)
    sign = "-" if raw < 0 else ""
    whole, frac = divmod(abs(int(raw)), 10 ** int(decimals))
    digits = str(frac).rjust(int(decimals), "0").rstrip("0")
    return f"{sign}{whole}.{digits}" if digits else f"{sign}{whole}"
