"""ABI structs and certificate encodings as Python values (pure; the chain tests check them on chain)."""

from __future__ import annotations

import pytest
from eth_abi import encode

from hourglass_cli.chain import certificates as certs
from hourglass_cli.chain.structs import (
    ZERO_ADDRESS,
    AvsConfig,
    ConsensusType,
    CurveType,
    TaskConfig,
    operator_set_key,
)

HOOK = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def test_curve_names() -> None:
    assert CurveType.parse("bn254") == CurveType.BN254 == CurveType.parse(2) == CurveType.parse(" ECDSA ") + 1
    assert CurveType.BN254.label == "bn254"
    with pytest.raises(ValueError, match="expected 'bn254' or 'ecdsa'"):
        CurveType.parse("ed25519")


@pytest.mark.parametrize(("consensus", "bips", "value"), [
    (ConsensusType.STAKE_PROPORTION_THRESHOLD, 6667, encode(["uint16"], [6667])),
    (ConsensusType.NONE, None, b""),
])
def test_task_config_round_trips(consensus: ConsensusType, bips: int | None, value: bytes) -> None:
    config = TaskConfig(HOOK, 120, CurveType.ECDSA, consensus, bips, task_metadata=b"\x01")
    as_tuple = config.to_tuple()
    assert as_tuple == (HOOK, 120, ZERO_ADDRESS, 1, ZERO_ADDRESS, (int(consensus), value), b"\x01")
    assert TaskConfig.from_tuple(as_tuple) == config


def test_avs_config_and_operator_set_key() -> None:
    assert AvsConfig(0, (1, 2)).to_tuple() == (0, [1, 2])
    assert AvsConfig.from_tuple((0, [1, 2])) == AvsConfig(0, (1, 2))
    key = operator_set_key(HOOK, 7)
    assert len(key) == 32 and key[:20].hex() == HOOK[2:].lower() and int.from_bytes(key[20:], "big") == 7


def test_certificates_encode_and_decode() -> None:
    witness = certs.bn254_witness(2, b"\x11" * 64, (1, 2), [100])
    cert = certs.bn254_certificate(5, b"\x22" * 32, (3, 4), (5, 6, 7, 8), [witness])
    assert cert == (5, b"\x22" * 32, (3, 4), ([5, 6], [7, 8]), [(2, b"\x11" * 64, ((1, 2), [100]))])
    decoded = certs.decode_bn254_certificate(certs.encode_bn254_certificate(cert))
    assert decoded[:3] == cert[:3] and decoded[4][0][2] == ((1, 2), (100,))
    ecdsa_cert = certs.ecdsa_certificate(9, b"\x33" * 32, [b"\x01" * 65, b"\x02" * 65])
    assert certs.decode_ecdsa_certificate(certs.encode_ecdsa_certificate(ecdsa_cert)) == \
        (9, b"\x33" * 32, b"\x01" * 65 + b"\x02" * 65)
