// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IERC20} from "./IERC20.sol";
import {IAVSTaskHook} from "./IAVSTaskHook.sol";
import {IBN254CertificateVerifierTypes} from "./IBN254CertificateVerifier.sol";
import {IECDSACertificateVerifierTypes} from "./IECDSACertificateVerifier.sol";
import {IKeyRegistrarTypes} from "./IKeyRegistrar.sol";
import {OperatorSet} from "../libraries/OperatorSetLib.sol";

interface ITaskMailboxTypes {
    enum ConsensusType {
        NONE,
        STAKE_PROPORTION_THRESHOLD
    }

    /// @param value abi.encode(uint16 bips) for STAKE_PROPORTION_THRESHOLD, empty for NONE
    struct Consensus {
        ConsensusType consensusType;
        bytes value;
    }

    struct ExecutorOperatorSetTaskConfig {
        IAVSTaskHook taskHook;
        uint96 taskSLA;
        IERC20 feeToken;
        IKeyRegistrarTypes.CurveType curveType;
        address feeCollector;
        Consensus consensus;
        bytes taskMetadata;
    }

    struct TaskParams {
        address refundCollector;
        OperatorSet executorOperatorSet;
        bytes payload;
    }

    enum TaskStatus {
        NONE,
        CREATED,
        VERIFIED,
        EXPIRED
    }

    struct Task {
        address creator;
        uint96 creationTime;
        address avs;
        uint96 avsFee;
        address refundCollector;
        uint32 executorOperatorSetId;
        uint16 feeSplit;
        TaskStatus status;
        bool isFeeRefunded;
        uint32 operatorTableReferenceTimestamp;
        ExecutorOperatorSetTaskConfig executorOperatorSetTaskConfig;
        bytes payload;
        bytes executorCert;
        bytes result;
    }
}

interface ITaskMailboxErrors is ITaskMailboxTypes {
    error ThresholdNotMet();
    error ExecutorOperatorSetNotRegistered();
    error ExecutorOperatorSetTaskConfigNotSet();
    error InvalidAddressZero();
    error InvalidCurveType();
    error InvalidTaskCreator();
    error InvalidTaskStatus(TaskStatus expected, TaskStatus actual);
    error PayloadIsEmpty();
    error TimestampAtCreation();
    error InvalidOperatorSetOwner();
    error InvalidConsensusType();
    error InvalidConsensusValue();
    error InvalidReferenceTimestamp();
    error EmptyCertificateSignature();
    error InvalidFeeReceiver();
    error FeeAlreadyRefunded();
    error OnlyRefundCollector();
    error InvalidFeeSplit();
    error InvalidMessageHash();
    error CertificateStale();
    error TaskSLAExceedsMaximum();
}

interface ITaskMailboxEvents is ITaskMailboxTypes {
    event ExecutorOperatorSetRegistered(
        address indexed caller, address indexed avs, uint32 indexed executorOperatorSetId, bool isRegistered
    );

    event ExecutorOperatorSetTaskConfigSet(
        address indexed caller,
        address indexed avs,
        uint32 indexed executorOperatorSetId,
        ExecutorOperatorSetTaskConfig config
    );

    event TaskCreated(
        address indexed creator,
        bytes32 indexed taskHash,
        address indexed avs,
        uint32 executorOperatorSetId,
        uint32 operatorTableReferenceTimestamp,
        address refundCollector,
        uint96 avsFee,
        uint256 taskDeadline,
        bytes payload
    );

    event TaskVerified(
        address indexed aggregator,
        bytes32 indexed taskHash,
        address indexed avs,
        uint32 executorOperatorSetId,
        bytes executorCert,
        bytes result
    );

    event FeeRefunded(address indexed refundCollector, bytes32 indexed taskHash, uint96 avsFee);

    event FeeSplitSet(uint16 feeSplit);

    event FeeSplitCollectorSet(address indexed feeSplitCollector);
}

/// @notice The task inbox of a chain: AVS apps create tasks, aggregators submit certified results.
interface ITaskMailbox is ITaskMailboxErrors, ITaskMailboxEvents {
    function initialize(address owner, uint16 feeSplit, address feeSplitCollector) external;

    function setExecutorOperatorSetTaskConfig(OperatorSet memory operatorSet, ExecutorOperatorSetTaskConfig memory config)
        external;

    function registerExecutorOperatorSet(OperatorSet memory operatorSet, bool isRegistered) external;

    function createTask(TaskParams memory taskParams) external returns (bytes32 taskHash);

    function submitResult(bytes32 taskHash, bytes memory executorCert, bytes memory result) external;

    function refundFee(bytes32 taskHash) external;

    function setFeeSplit(uint16 feeSplit) external;

    function setFeeSplitCollector(address feeSplitCollector) external;

    function isExecutorOperatorSetRegistered(bytes32 operatorSetKey) external view returns (bool);

    function getExecutorOperatorSetTaskConfig(OperatorSet memory operatorSet)
        external
        view
        returns (ExecutorOperatorSetTaskConfig memory);

    function getTaskInfo(bytes32 taskHash) external view returns (Task memory);

    function getTaskStatus(bytes32 taskHash) external view returns (TaskStatus);

    function getTaskResult(bytes32 taskHash) external view returns (bytes memory);

    function getMessageHash(bytes32 taskHash, bytes memory result) external pure returns (bytes32);

    function getBN254CertificateBytes(IBN254CertificateVerifierTypes.BN254Certificate memory cert)
        external
        pure
        returns (bytes memory);

    function getECDSACertificateBytes(IECDSACertificateVerifierTypes.ECDSACertificate memory cert)
        external
        pure
        returns (bytes memory);

    function feeSplit() external view returns (uint16);

    function feeSplitCollector() external view returns (address);

    function BN254_CERTIFICATE_VERIFIER() external view returns (address);

    function ECDSA_CERTIFICATE_VERIFIER() external view returns (address);

    function MAX_TASK_SLA() external view returns (uint96);
}
