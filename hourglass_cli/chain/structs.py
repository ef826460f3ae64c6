"""The ABI structs and enums of WIRE.md §3 as Python values, with their web3 tuple forms."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from eth_abi import decode, encode
from eth_utils import to_canonical_address, to_checksum_address

ZERO_ADDRESS = "0x" + "00" * 20
ONE_HUNDRED_IN_BIPS = 10_000


class CurveType(IntEnum):
    """`IKeyRegistrarTypes.CurveType`."""

    NONE = 0
    ECDSA = 1
    BN254 = 2

    @classmethod
    def parse(cls, value: str | int | CurveType) -> CurveType:
        """"bn254" / "ECDSA" / 2 / CurveType.BN254 -> CurveType."""
        if isinstance(value, str):
            try:
                return cls[value.strip().upper()]
            except KeyError:
                raise ValueError(f"unknown curve {value!r}; expected 'bn254' or 'ecdsa'") from None
        return cls(int(value))

    @property
    def label(self) -> str:
        """"bn254" / "ecdsa" (the keystores' curveType)."""
        return self.name.lower()


class ConsensusType(IntEnum):
    """`ITaskMailboxTypes.ConsensusType`."""

    NONE = 0
    STAKE_PROPORTION_THRESHOLD = 1


class TaskStatus(IntEnum):
    """`ITaskMailboxTypes.TaskStatus` (EXPIRED is computed by the mailbox from the SLA)."""

    NONE = 0
    CREATED = 1
    VERIFIED = 2
    EXPIRED = 3


def operator_set(avs: str, set_id: int) -> tuple[str, int]:
    """`OperatorSet{avs, id}` as web3 takes it."""
    return (to_checksum_address(avs), int(set_id))


def operator_set_key(avs: str, set_id: int) -> bytes:
    """`bytes32(abi.encodePacked(avs, uint96(id)))`."""
    return to_canonical_address(avs) + int(set_id).to_bytes(12, "big")


@dataclass(frozen=True)
class TaskConfig:
    """`ExecutorOperatorSetTaskConfig`; `bips` is the STAKE_PROPORTION_THRESHOLD value (None for NONE)."""

    task_hook: str
    task_sla: int
    curve: CurveType
    consensus: ConsensusType = ConsensusType.STAKE_PROPORTION_THRESHOLD
    bips: int | None = 6667
    fee_token: str = ZERO_ADDRESS
    fee_collector: str = ZERO_ADDRESS
    task_metadata: bytes = b""

    def consensus_value(self) -> bytes:
        if self.consensus == ConsensusType.STAKE_PROPORTION_THRESHOLD:
            return encode(["uint16"], [6667 if self.bips is None else self.bips])
        return b""

    def to_tuple(self) -> tuple[Any, ...]:
        return (
            to_checksum_address(self.task_hook),
            int(self.task_sla),
            to_checksum_address(self.fee_token),
            int(self.curve),
            to_checksum_address(self.fee_collector),
            (int(self.consensus), self.consensus_value()),
            bytes(self.task_metadata),
        )

    @classmethod
    def from_tuple(cls, value: Any) -> TaskConfig:
        """From `getExecutorOperatorSetTaskConfig(...)` output."""
        hook, sla, fee_token, curve, fee_collector, (consensus, raw), metadata = value
        kind = ConsensusType(int(consensus))
        bips = int(decode(["uint256"], bytes(raw))[0]) if kind == ConsensusType.STAKE_PROPORTION_THRESHOLD else None
        return cls(
            task_hook=to_checksum_address(hook),
            task_sla=int(sla),
            curve=CurveType(int(curve)),
            consensus=kind,
            bips=bips,
            fee_token=to_checksum_address(fee_token),
            fee_collector=to_checksum_address(fee_collector),
            task_metadata=bytes(metadata),
        )


@dataclass(frozen=True)
class AvsConfig:
    """`ITaskAVSRegistrarBase.AvsConfig`."""

    aggregator_operator_set_id: int
    executor_operator_set_ids: tuple[int, ...]

    def to_tuple(self) -> tuple[int, list[int]]:
        return (int(self.aggregator_operator_set_id), [int(i) for i in self.executor_operator_set_ids])

    @classmethod
    def from_tuple(cls, value: Any) -> AvsConfig:
        aggregator, executors = value
        return cls(int(aggregator), tuple(int(i) for i in executors))


@dataclass(frozen=True)
class OperatorSetConfig:
    """`ICrossChainRegistryTypes.OperatorSetConfig`: the table owner and max staleness (0 = never stale)."""

    owner: str
    max_staleness_period: int = 0

    def to_tuple(self) -> tuple[str, int]:
        return (to_checksum_address(self.owner), int(self.max_staleness_period))
