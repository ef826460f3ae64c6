"""Our artifacts expose EigenLayer's external ABI: function selectors, events (with indexing), errors.

The expected signatures come from EigenLayer's generated Go bindings (pkg/bindings of
Layr-Labs/eigenlayer-contracts) and interfaces; the hex selector sets are read off the dispatch
tables in those bindings' deployed bytecode, so they are EigenLayer's compiler's own output.
"""

from __future__ import annotations

from typing import Any

import pytest
from eth_utils import keccak

from hourglass_cli.compiler import load_artifact

OPSET = "(address,uint32)"
G1 = "(uint256,uint256)"
G2 = "(uint256[2],uint256[2])"
BN254_INFO = f"({G1},uint256[])"
BN254_SET_INFO = f"(bytes32,uint256,{G1},uint256[])"
BN254_CERT = f"(uint32,bytes32,{G1},{G2},(uint32,bytes,{BN254_INFO})[])"
ECDSA_CERT = "(uint32,bytes32,bytes)"
ECDSA_INFO = "(address,uint256[])"
SET_CONFIG = "(address,uint32)"
TASK_CONFIG = "(address,uint96,address,uint8,address,(uint8,bytes),bytes)"

# Selectors in the dispatch table of EigenLayer's compiled TaskMailbox / BN254CertificateVerifier.
EIGENLAYER_TASK_MAILBOX_SELECTORS = {
    "1270a892", "1a20c505", "1ae370eb", "1fb66f5d", "2bf6cc79", "37eaa104", "468c07a0", "49acd884",
    "4ad52e02", "54743ad2", "62fee037", "6373ea69", "678fbdb3", "6bf6fad5", "708c0db9", "715018a6",
    "8da5cb5b", "a5fabc81", "b8694166", "d3e043aa", "f2fde38b", "f741e81a", "f7424fc9", "fa2c0b37",
}
EIGENLAYER_BN254_VERIFIER_SELECTORS = {
    "017d7974", "080b7150", "121409ea", "18467434", "1a18746c", "23c2a3cb", "26af6a3c", "538a3790",
    "54fd4d50", "5be87274", "5ddb9b5b", "6141879e", "6738c40b", "68d6e081", "7d1d1f5b", "84818920",
    "a2c902f5", "a2f2e24d", "cd83a72b", "dd2ae1b9", "eb39e68f",
}

FUNCTIONS = {
    "TaskMailbox": [
        "BN254_CERTIFICATE_VERIFIER()", "ECDSA_CERTIFICATE_VERIFIER()", "MAX_TASK_SLA()",
        f"createTask((address,{OPSET},bytes))", "feeSplit()", "feeSplitCollector()",
        f"getBN254CertificateBytes({BN254_CERT})", f"getECDSACertificateBytes({ECDSA_CERT})",
        f"getExecutorOperatorSetTaskConfig({OPSET})", "getMessageHash(bytes32,bytes)", "getTaskInfo(bytes32)",
        "getTaskResult(bytes32)", "getTaskStatus(bytes32)", "initialize(address,uint16,address)",
        "isExecutorOperatorSetRegistered(bytes32)", "owner()", "refundFee(bytes32)",
        f"registerExecutorOperatorSet({OPSET},bool)", "renounceOwnership()",
        f"setExecutorOperatorSetTaskConfig({OPSET},{TASK_CONFIG})", "setFeeSplit(uint16)",
        "setFeeSplitCollector(address)", "submitResult(bytes32,bytes,bytes)", "transferOwnership(address)",
    ],
    "BN254CertificateVerifier": [
        "OPERATOR_INFO_LEAF_SALT()", "OPERATOR_TABLE_LEAF_SALT()", "calculateCertificateDigest(uint32,bytes32)",
        f"calculateOperatorInfoLeaf({BN254_INFO})", "calculateOperatorTableLeaf(bytes)",
        f"getNonsignerOperatorInfo({OPSET},uint32,uint256)", f"getOperatorCount({OPSET},uint32)",
        f"getOperatorSetInfo({OPSET},uint32)", f"getOperatorSetOwner({OPSET})",
        f"getTotalStakeWeights({OPSET},uint32)", f"isNonsignerCached({OPSET},uint32,uint256)",
        f"isReferenceTimestampSet({OPSET},uint32)", f"latestReferenceTimestamp({OPSET})",
        f"maxOperatorTableStaleness({OPSET})", "operatorTableUpdater()",
        f"trySignatureVerification(bytes32,{G1},{G2},{G1})",
        f"updateOperatorTable({OPSET},uint32,{BN254_SET_INFO},{SET_CONFIG})",
        f"verifyCertificate({OPSET},{BN254_CERT})", f"verifyCertificateNominal({OPSET},{BN254_CERT},uint256[])",
        f"verifyCertificateProportion({OPSET},{BN254_CERT},uint16[])", "version()",
    ],
    "ECDSACertificateVerifier": [
        "calculateCertificateDigest(uint32,bytes32)", "calculateCertificateDigestBytes(uint32,bytes32)",
        "domainSeparator()", f"getOperatorCount({OPSET},uint32)", f"getOperatorInfo({OPSET},uint32,uint256)",
        f"getOperatorInfos({OPSET},uint32)", f"getOperatorSetOwner({OPSET})", f"getTotalStakeWeights({OPSET},uint32)",
        f"isReferenceTimestampSet({OPSET},uint32)", f"latestReferenceTimestamp({OPSET})",
        f"maxOperatorTableStaleness({OPSET})", "operatorTableUpdater()",
        f"updateOperatorTable({OPSET},uint32,{ECDSA_INFO}[],{SET_CONFIG})",
        f"verifyCertificate({OPSET},{ECDSA_CERT})", f"verifyCertificateNominal({OPSET},{ECDSA_CERT},uint256[])",
        f"verifyCertificateProportion({OPSET},{ECDSA_CERT},uint16[])", "version()",
    ],
    "KeyRegistrar": [
        f"configureOperatorSet({OPSET},uint8)", f"registerKey(address,{OPSET},bytes,bytes)",
        f"deregisterKey(address,{OPSET})", f"isRegistered({OPSET},address)", f"getOperatorSetCurveType({OPSET})",
        f"getBN254Key({OPSET},address)", f"getECDSAKey({OPSET},address)", f"getECDSAAddress({OPSET},address)",
        "isKeyGloballyRegistered(bytes32)", f"getKeyHash({OPSET},address)",
        f"getOperatorFromSigningKey({OPSET},bytes)", f"getECDSAKeyRegistrationMessageHash(address,{OPSET},address)",
        f"getBN254KeyRegistrationMessageHash(address,{OPSET},bytes)", f"encodeBN254KeyData({G1},{G2})",
        "ECDSA_KEY_REGISTRATION_TYPEHASH()", "BN254_KEY_REGISTRATION_TYPEHASH()", "domainSeparator()",
        "version()", f"checkKey({OPSET},address)",
    ],
    "TaskAVSRegistrar": [
        "registerOperator(address,address,uint32[],bytes)", "deregisterOperator(address,address,uint32[])",
        "supportsAVS(address)", "avs()", "keyRegistrar()", "allocationManager()", "getOperatorSocket(address)",
        "updateSocket(address,string)", f"addOperatorToAllowlist({OPSET},address)",
        f"removeOperatorFromAllowlist({OPSET},address)", f"isOperatorAllowed({OPSET},address)",
        f"getAllowedOperators({OPSET})", "setAvsConfig((uint32,uint32[]))", "getAvsConfig()", "owner()",
        "transferOwnership(address)",
    ],
    "AVSTaskHook": [
        f"validatePreTaskCreation(address,(address,{OPSET},bytes))", "handlePostTaskCreation(bytes32)",
        "validatePreTaskResultSubmission(address,bytes32,bytes,bytes)", "handlePostTaskResultSubmission(address,bytes32)",
        f"calculateTaskFee((address,{OPSET},bytes))",
    ],
}

# name(types) -> indexed flags, per contract.
EVENTS = {
    "TaskMailbox": {
        "ExecutorOperatorSetRegistered(address,address,uint32,bool)": [True, True, True, False],
        f"ExecutorOperatorSetTaskConfigSet(address,address,uint32,{TASK_CONFIG})": [True, True, True, False],
        "FeeRefunded(address,bytes32,uint96)": [True, True, False],
        "FeeSplitCollectorSet(address)": [True],
        "FeeSplitSet(uint16)": [False],
        "Initialized(uint8)": [False],
        "OwnershipTransferred(address,address)": [True, True],
        "TaskCreated(address,bytes32,address,uint32,uint32,address,uint96,uint256,bytes)":
            [True, True, True, False, False, False, False, False, False],
        "TaskVerified(address,bytes32,address,uint32,bytes,bytes)": [True, True, True, False, False, False],
    },
    "BN254CertificateVerifier": {
        f"MaxStalenessPeriodUpdated({OPSET},uint32)": [False, False],
        f"OperatorSetOwnerUpdated({OPSET},address)": [False, False],
        f"TableUpdated({OPSET},uint32,{BN254_SET_INFO})": [False, False, False],
    },
    "ECDSACertificateVerifier": {
        f"MaxStalenessPeriodUpdated({OPSET},uint32)": [False, False],
        f"OperatorSetOwnerUpdated({OPSET},address)": [False, False],
        f"TableUpdated({OPSET},uint32,{ECDSA_INFO}[])": [False, False, False],
    },
    "KeyRegistrar": {
        f"KeyRegistered({OPSET},address,uint8,bytes)": [False, True, False, False],
        f"KeyDeregistered({OPSET},address,uint8)": [False, True, False],
        f"OperatorSetConfigured({OPSET},uint8)": [False, False],
    },
    "TaskAVSRegistrar": {
        "AvsConfigSet(uint32,uint32[])": [False, False],
        "OperatorRegistered(address,uint32[])": [True, False],
        "OperatorDeregistered(address,uint32[])": [True, False],
        "OperatorSocketSet(address,string)": [True, False],
        f"OperatorAddedToAllowlist({OPSET},address)": [True, True],
        f"OperatorRemovedFromAllowlist({OPSET},address)": [True, True],
    },
}

ERRORS = {
    "TaskMailbox": [
        "CertificateStale()", "EmptyCertificateSignature()", "ExecutorOperatorSetNotRegistered()",
        "ExecutorOperatorSetTaskConfigNotSet()", "FeeAlreadyRefunded()", "InvalidAddressZero()",
        "InvalidConsensusType()", "InvalidConsensusValue()", "InvalidCurveType()", "InvalidFeeReceiver()",
        "InvalidFeeSplit()", "InvalidMessageHash()", "InvalidOperatorSetOwner()", "InvalidReferenceTimestamp()",
        "InvalidTaskCreator()", "InvalidTaskStatus(uint8,uint8)", "OnlyRefundCollector()", "PayloadIsEmpty()",
        "TaskSLAExceedsMaximum()", "ThresholdNotMet()", "TimestampAtCreation()",
    ],
    "BN254CertificateVerifier": [
        "ArrayLengthMismatch()", "CertificateStale()", "ECAddFailed()", "ECMulFailed()", "ECPairingFailed()",
        "EmptyRoot()", "ExpModFailed()", "InvalidIndex()", "InvalidOperatorIndex()", "InvalidProofLength()",
        "NonSignerIndicesNotSorted()", "OnlyTableUpdater()", "ReferenceTimestampDoesNotExist()", "RootDisabled()",
        "TableUpdateStale()", "VerificationFailed()",
    ],
    "ECDSACertificateVerifier": [
        "ArrayLengthMismatch()", "CertificateStale()", "InvalidSignature()", "InvalidSignatureLength()",
        "OnlyTableUpdater()", "OperatorCountZero()", "ReferenceTimestampDoesNotExist()", "RootDisabled()",
        "SignersNotOrdered()", "TableUpdateStale()", "VerificationFailed()",
    ],
    "KeyRegistrar": [
        "KeyAlreadyRegistered()", "InvalidKeyFormat()", "ZeroAddress()", "ZeroPubkey()", "InvalidCurveType()",
        "InvalidKeypair()", "ConfigurationAlreadySet()", "OperatorSetNotConfigured()",
        f"KeyNotFound({OPSET},address)", f"OperatorStillSlashable({OPSET},address)", "InvalidSignature()",
        "SignatureExpired()", "InvalidPermissions()",
    ],
    "TaskAVSRegistrar": [
        "InvalidAggregatorOperatorSetId()", "DuplicateExecutorOperatorSetId()", "ExecutorOperatorSetIdsEmpty()",
        "KeyNotRegistered()", "NotAllocationManager()", "OperatorAlreadyInAllowlist()", "OperatorNotInAllowlist()",
    ],
}


def _canonical(param: dict[str, Any]) -> str:
    kind: str = param["type"]
    if kind.startswith("tuple"):
        return "(" + ",".join(_canonical(c) for c in param["components"]) + ")" + kind[len("tuple"):]
    return kind


def _signatures(artifact: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {
        f"{item['name']}({','.join(_canonical(p) for p in item['inputs'])})": item
        for item in artifact["abi"]
        if item["type"] == kind
    }


def _selector(signature: str) -> str:
    return keccak(text=signature)[:4].hex()


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_functions_match_eigenlayer(name: str) -> None:
    ours = set(load_artifact(name)["methodIdentifiers"].values())
    missing = [sig for sig in FUNCTIONS[name] if _selector(sig) not in ours]
    assert not missing, f"{name} lacks {missing}"


def test_selector_tables_equal_eigenlayers_bytecode() -> None:
    """Every selector EigenLayer's compiled contracts dispatch on is one of ours, and vice versa
    for the TaskMailbox's ABI, except our additions (version, the devnet timing flag)."""
    mailbox = set(load_artifact("TaskMailbox")["methodIdentifiers"].values())
    assert EIGENLAYER_TASK_MAILBOX_SELECTORS <= mailbox
    assert mailbox - EIGENLAYER_TASK_MAILBOX_SELECTORS == {_selector("version()"), _selector("SAME_SECOND_RESULTS()")}
    verifier = set(load_artifact("BN254CertificateVerifier")["methodIdentifiers"].values())
    assert verifier == EIGENLAYER_BN254_VERIFIER_SELECTORS
    assert {_selector(sig) for sig in FUNCTIONS["TaskMailbox"]} == EIGENLAYER_TASK_MAILBOX_SELECTORS


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_events_match_eigenlayer(name: str) -> None:
    ours = _signatures(load_artifact(name), "event")
    for signature, indexed in EVENTS[name].items():
        assert signature in ours, f"{name} lacks event {signature}"
        assert [p["indexed"] for p in ours[signature]["inputs"]] == indexed, signature


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_match_eigenlayer(name: str) -> None:
    ours = _signatures(load_artifact(name), "error")
    missing = [sig for sig in ERRORS[name] if sig not in ours]
    assert not missing, f"{name} lacks errors {missing}"


def test_struct_layouts_match_eigenlayer() -> None:
    """Field order and names of the structs clients encode (Task, certificates, operator tables)."""
    mailbox = _signatures(load_artifact("TaskMailbox"), "function")
    task = next(i for i in load_artifact("TaskMailbox")["abi"] if i.get("name") == "getTaskInfo")["outputs"][0]
    assert [c["name"] for c in task["components"]] == [
        "creator", "creationTime", "avs", "avsFee", "refundCollector", "executorOperatorSetId", "feeSplit",
        "status", "isFeeRefunded", "operatorTableReferenceTimestamp", "executorOperatorSetTaskConfig",
        "payload", "executorCert", "result",
    ]
    cert = mailbox[f"getBN254CertificateBytes({BN254_CERT})"]["inputs"][0]
    assert [c["name"] for c in cert["components"]] == [
        "referenceTimestamp", "messageHash", "signature", "apk", "nonSignerWitnesses",
    ]
    assert [c["name"] for c in cert["components"][4]["components"]] == [
        "operatorIndex", "operatorInfoProof", "operatorInfo",
    ]
    config = mailbox[f"getExecutorOperatorSetTaskConfig({OPSET})"]
    assert config["outputs"][0]["components"][0]["internalType"] == "contract IAVSTaskHook"
