// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IWorkflowStateMachineErrors} from "../interfaces/IWorkflowStateMachine.sol";
import {ECDSARecover} from "../libraries/ECDSARecover.sol";

/// @notice The stateless half of WorkflowStateMachine: the JSON task envelope, trigger-condition shapes and
///         checks, CONTINUOUS metadata. Its own contract so the state machine stays under the code size limit;
///         every function is a pure function of its arguments (and of block.timestamp / block.chainid).
contract WorkflowCodec is IWorkflowStateMachineErrors {
    uint256 public constant MAX_PHASES = 50;
    uint256 public constant MAX_DEPENDENCIES = 10;
    uint256 internal constant BIPS = 10_000;
    uint256 internal constant MAX_NAME_LENGTH = 64;
    uint256 internal constant MAX_SIGNERS = 32;
    uint256 internal constant CONDITION_TYPES = 6; // TriggerConditionType NONE … ORACLE_VALUE
    bytes32 internal constant HEX_DIGITS = "0123456789abcdef";

    struct EnvelopeFields {
        bytes32 workflowId;
        bytes32 executionId;
        uint32 phaseIndex;
        string name;
        uint8 phaseType;
        uint32 update;
        bytes input;
        bytes[] dependencyResults;
    }

    // ------------------------------------------------------------------------------------------ registration

    /// @notice Reverts with the custom error (naming the phase) of the first rule a definition breaks
    ///         (shared/docs/WORKFLOWS.md "Validation at registration").
    function validatePhases(PhaseDefinition[] memory phases) external pure {
        if (phases.length == 0) revert NoPhases();
        if (phases.length > MAX_PHASES) revert TooManyPhases(phases.length, MAX_PHASES);
        for (uint256 i = 0; i < phases.length; ++i) {
            PhaseDefinition memory p = phases[i];
            uint32 index = uint32(i);
            if (!isSafeName(p.name)) revert InvalidPhaseName(index);
            if (p.dependencies.length > MAX_DEPENDENCIES) {
                revert TooManyDependencies(index, p.dependencies.length, MAX_DEPENDENCIES);
            }
            for (uint256 j = 0; j < p.dependencies.length; ++j) {
                if (p.dependencies[j] >= index) revert InvalidDependency(index, p.dependencies[j]);
            }
            if (p.timeout == 0) revert ZeroTimeout(index);
            if (p.phaseType == PhaseType.COORDINATION && (p.consensusThreshold == 0 || p.consensusThreshold > BIPS)) {
                revert InvalidConsensusThreshold(index, p.consensusThreshold);
            }
            if (p.phaseType == PhaseType.CONDITIONAL) {
                (bool decodable, uint256 conditionType) = validateCondition(p.triggerCondition);
                if (conditionType > uint256(type(TriggerConditionType).max)) {
                    revert UnknownConditionType(index, conditionType);
                }
                if (!decodable) revert InvalidTriggerCondition(index);
            }
            if (p.phaseType == PhaseType.CONTINUOUS) {
                (uint32 interval, uint32 required, bool ok) = decodeContinuous(p.metadata);
                if (!ok || interval == 0 || required == 0) revert InvalidContinuousMetadata(index);
            }
        }
    }

    // ------------------------------------------------------------------------------------------ envelope

    /// @notice The task payload a performer recognises:
    ///         {"hourglass_workflow":1,"workflow":"0x…","execution":"0x…","phase":I,"name":"…","type":"…",
    ///          "update":N,"input":"0x…","dependencies":["0x…",…]} (no whitespace; names need no escaping).
    function envelope(EnvelopeFields memory f) external pure returns (bytes memory) {
        bytes memory deps = "[";
        for (uint256 j = 0; j < f.dependencyResults.length; ++j) {
            deps = abi.encodePacked(deps, j == 0 ? bytes("") : bytes(","), '"', _hex(f.dependencyResults[j]), '"');
        }
        bytes memory head = abi.encodePacked(
            '{"hourglass_workflow":1,"workflow":"',
            _hex(abi.encodePacked(f.workflowId)),
            '","execution":"',
            _hex(abi.encodePacked(f.executionId)),
            '","phase":',
            _decimal(f.phaseIndex),
            ',"name":"',
            bytes(f.name),
            '","type":"',
            _typeName(f.phaseType)
        );
        return abi.encodePacked(
            head, '","update":', _decimal(f.update), ',"input":"', _hex(f.input), '","dependencies":', deps, "]}"
        );
    }

    /// @notice Phase names go into the envelope unescaped: 1–64 bytes of printable ASCII without `"` and `\`.
    function isSafeName(string memory name) public pure returns (bool) {
        bytes memory b = bytes(name);
        if (b.length == 0 || b.length > MAX_NAME_LENGTH) return false;
        for (uint256 i = 0; i < b.length; ++i) {
            bytes1 c = b[i];
            if (c < 0x20 || c > 0x7e || c == '"' || c == "\\") return false;
        }
        return true;
    }

    function _typeName(uint8 phaseType) internal pure returns (string memory) {
        if (phaseType == 0) return "IMMEDIATE";
        if (phaseType == 1) return "COORDINATION";
        if (phaseType == 2) return "CONTINUOUS";
        if (phaseType == 3) return "CONDITIONAL";
        return "AGGREGATION";
    }

    /// @dev "0x" and two lowercase hex digits per byte.
    function _hex(bytes memory data) internal pure returns (bytes memory out) {
        bytes32 digits = HEX_DIGITS;
        assembly ("memory-safe") {
            let len := mload(data)
            let outLen := add(2, mul(len, 2))
            out := mload(0x40)
            mstore(out, outLen)
            mstore8(add(out, 32), 0x30)
            mstore8(add(out, 33), 0x78)
            let src := add(data, 32)
            let dst := add(out, 34)
            for { let i := 0 } lt(i, len) { i := add(i, 1) } {
                let b := byte(0, mload(add(src, i)))
                mstore8(dst, byte(shr(4, b), digits))
                mstore8(add(dst, 1), byte(and(b, 15), digits))
                dst := add(dst, 2)
            }
            mstore(0x40, and(add(add(out, add(outLen, 32)), 31), not(31)))
        }
    }

    function _decimal(uint256 value) internal pure returns (bytes memory out) {
        if (value == 0) return "0";
        uint256 digits;
        for (uint256 v = value; v != 0; v /= 10) {
            ++digits;
        }
        out = new bytes(digits);
        for (; value != 0; value /= 10) {
            out[--digits] = bytes1(uint8(48 + (value % 10)));
        }
    }

    // ------------------------------------------------------------------------------------------ CONTINUOUS

    /// @notice abi.encode(uint32 intervalSeconds, uint32 requiredUpdates); ok is false for any other shape.
    function decodeContinuous(bytes memory metadata)
        public
        pure
        returns (uint32 interval, uint32 requiredUpdates, bool ok)
    {
        if (metadata.length != 64) return (0, 0, false);
        (uint256 a, uint256 b) = abi.decode(metadata, (uint256, uint256));
        if (a > type(uint32).max || b > type(uint32).max) return (0, 0, false);
        return (uint32(a), uint32(b), true);
    }

    // ------------------------------------------------------------------------------------------ conditions

    /// @notice Checks a trigger condition's shape: abi.encode(uint8 conditionType, bytes conditionData) with
    ///         conditionData as docs/workflows.md gives for its type. conditionType is returned as read (a value
    ///         of 6 or more is an unknown type).
    function validateCondition(bytes memory condition) public pure returns (bool decodable, uint256 conditionType) {
        if (condition.length < 96) return (false, 0);
        uint256 offset;
        uint256 length;
        assembly ("memory-safe") {
            conditionType := mload(add(condition, 32))
            offset := mload(add(condition, 64))
            length := mload(add(condition, 96))
        }
        if (conditionType >= CONDITION_TYPES) return (false, conditionType);
        if (offset != 64 || length > condition.length || condition.length != 96 + ((length + 31) / 32) * 32) {
            return (false, conditionType);
        }
        (, bytes memory data) = abi.decode(condition, (uint8, bytes));
        return (_validParams(conditionType, data), conditionType);
    }

    function _validParams(uint256 conditionType, bytes memory data) internal pure returns (bool) {
        if (conditionType == 0) return data.length == 0; // NONE
        if (conditionType == 1) {
            // PRICE_THRESHOLD (uint256 threshold, bool above)
            if (data.length != 64) return false;
            (, uint256 above) = abi.decode(data, (uint256, uint256));
            return above <= 1;
        }
        if (conditionType == 2 || conditionType == 3) return data.length == 32; // TIME_THRESHOLD, DATA_HASH
        if (conditionType == 5) return data.length == 64; // ORACLE_VALUE (uint256 expected, uint256 tolerance)
        return _validMultiSig(data);
    }

    /// @dev MULTI_SIG (address[] signers, uint8 required): 0 < required ≤ signers ≤ 32, distinct, non-zero.
    function _validMultiSig(bytes memory data) internal pure returns (bool) {
        if (data.length < 96) return false;
        (uint256 offset, uint256 required) = abi.decode(data, (uint256, uint256));
        if (offset != 64) return false;
        uint256 count;
        assembly ("memory-safe") {
            count := mload(add(data, 96))
        }
        if (count > MAX_SIGNERS || data.length != 96 + 32 * count) return false;
        if (required == 0 || required > count) return false;
        for (uint256 i = 0; i < count; ++i) {
            uint256 word;
            assembly ("memory-safe") {
                word := mload(add(data, add(128, mul(i, 32))))
            }
            if (word == 0 || word > type(uint160).max) return false;
            for (uint256 k = 0; k < i; ++k) {
                uint256 other;
                assembly ("memory-safe") {
                    other := mload(add(data, add(128, mul(k, 32))))
                }
                if (other == word) return false;
            }
        }
        return true;
    }

    /// @notice Evaluates a (registered, hence well-shaped) condition against trigger data. `data` is what the
    ///         phase's task gets as input: the trigger data, or for MULTI_SIG the signed data inside it.
    function checkCondition(
        bytes memory condition,
        bytes memory triggerData,
        address stateMachine,
        bytes32 executionId,
        uint32 phaseIndex
    ) external view returns (uint8 conditionType, bool met, bool wellFormed, bytes memory data) {
        bytes memory params;
        (conditionType, params) = abi.decode(condition, (uint8, bytes));
        data = triggerData;
        wellFormed = true;
        if (conditionType == 0) {
            met = true;
        } else if (conditionType == 1) {
            (uint256 threshold, bool above) = abi.decode(params, (uint256, bool));
            if (triggerData.length != 32) return (conditionType, false, false, data);
            uint256 price = abi.decode(triggerData, (uint256));
            met = above ? price >= threshold : price <= threshold;
        } else if (conditionType == 2) {
            met = block.timestamp >= abi.decode(params, (uint256));
        } else if (conditionType == 3) {
            met = keccak256(triggerData) == abi.decode(params, (bytes32));
        } else if (conditionType == 4) {
            bytes[] memory signatures;
            try this.decodeMultiSigData(triggerData) returns (bytes memory inner, bytes[] memory sigs) {
                data = inner;
                signatures = sigs;
            } catch {
                return (conditionType, false, false, triggerData);
            }
            (address[] memory signers, uint8 required) = abi.decode(params, (address[], uint8));
            bytes32 digest = multiSigDigest(stateMachine, executionId, phaseIndex, keccak256(data));
            met = _distinctSigners(digest, signatures, signers) >= required;
        } else {
            (uint256 expected, uint256 tolerance) = abi.decode(params, (uint256, uint256));
            if (triggerData.length != 32) return (conditionType, false, false, data);
            uint256 value = abi.decode(triggerData, (uint256));
            met = (value >= expected ? value - expected : expected - value) <= tolerance;
        }
    }

    /// @notice MULTI_SIG trigger data: abi.encode(bytes data, bytes[] signatures), 65-byte r‖s‖v each.
    function decodeMultiSigData(bytes memory triggerData)
        external
        pure
        returns (bytes memory data, bytes[] memory signatures)
    {
        return abi.decode(triggerData, (bytes, bytes[]));
    }

    /// @notice What each MULTI_SIG signer signs (EIP-191 personal message of a 32-byte hash):
    ///         keccak256("\x19Ethereum Signed Message:\n32" ‖ keccak256(abi.encode(stateMachine, chainid,
    ///         executionId, phaseIndex, keccak256(data)))).
    function multiSigDigest(address stateMachine, bytes32 executionId, uint32 phaseIndex, bytes32 dataHash)
        public
        view
        returns (bytes32)
    {
        bytes32 inner = keccak256(abi.encode(stateMachine, block.chainid, executionId, phaseIndex, dataHash));
        return keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", inner));
    }

    /// @dev How many of `signers` signed `digest` (each counted once, whatever the order or repetition).
    function _distinctSigners(bytes32 digest, bytes[] memory signatures, address[] memory signers)
        internal
        pure
        returns (uint256 count)
    {
        uint256 seen;
        for (uint256 i = 0; i < signatures.length; ++i) {
            address signer = ECDSARecover.tryRecover(digest, signatures[i]);
            if (signer == address(0)) continue;
            for (uint256 k = 0; k < signers.length; ++k) {
                if (signers[k] == signer) {
                    if (seen & (1 << k) == 0) {
                        seen |= 1 << k;
                        ++count;
                    }
                    break;
                }
            }
        }
    }
}
