"""The off-chain pieces against the real WorkflowStateMachine: a definition file compiled by
`workflows.definition` is what the contract registers (and reads back), its conditions are the ones the contract
checks, and the envelope the contract writes into a phase's task is what the performer SDK parses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eth_abi import encode

from hourglass_cli.performer.phase import parse_envelope
from hourglass_cli.workflows.definition import loads_definition
from tests.contracts import stack as s
from tests.contracts import workflow_env as w
from tests.contracts.reverts import assert_reverts

pytestmark = pytest.mark.slow

ORACLE = f'''
name = "price-oracle"

[[phase]]
name = "monitor"
type = "continuous"
interval = "30s"
updates = 3
timeout = "10m"
operator_set = {s.ECDSA_SET}

[[phase]]
name = "agree"
type = "coordination"
depends_on = ["monitor"]
consensus = "66.67%"
timeout = "5m"
operator_set = {s.ECDSA_SET}

[[phase]]
name = "update"
type = "conditional"
depends_on = ["agree"]
condition = {{ price_above = 5000 }}
timeout = "1h"
operator_set = {s.ECDSA_SET}

[[phase]]
name = "combine"
type = "aggregation"
depends_on = ["monitor", "update"]
timeout = "10m"
'''


@pytest.fixture(scope="module")
def base() -> w.Env:
    return w.build_env()


@pytest.fixture
def env(base: w.Env) -> Iterator[w.Env]:
    yield from w.rolled_back(base)


def test_a_compiled_definition_registers_and_reads_back_unchanged(env: w.Env) -> None:
    definition = loads_definition(ORACLE, "oracle.toml")
    workflow_id = env.register(definition.phases_abi(), name=definition.name)
    info = env.wsm.functions.getWorkflow(workflow_id).call()
    phases = [tuple(list(p) if isinstance(p, list) else p for p in phase) for phase in info[3]]
    assert info[2] == "price-oracle"
    assert [(p[0], p[1], p[2], list(p[3]), bytes(p[4]), p[5], bytes(p[6]), p[7], p[8]) for p in phases] == \
        definition.phases_abi()


def test_a_compiled_condition_is_the_one_the_contract_checks(env: w.Env) -> None:
    definition = loads_definition('name = "gate"\n[[phase]]\nname = "gate"\ntype = "conditional"\ntimeout = "1h"\n'
                                  f'operator_set = {s.ECDSA_SET}\ncondition = {{ price_above = 5000 }}\n')
    ex, _ = env.execute(env.register(definition.phases_abi()))
    assert env.state(ex, 0)["status"] == w.WAITING
    assert assert_reverts(env.wsm.functions.triggerConditionalPhase(ex, 0, encode(["uint256"], [4999])),
                          env.trigger, "ConditionNotMet(uint32,uint8)", "uint32", "uint8") == (0, w.C_PRICE)
    env.send(env.wsm.functions.triggerConditionalPhase(ex, 0, encode(["uint256"], [5001])), env.trigger)
    assert env.state(ex, 0)["status"] == w.ACTIVE


def test_the_contracts_envelope_is_what_the_sdk_parses(env: w.Env) -> None:
    definition = loads_definition(f'name = "two"\n[[phase]]\nname = "fetch price"\ntype = "immediate"\n'
                                  f'timeout = "1m"\noperator_set = {s.ECDSA_SET}\n'
                                  f'[[phase]]\nname = "check"\ntype = "immediate"\ntimeout = "1m"\n'
                                  f'operator_set = {s.ECDSA_SET}\ndepends_on = ["fetch price"]\n')
    wf = env.register(definition.phases_abi())
    ex, _ = env.execute(wf, b"\x01\x02")
    first = env.task(ex, 0)
    payload = bytes(env.mailbox.functions.getTaskInfo(first).call()[w.PAYLOAD_INDEX])
    phase = parse_envelope(payload, ("0x" + first.hex()).encode())
    assert (phase.workflow_id, phase.execution_id) == ("0x" + wf.hex(), "0x" + ex.hex())
    assert (phase.phase_index, phase.phase_name, phase.phase_type, phase.update) == (0, "fetch price", "IMMEDIATE", 0)
    assert phase.input == b"\x01\x02" and phase.dependencies == ()
    env.certify(first, b"price:5000")
    env.send(env.wsm.functions.completePhase(ex, 0), env.stranger)
    second = parse_envelope(bytes(env.mailbox.functions.getTaskInfo(env.task(ex, 1)).call()[w.PAYLOAD_INDEX]))
    assert (second.phase_index, second.phase_name, second.dependencies) == (1, "check", (b"price:5000",))
