// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IAVSTaskHook} from "./IAVSTaskHook.sol";

/// @notice Types of the workflow state machine (shared/docs/WORKFLOWS.md; same field and enum order as the
///         public "WorkflowStateMachine" proposal for Hourglass).
interface IWorkflowStateMachineTypes {
    enum PhaseType {
        IMMEDIATE,
        COORDINATION,
        CONTINUOUS,
        CONDITIONAL,
        AGGREGATION
    }

    enum PhaseStatus {
        PENDING,
        ACTIVE,
        COMPLETED,
        FAILED,
        CONDITIONAL_WAITING,
        TIMED_OUT
    }

    enum TriggerConditionType {
        NONE,
        PRICE_THRESHOLD,
        TIME_THRESHOLD,
        DATA_HASH,
        MULTI_SIG,
        ORACLE_VALUE
    }

    enum ExecutionStatus {
        NONE,
        RUNNING,
        COMPLETED,
        FAILED,
        CANCELLED
    }

    /// @param timeout seconds from the phase's start
    /// @param dependencies indices of earlier phases
    /// @param triggerCondition CONDITIONAL only: abi.encode(uint8 TriggerConditionType, bytes conditionData)
    /// @param metadata CONTINUOUS: abi.encode(uint32 intervalSeconds, uint32 requiredUpdates); free otherwise
    /// @param requiredStake minimum total stake weight of the operator set, checked at the phase's start
    /// @param consensusThreshold COORDINATION: signed stake share in basis points
    struct PhaseDefinition {
        string name;
        PhaseType phaseType;
        uint32 timeout;
        uint32[] dependencies;
        bytes triggerCondition;
        uint32 operatorSetId;
        bytes metadata;
        uint256 requiredStake;
        uint16 consensusThreshold;
    }

    struct WorkflowInfo {
        address creator;
        uint64 createdAt;
        string name;
        PhaseDefinition[] phases;
        address[] authorizedTriggers;
        uint256 executionCount;
    }

    struct ExecutionInfo {
        bytes32 workflowId;
        address creator;
        ExecutionStatus status;
        uint64 startedAt;
        uint64 endedAt;
        uint32 phaseCount;
        uint32 completedPhases;
        bytes payload;
    }

    /// @param deadline startedAt + timeout (0 before the phase starts)
    /// @param input the phase's own input: the trigger data of a CONDITIONAL phase (empty otherwise)
    /// @param failure why it failed: an ABI-encoded custom error of this contract (empty otherwise)
    struct PhaseState {
        PhaseStatus status;
        uint64 startedAt;
        uint64 endedAt;
        uint64 deadline;
        uint64 lastTaskAt;
        uint32 verifiedUpdates;
        bytes32[] taskHashes;
        bytes result;
        bytes input;
        bytes failure;
    }
}

interface IWorkflowStateMachineErrors is IWorkflowStateMachineTypes {
    // registration (each names the phase it rejects)
    error NoPhases();
    error TooManyPhases(uint256 count, uint256 maximum);
    error InvalidPhaseName(uint32 phase);
    error TooManyDependencies(uint32 phase, uint256 count, uint256 maximum);
    error InvalidDependency(uint32 phase, uint32 dependency);
    error ZeroTimeout(uint32 phase);
    error InvalidConsensusThreshold(uint32 phase, uint16 threshold);
    error InvalidTriggerCondition(uint32 phase);
    error UnknownConditionType(uint32 phase, uint256 conditionType);
    error InvalidContinuousMetadata(uint32 phase);
    error TooManyTriggers(uint256 count, uint256 maximum);
    // access and fees
    error NotAuthorizedCreator(address caller);
    error NotAuthorizedTrigger(address caller);
    error NotExecutionCreator(address caller);
    error InsufficientFee(uint256 required, uint256 provided);
    error FeeTransferFailed(address to, uint256 amount);
    error InvalidAddressZero();
    error OnlyMailbox();
    error OnlySelf();
    // lifecycle
    error UnknownWorkflow(bytes32 workflowId);
    error UnknownExecution(bytes32 executionId);
    error InvalidPhaseIndex(uint32 phase, uint256 phaseCount);
    error ExecutionNotRunning(bytes32 executionId, ExecutionStatus status);
    error InvalidPhaseStatus(uint32 phase, PhaseStatus actual);
    error WrongPhaseType(uint32 phase, PhaseType actual);
    error PhaseHasNoTask(uint32 phase);
    error PhaseTaskExists(uint32 phase);
    error TaskNotVerified(bytes32 taskHash, uint8 status);
    error ForeignTask(bytes32 taskHash);
    error PhaseDeadlinePassed(uint32 phase, uint256 deadline);
    error PhaseNotTimedOut(uint32 phase, uint256 deadline);
    error UpdateNotDue(uint32 phase, uint256 dueAt);
    error AllUpdatesCreated(uint32 phase, uint32 requiredUpdates);
    error NothingNewVerified(uint32 phase);
    error ConditionNotMet(uint32 phase, TriggerConditionType conditionType);
    error InvalidTriggerData(uint32 phase, TriggerConditionType conditionType);
    // failure reasons recorded in PhaseState.failure and PhaseFailed/WorkflowFailed (never reverted with)
    error ConsensusBelowThreshold(uint32 phase, uint256 signedBips, uint16 thresholdBips);
    error InsufficientStake(uint32 phase, uint256 required, uint256 available);
    error ExecutionStopped(uint32 phase);
}

interface IWorkflowStateMachineEvents is IWorkflowStateMachineTypes {
    event WorkflowRegistered(bytes32 indexed workflowId, address indexed creator, string name, uint32 phaseCount);
    event WorkflowExecutionStarted(
        bytes32 indexed workflowId, bytes32 indexed executionId, address indexed creator, bytes payload
    );
    /// @param taskHash the phase's first task, 0 when it has none yet (CONDITIONAL waiting, AGGREGATION without
    ///        an operator set, or a task deferred because the start happened inside the mailbox's submitResult)
    event PhaseStarted(bytes32 indexed executionId, uint32 indexed phaseIndex, PhaseType phaseType, bytes32 taskHash);
    event PhaseTaskCreated(bytes32 indexed executionId, uint32 indexed phaseIndex, uint32 update, bytes32 taskHash);
    /// @notice The phase is ACTIVE but its task could not be created in this transaction (the mailbox does not
    ///         allow createTask while it runs submitResult): anyone calls startPhaseTask / startContinuousUpdate.
    event PhaseTaskDeferred(bytes32 indexed executionId, uint32 indexed phaseIndex);
    event PhaseUpdateRecorded(
        bytes32 indexed executionId, uint32 indexed phaseIndex, uint32 update, bytes32 taskHash, uint32 verifiedUpdates
    );
    event PhaseCompleted(bytes32 indexed executionId, uint32 indexed phaseIndex, bytes result);
    /// @param reason an ABI-encoded custom error (ConsensusBelowThreshold, InsufficientStake, ExecutionStopped)
    event PhaseFailed(bytes32 indexed executionId, uint32 indexed phaseIndex, bytes reason);
    event PhaseTimedOut(bytes32 indexed executionId, uint32 indexed phaseIndex, uint256 deadline);
    event ConditionalTriggerActivated(
        bytes32 indexed executionId, uint32 indexed phaseIndex, address indexed caller, bytes data, bytes32 sourceTask
    );
    event WorkflowCompleted(bytes32 indexed workflowId, bytes32 indexed executionId);
    event WorkflowFailed(bytes32 indexed workflowId, bytes32 indexed executionId, uint32 phaseIndex, bytes reason);
    event WorkflowCancelled(bytes32 indexed workflowId, bytes32 indexed executionId, address caller);
    /// @notice A verified phase task's push (task hook) could not complete the phase; completePhase says why.
    event PhasePushFailed(bytes32 indexed taskHash, bytes reason);
    event FeesSet(uint256 creationFee, uint256 executionFee);
    event FeeCollectorSet(address feeCollector);
    event OpenRegistrationSet(bool open);
    event CreatorAuthorizationSet(address indexed creator, bool authorized);
}

/// @notice Multi-phase workflows over TaskMailbox tasks: phases complete only with results their operator set
///         certified on chain (read from the mailbox, never from a caller).
interface IWorkflowStateMachine is IWorkflowStateMachineErrors, IWorkflowStateMachineEvents, IAVSTaskHook {
    function registerWorkflow(string memory name, PhaseDefinition[] memory phases, address[] memory authorizedTriggers)
        external
        payable
        returns (bytes32 workflowId);

    function executeWorkflow(bytes32 workflowId, bytes memory payload) external payable returns (bytes32 executionId);

    function completePhase(bytes32 executionId, uint32 phaseIndex) external;

    function startPhaseTask(bytes32 executionId, uint32 phaseIndex) external returns (bytes32 taskHash);

    function startContinuousUpdate(bytes32 executionId, uint32 phaseIndex) external returns (bytes32 taskHash);

    function triggerConditionalPhase(bytes32 executionId, uint32 phaseIndex, bytes memory triggerData) external;

    function triggerFromTask(bytes32 executionId, uint32 phaseIndex, bytes32 taskHash) external;

    function checkPhaseTimeout(bytes32 executionId, uint32 phaseIndex) external;

    function cancelExecution(bytes32 executionId) external;

    // owner
    function setFees(uint256 creationFee, uint256 executionFee) external;

    function setFeeCollector(address feeCollector) external;

    function setOpenRegistration(bool open) external;

    function setCreatorAuthorization(address creator, bool authorized) external;

    // views
    function getWorkflow(bytes32 workflowId) external view returns (WorkflowInfo memory);

    function getWorkflowExecutions(bytes32 workflowId) external view returns (bytes32[] memory);

    function getExecution(bytes32 executionId) external view returns (ExecutionInfo memory);

    function getPhaseState(bytes32 executionId, uint32 phaseIndex) external view returns (PhaseState memory);

    function getPhaseStatuses(bytes32 executionId) external view returns (PhaseStatus[] memory);

    function getPhaseTaskHashes(bytes32 executionId, uint32 phaseIndex) external view returns (bytes32[] memory);

    function getPhaseResult(bytes32 executionId, uint32 phaseIndex) external view returns (bytes memory);

    function getTaskPhase(bytes32 taskHash)
        external
        view
        returns (bool known, bytes32 executionId, uint32 phaseIndex, uint32 update);

    function isAuthorizedTrigger(bytes32 workflowId, address account) external view returns (bool);

    function isAuthorizedCreator(address account) external view returns (bool);

    function mailbox() external view returns (address);

    function avs() external view returns (address);

    function openRegistration() external view returns (bool);

    function creationFee() external view returns (uint256);

    function executionFee() external view returns (uint256);

    function feeCollector() external view returns (address);
}
