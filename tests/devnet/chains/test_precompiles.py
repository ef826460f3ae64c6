"""The embedded chain's BN254 precompiles equal py-evm's own (py_ecc) ones, result and gas.

First the bare functions on valid and invalid inputs, then the same calls executed through both
VMs (ours and stock py-evm), comparing success, output and gas used — an invalid input must fail
the call and consume all the gas it was given, exactly as py-evm does.
"""

from __future__ import annotations

import random

import pytest
from eth.precompiles.ecadd import _ecadd
from eth.precompiles.ecmul import _ecmull
from eth.precompiles.ecpairing import _ecpairing
from eth_utils import ValidationError

from hourglass_cli.crypto import bn254
from hourglass_cli.crypto.pairing import G2_GENERATOR, NEG_G2, P, R
from hourglass_cli.devnet.chains.embedded import execution
from hourglass_cli.devnet.chains.embedded.node import Node
from hourglass_cli.devnet.chains.embedded.params import BlockRef, TxParams
from hourglass_cli.devnet.chains.embedded.precompiles import ecadd_output, ecmul_output, ecpairing_output
from tests.crypto.test_pairing import random_twist_point


def w(*values: int) -> bytes:
    return b"".join(v.to_bytes(32, "big") for v in values)


def g2(q: tuple) -> bytes:
    (xr, xi), (yr, yi) = q
    return w(xi, xr, yi, yr)  # EIP-197: imaginary part first


PT = bn254.g1_mul(bn254.G1_GENERATOR, 0xDEADBEEF)
PT2 = bn254.g1_mul(bn254.G1_GENERATOR, 0xC0FFEE)
NEG_PT = (PT[0], P - PT[1])
OUTSIDE_G2 = random_twist_point(random.Random(3))  # on the twist, not in the order-r subgroup

ECADD_CASES = {
    "p_plus_q": w(*PT, *PT2),
    "double": w(*PT, *PT),
    "p_minus_p": w(*PT, *NEG_PT),
    "infinity_plus_p": w(0, 0, *PT),
    "empty": b"",
    "short_padded": w(*PT, PT2[0])[:-5],
    "long_truncated": w(*PT, *PT2) + b"\x07" * 40,
    "x_ge_p": w(PT[0] + P, PT[1], *PT2),
    "off_curve": w(1, 3, *PT2),
    "second_off_curve": w(*PT, 5, 5),
}
ECMUL_CASES = {
    "k": w(*PT, 0x1234567890ABCDEF),
    "zero": w(*PT, 0),
    "one": w(*PT, 1),
    "order": w(*PT, R),
    "order_plus_one": w(*PT, R + 1),
    "max_scalar": w(*PT, 2**256 - 1),
    "infinity": w(0, 0, 77),
    "generator": w(1, 2, 99),
    "short_padded": w(*PT)[:50],
    "off_curve": w(1, 3, 2),
    "y_ge_p": w(PT[0], PT[1] + P, 2),
}
PAIRING_CASES = {
    "empty": b"",
    "product_one": w(*PT) + g2(G2_GENERATOR) + w(*PT) + g2(NEG_G2),
    "product_not_one": w(*PT) + g2(G2_GENERATOR) + w(*PT2) + g2(G2_GENERATOR),
    "g1_infinity": w(0, 0) + g2(G2_GENERATOR),
    "g2_infinity": w(*PT) + w(0, 0, 0, 0),
    "bad_length": (w(*PT) + g2(G2_GENERATOR))[:-1],
    "g1_off_curve": w(1, 3) + g2(G2_GENERATOR),
    "g1_coordinate_ge_p": w(PT[0], PT[1] + P) + g2(G2_GENERATOR),
    "g2_off_twist": w(*PT) + w(1, 2, 3, 4),
    "g2_coordinate_ge_p": w(*PT) + w(G2_GENERATOR[0][1] + P, G2_GENERATOR[0][0], G2_GENERATOR[1][1], G2_GENERATOR[1][0]),
    "g2_not_in_subgroup": w(0, 0) + g2(OUTSIDE_G2),
}


def _py_evm_point(result: tuple) -> bytes:
    return w(result[0].n, result[1].n)


def _reference(kind: str, data: bytes) -> bytes | None:
    """py-evm's implementation; None where it rejects the input."""
    try:
        if kind == "ecadd":
            return _py_evm_point(_ecadd(data))
        if kind == "ecmul":
            return _py_evm_point(_ecmull(data))
        if len(data) % 192:
            return None
        return w(1 if _ecpairing(data) else 0)
    except ValidationError:
        return None


@pytest.mark.parametrize("name", sorted(ECADD_CASES))
def test_ecadd_matches_py_evm(name: str) -> None:
    assert ecadd_output(ECADD_CASES[name]) == _reference("ecadd", ECADD_CASES[name])


@pytest.mark.parametrize("name", sorted(ECMUL_CASES))
def test_ecmul_matches_py_evm(name: str) -> None:
    assert ecmul_output(ECMUL_CASES[name]) == _reference("ecmul", ECMUL_CASES[name])


@pytest.mark.parametrize("name", sorted(PAIRING_CASES))
def test_ecpairing_matches_py_evm(name: str) -> None:
    expected = _reference("ecpairing", PAIRING_CASES[name])
    assert ecpairing_output(PAIRING_CASES[name]) == expected
    if name.startswith("product_"):
        assert expected == w(1 if name == "product_one" else 0)


@pytest.fixture(scope="module")
def nodes() -> tuple[Node, Node]:
    return Node(), Node(fast_precompiles=False)


# Through the VMs: py_ecc pairings cost ~0.2 s each, so the pairing cases here are the cheap ones
# plus one real two-pair check.
VM_CASES = [(8, PAIRING_CASES[n]) for n in ("product_one", "empty", "bad_length", "g1_off_curve", "g2_not_in_subgroup")]
VM_CASES += [(7, ECMUL_CASES[n]) for n in ("k", "off_curve", "short_padded")]
VM_CASES += [(6, ECADD_CASES[n]) for n in ("p_plus_q", "x_ge_p", "empty")]


@pytest.mark.parametrize("address,data", VM_CASES)
def test_precompile_calls_match_py_evm_vm(nodes: tuple[Node, Node], address: int, data: bytes) -> None:
    gas = 500_000
    results = []
    for node in nodes:
        vm = node.vm_at(BlockRef(tag="latest"))
        params = TxParams(sender=node.accounts[0], to=address.to_bytes(20, "big"), data=data)
        r = execution.execute(vm, params, gas)
        results.append((r.success, r.output, r.gas_used, type(r.error).__name__))
    fast, reference = results
    assert fast == reference
    if not fast[0]:
        assert fast[2] == gas  # an invalid input consumes all the gas
