"""Who may watch triggers: the members of the AVS's monitoring operator set, their registered keys and weights.

Members and weights are the set's latest operator table as the table updater holds it (``getOperators`` /
``getOperatorWeights``, the table the certificate verifiers check tasks against); keys come from the KeyRegistrar
(BN254: the G2 key, 128 bytes; ECDSA: the signing-key address). The contracts are found from the TaskMailbox as
the aggregator finds them. Read on demand and cached for ``ttl`` seconds, so a deregistered operator loses its
say within that time.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from hourglass_cli.chain.structs import CurveType, operator_set
from hourglass_cli.errors import ChainError


@dataclass(frozen=True)
class Member:
    address: str  # checksummed operator address
    weight: int
    public_key: bytes  # what wire.signing verifiers take


@dataclass(frozen=True)
class MemberTable:
    curve: CurveType
    members: dict[str, Member]
    total_weight: int
    read_at: float


class OperatorRegistry:
    """Cached members of (avs, set_id); thread-safe."""

    def __init__(self, w3: Any, *, avs: str, set_id: int, task_mailbox: str, ttl: float = 10.0) -> None:
        from eth_utils import to_checksum_address

        from hourglass_cli.aggregator.operators import ChainContracts

        self.w3 = w3
        self.avs = to_checksum_address(avs)
        self.set_id = int(set_id)
        self.ttl = ttl
        self._contracts = ChainContracts.discover("l1", w3, to_checksum_address(task_mailbox))
        self._lock = threading.Lock()
        self._table: MemberTable | None = None

    def table(self) -> MemberTable:
        """The current members (re-read after `ttl`); a read failure keeps the last table if there is one."""
        with self._lock:
            table = self._table
            if table is not None and time.monotonic() - table.read_at < self.ttl:
                return table
            try:
                table = self._read()
            except ChainError:
                if self._table is None:
                    raise
                return self._table
            self._table = table
            return table

    def member(self, address: str) -> Member | None:
        from eth_utils import is_hex_address, to_checksum_address

        if not is_hex_address(address):
            return None
        return self.table().members.get(to_checksum_address(address))

    def _read(self) -> MemberTable:
        from eth_utils import to_checksum_address

        from hourglass_cli.aggregator.operators import _bn254_members, _call
        from hourglass_cli.executor.chain_view import g2_bytes_from_solidity

        c = self._contracts
        opset = operator_set(self.avs, self.set_id)
        curve = CurveType(int(_call("KeyRegistrar.getOperatorSetCurveType",
                                    c.key_registrar.functions.getOperatorSetCurveType(opset))))
        addresses, weights = _bn254_members(c, opset, "latest")
        members: dict[str, Member] = {}
        for address, row in zip(addresses, weights):
            address = to_checksum_address(address)
            if curve == CurveType.BN254:
                _, g2 = _call(f"KeyRegistrar.getBN254Key({address})", c.key_registrar.functions.getBN254Key(opset,
                                                                                                           address))
                key = g2_bytes_from_solidity(g2)
                if not any(key):
                    continue
            else:
                signer = _call(f"KeyRegistrar.getECDSAAddress({address})",
                               c.key_registrar.functions.getECDSAAddress(opset, address))
                if int(signer, 16) == 0:
                    continue
                key = bytes.fromhex(to_checksum_address(signer)[2:])
            members[address] = Member(address, int(row[0]) if row else 0, key)
        return MemberTable(curve, members, sum(m.weight for m in members.values()), time.monotonic())
