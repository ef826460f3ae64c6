// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {ITaskMailbox, ITaskMailboxTypes} from "../interfaces/ITaskMailbox.sol";
import {IWorkflowStateMachine} from "../interfaces/IWorkflowStateMachine.sol";
import {OperatorSet} from "../libraries/OperatorSetLib.sol";
import {Ownable} from "../mixins/Ownable.sol";
import {WorkflowCodec} from "./WorkflowCodec.sol";
import {WorkflowStake} from "./WorkflowStake.sol";

/// @notice Registered multi-phase workflows whose phases are TaskMailbox tasks of one AVS (docs/workflows.md).
/// @dev Results are only ever read from the mailbox (VERIFIED tasks this contract created). The contract is
///      also an IAVSTaskHook: as an executor set's hook it completes phases inside submitResult (push), and
///      completePhase does the same later for anyone (pull). The mailbox is nonReentrant, so a phase started
///      by a push cannot create its task in that transaction: it is ACTIVE with PhaseTaskDeferred, and
///      startPhaseTask / startContinuousUpdate create it.
contract WorkflowStateMachine is IWorkflowStateMachine, Ownable {
    uint256 public constant MAX_TRIGGERS = 32;
    uint256 internal constant BIPS = 10_000;

    struct Workflow {
        address creator;
        uint64 createdAt;
        string name;
        PhaseDefinition[] phases;
        address[] authorizedTriggers;
        bytes32[] executionIds;
    }

    struct Execution {
        bytes32 workflowId;
        address creator;
        ExecutionStatus status;
        uint64 startedAt;
        uint64 endedAt;
        uint32 completedPhases;
        bytes payload;
    }

    struct TaskRef {
        bytes32 executionId;
        uint32 phaseIndex;
        uint32 update;
        bool known;
        bool recorded;
    }

    /// @inheritdoc IWorkflowStateMachine
    address public immutable mailbox;
    /// @inheritdoc IWorkflowStateMachine
    address public immutable avs;
    /// @notice Envelope building and trigger-condition checks, deployed by the constructor (keeps this
    ///         contract under the 24 KB code limit).
    WorkflowCodec public immutable codec;
    /// @notice Reads operator tables and stored certificates (stake totals, signed shares); same reason.
    WorkflowStake public immutable stake;

    /// @inheritdoc IWorkflowStateMachine
    bool public openRegistration;
    /// @inheritdoc IWorkflowStateMachine
    uint256 public creationFee;
    /// @inheritdoc IWorkflowStateMachine
    uint256 public executionFee;
    /// @inheritdoc IWorkflowStateMachine
    address public feeCollector;
    uint256 public workflowCount;
    uint256 public executionCount;

    mapping(address => bool) internal _authorizedCreators;
    mapping(bytes32 => Workflow) internal _workflows;
    mapping(bytes32 => mapping(address => bool)) internal _isTrigger;
    mapping(bytes32 => Execution) internal _executions;
    mapping(bytes32 => mapping(uint256 => PhaseState)) internal _phases;
    mapping(bytes32 => TaskRef) internal _taskRefs;

    /// @dev ReentrancyGuard's rule, with the body in functions: the modifier is on ten functions and the
    ///      contract is near the code size limit.
    uint256 private _entered = 1;

    modifier nonReentrant() {
        _enter();
        _;
        _entered = 1;
    }

    function _enter() private {
        require(_entered == 1, "ReentrancyGuard: reentrant call");
        _entered = 2;
    }

    modifier onlyMailbox() {
        if (msg.sender != mailbox) revert OnlyMailbox();
        _;
    }

    constructor(
        address _mailbox,
        address _avs,
        address _owner,
        address _feeCollector,
        uint256 _creationFee,
        uint256 _executionFee,
        bool _openRegistration
    ) {
        if (_mailbox == address(0) || _avs == address(0) || _owner == address(0) || _feeCollector == address(0)) {
            revert InvalidAddressZero();
        }
        mailbox = _mailbox;
        avs = _avs;
        codec = new WorkflowCodec();
        stake = new WorkflowStake();
        _transferOwnership(_owner);
        feeCollector = _feeCollector;
        creationFee = _creationFee;
        executionFee = _executionFee;
        openRegistration = _openRegistration;
        emit FeeCollectorSet(_feeCollector);
        emit FeesSet(_creationFee, _executionFee);
        emit OpenRegistrationSet(_openRegistration);
    }

    // ------------------------------------------------------------------------------------------ owner

    /// @inheritdoc IWorkflowStateMachine
    function setFees(uint256 _creationFee, uint256 _executionFee) external onlyOwner {
        creationFee = _creationFee;
        executionFee = _executionFee;
        emit FeesSet(_creationFee, _executionFee);
    }

    /// @inheritdoc IWorkflowStateMachine
    function setFeeCollector(address _feeCollector) external onlyOwner {
        if (_feeCollector == address(0)) revert InvalidAddressZero();
        feeCollector = _feeCollector;
        emit FeeCollectorSet(_feeCollector);
    }

    /// @inheritdoc IWorkflowStateMachine
    function setOpenRegistration(bool open) external onlyOwner {
        openRegistration = open;
        emit OpenRegistrationSet(open);
    }

    /// @inheritdoc IWorkflowStateMachine
    function setCreatorAuthorization(address creator, bool authorized) external onlyOwner {
        _authorizedCreators[creator] = authorized;
        emit CreatorAuthorizationSet(creator, authorized);
    }

    // ------------------------------------------------------------------------------------------ registration

    /// @inheritdoc IWorkflowStateMachine
    function registerWorkflow(string memory name, PhaseDefinition[] memory phases, address[] memory authorizedTriggers)
        external
        payable
        nonReentrant
        returns (bytes32 workflowId)
    {
        if (!openRegistration && !_authorizedCreators[msg.sender] && msg.sender != owner()) {
            revert NotAuthorizedCreator(msg.sender);
        }
        codec.validatePhases(phases);
        if (authorizedTriggers.length > MAX_TRIGGERS) revert TooManyTriggers(authorizedTriggers.length, MAX_TRIGGERS);

        workflowId = keccak256(abi.encode(address(this), block.chainid, ++workflowCount, msg.sender, name));
        Workflow storage w = _workflows[workflowId];
        w.creator = msg.sender;
        w.createdAt = uint64(block.timestamp);
        w.name = name;
        for (uint256 i = 0; i < phases.length; ++i) {
            w.phases.push(phases[i]);
        }
        for (uint256 i = 0; i < authorizedTriggers.length; ++i) {
            if (!_isTrigger[workflowId][authorizedTriggers[i]]) {
                _isTrigger[workflowId][authorizedTriggers[i]] = true;
                w.authorizedTriggers.push(authorizedTriggers[i]);
            }
        }
        emit WorkflowRegistered(workflowId, msg.sender, name, uint32(phases.length));
        _collectFee(creationFee);
    }

    /// @dev Forwards `fee` to the fee collector and refunds the rest of msg.value. Called last (after effects).
    function _collectFee(uint256 fee) internal {
        if (msg.value < fee) revert InsufficientFee(fee, msg.value);
        if (fee > 0) _pay(feeCollector, fee);
        if (msg.value > fee) _pay(msg.sender, msg.value - fee);
    }

    function _pay(address to, uint256 amount) internal {
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert FeeTransferFailed(to, amount);
    }

    // ------------------------------------------------------------------------------------------ execution

    /// @inheritdoc IWorkflowStateMachine
    function executeWorkflow(bytes32 workflowId, bytes memory payload)
        external
        payable
        nonReentrant
        returns (bytes32 executionId)
    {
        Workflow storage w = _workflows[workflowId];
        if (w.creator == address(0)) revert UnknownWorkflow(workflowId);
        // The global counter makes ids unique per call, also for two executions in one block.
        executionId = keccak256(abi.encode(address(this), block.chainid, workflowId, ++executionCount, msg.sender));
        Execution storage e = _executions[executionId];
        e.workflowId = workflowId;
        e.creator = msg.sender;
        e.status = ExecutionStatus.RUNNING;
        e.startedAt = uint64(block.timestamp);
        e.payload = payload;
        w.executionIds.push(executionId);
        emit WorkflowExecutionStarted(workflowId, executionId, msg.sender, payload);
        _advance(executionId, false);
        _collectFee(executionFee);
    }

    /// @inheritdoc IWorkflowStateMachine
    function cancelExecution(bytes32 executionId) external nonReentrant {
        Execution storage e = _runningExecution(executionId);
        if (msg.sender != e.creator && msg.sender != _workflows[e.workflowId].creator) {
            revert NotExecutionCreator(msg.sender);
        }
        e.status = ExecutionStatus.CANCELLED;
        e.endedAt = uint64(block.timestamp);
        _stopOpenPhases(executionId, type(uint32).max);
        emit WorkflowCancelled(e.workflowId, executionId, msg.sender);
    }

    /// @dev Starts every PENDING phase whose dependencies are all COMPLETED. Dependencies point to earlier
    ///      indices, so one forward pass also starts phases unblocked by phases completed during the pass.
    function _advance(bytes32 executionId, bool deferTasks) internal {
        Execution storage e = _executions[executionId];
        PhaseDefinition[] storage defs = _workflows[e.workflowId].phases;
        for (uint256 i = 0; i < defs.length; ++i) {
            if (e.status != ExecutionStatus.RUNNING) return;
            if (_phases[executionId][i].status != PhaseStatus.PENDING || _phases[executionId][i].startedAt != 0) {
                continue;
            }
            uint32[] storage deps = defs[i].dependencies;
            bool ready = true;
            for (uint256 j = 0; j < deps.length && ready; ++j) {
                ready = _phases[executionId][deps[j]].status == PhaseStatus.COMPLETED;
            }
            if (ready) _startPhase(executionId, uint32(i), deferTasks);
        }
    }

    function _startPhase(bytes32 executionId, uint32 index, bool deferTasks) internal {
        PhaseDefinition storage def = _definition(executionId, index);
        PhaseState storage ps = _phases[executionId][index];
        ps.startedAt = uint64(block.timestamp);
        ps.deadline = uint64(block.timestamp) + def.timeout;
        PhaseType kind = def.phaseType;
        bool runsTask = !(kind == PhaseType.AGGREGATION && def.operatorSetId == 0);

        if (runsTask && def.requiredStake > 0) {
            uint256 available = stake.totalStake(mailbox, avs, def.operatorSetId);
            if (available < def.requiredStake) {
                _failPhase(
                    executionId, index, abi.encodeWithSelector(InsufficientStake.selector, index, def.requiredStake, available)
                );
                return;
            }
        }
        if (kind == PhaseType.CONDITIONAL) {
            ps.status = PhaseStatus.CONDITIONAL_WAITING;
            emit PhaseStarted(executionId, index, kind, bytes32(0));
            return;
        }
        ps.status = PhaseStatus.ACTIVE;
        if (!runsTask) {
            emit PhaseStarted(executionId, index, kind, bytes32(0));
            _completePhase(executionId, index, abi.encode(_dependencyResults(executionId, index)), deferTasks);
            return;
        }
        if (deferTasks) {
            emit PhaseStarted(executionId, index, kind, bytes32(0));
            emit PhaseTaskDeferred(executionId, index);
            return;
        }
        bytes32 taskHash = _createPhaseTask(executionId, index);
        emit PhaseStarted(executionId, index, kind, taskHash);
    }

    /// @inheritdoc IWorkflowStateMachine
    function startPhaseTask(bytes32 executionId, uint32 phaseIndex) external nonReentrant returns (bytes32 taskHash) {
        _runningExecution(executionId);
        PhaseDefinition storage def = _definition(executionId, phaseIndex);
        PhaseState storage ps = _phases[executionId][phaseIndex];
        if (ps.status != PhaseStatus.ACTIVE) revert InvalidPhaseStatus(phaseIndex, ps.status);
        if (def.phaseType == PhaseType.CONTINUOUS) revert WrongPhaseType(phaseIndex, def.phaseType);
        if (ps.taskHashes.length != 0) revert PhaseTaskExists(phaseIndex);
        if (block.timestamp > ps.deadline) revert PhaseDeadlinePassed(phaseIndex, ps.deadline);
        taskHash = _createPhaseTask(executionId, phaseIndex);
    }

    /// @inheritdoc IWorkflowStateMachine
    function startContinuousUpdate(bytes32 executionId, uint32 phaseIndex)
        external
        nonReentrant
        returns (bytes32 taskHash)
    {
        _runningExecution(executionId);
        PhaseDefinition storage def = _definition(executionId, phaseIndex);
        PhaseState storage ps = _phases[executionId][phaseIndex];
        if (def.phaseType != PhaseType.CONTINUOUS) revert WrongPhaseType(phaseIndex, def.phaseType);
        if (ps.status != PhaseStatus.ACTIVE) revert InvalidPhaseStatus(phaseIndex, ps.status);
        if (block.timestamp > ps.deadline) revert PhaseDeadlinePassed(phaseIndex, ps.deadline);
        taskHash = _createPhaseTask(executionId, phaseIndex);
    }

    /// @dev Creates the phase's next task through the mailbox. A CONTINUOUS phase gets update N only once
    ///      `interval` has passed since update N-1 and while fewer than requiredUpdates exist, so each slot has
    ///      exactly one task whoever calls and however often.
    function _createPhaseTask(bytes32 executionId, uint32 index) internal returns (bytes32 taskHash) {
        PhaseDefinition storage def = _definition(executionId, index);
        PhaseState storage ps = _phases[executionId][index];
        uint32 update = uint32(ps.taskHashes.length);
        bytes memory input;
        if (def.phaseType == PhaseType.CONTINUOUS) {
            (uint32 interval, uint32 required,) = codec.decodeContinuous(def.metadata);
            if (update >= required) revert AllUpdatesCreated(index, required);
            if (update > 0 && block.timestamp < uint256(ps.lastTaskAt) + interval) {
                revert UpdateNotDue(index, uint256(ps.lastTaskAt) + interval);
            }
            input = _executions[executionId].payload;
        } else if (def.phaseType == PhaseType.CONDITIONAL) {
            input = ps.input;
        } else if (def.phaseType == PhaseType.AGGREGATION) {
            input = abi.encode(_dependencyResults(executionId, index));
        } else {
            input = _executions[executionId].payload;
        }
        bytes memory payload = codec.envelope(
            WorkflowCodec.EnvelopeFields({
                workflowId: _executions[executionId].workflowId,
                executionId: executionId,
                phaseIndex: index,
                name: def.name,
                phaseType: uint8(def.phaseType),
                update: update,
                input: input,
                dependencyResults: _dependencyResults(executionId, index)
            })
        );
        taskHash = ITaskMailbox(mailbox).createTask(
            ITaskMailboxTypes.TaskParams({
                refundCollector: _executions[executionId].creator,
                executorOperatorSet: OperatorSet(avs, def.operatorSetId),
                payload: payload
            })
        );
        ps.taskHashes.push(taskHash);
        ps.lastTaskAt = uint64(block.timestamp);
        _taskRefs[taskHash] = TaskRef(executionId, index, update, true, false);
        emit PhaseTaskCreated(executionId, index, update, taskHash);
    }

    function _dependencyResults(bytes32 executionId, uint32 index) internal view returns (bytes[] memory results) {
        uint32[] storage deps = _definition(executionId, index).dependencies;
        results = new bytes[](deps.length);
        for (uint256 j = 0; j < deps.length; ++j) {
            results[j] = _phases[executionId][deps[j]].result;
        }
    }

    // ------------------------------------------------------------------------------------------ completion

    /// @inheritdoc IWorkflowStateMachine
    function completePhase(bytes32 executionId, uint32 phaseIndex) external nonReentrant {
        _complete(executionId, phaseIndex, bytes32(0), false);
    }

    /// @dev The push path's body, run through an external self-call so that its revert never reaches the
    ///      mailbox (a hook that reverts would block submitResult for everyone).
    function pushTaskResult(bytes32 taskHash) external nonReentrant {
        if (msg.sender != address(this)) revert OnlySelf();
        TaskRef storage ref = _taskRefs[taskHash];
        _complete(ref.executionId, ref.phaseIndex, taskHash, true);
    }

    /// @dev Completes phase `index` from its VERIFIED task (`taskHash`, or the phase's own for a pull). For a
    ///      CONTINUOUS phase, records every newly verified update and completes after requiredUpdates.
    function _complete(bytes32 executionId, uint32 index, bytes32 taskHash, bool pushed) internal {
        _runningExecution(executionId);
        PhaseDefinition storage def = _definition(executionId, index);
        PhaseState storage ps = _phases[executionId][index];
        if (ps.status != PhaseStatus.ACTIVE) revert InvalidPhaseStatus(index, ps.status);
        if (ps.taskHashes.length == 0) revert PhaseHasNoTask(index);
        if (block.timestamp > ps.deadline) revert PhaseDeadlinePassed(index, ps.deadline);

        if (def.phaseType == PhaseType.CONTINUOUS) {
            _recordUpdates(executionId, index, def, ps, taskHash, pushed);
            return;
        }
        bytes32 own = ps.taskHashes[0];
        if (taskHash != bytes32(0) && taskHash != own) revert ForeignTask(taskHash);
        bytes memory result = _verifiedResult(own);
        if (def.phaseType == PhaseType.COORDINATION) {
            uint256 signed;
            uint256 total;
            (signed, total) = stake.signedStake(mailbox, own);
            if (total == 0 || signed * BIPS < uint256(def.consensusThreshold) * total) {
                uint256 bips = total == 0 ? 0 : (signed * BIPS) / total;
                _failPhase(
                    executionId,
                    index,
                    abi.encodeWithSelector(ConsensusBelowThreshold.selector, index, bips, def.consensusThreshold)
                );
                return;
            }
        }
        _completePhase(executionId, index, result, pushed);
    }

    function _recordUpdates(
        bytes32 executionId,
        uint32 index,
        PhaseDefinition storage def,
        PhaseState storage ps,
        bytes32 taskHash,
        bool pushed
    ) internal {
        (, uint32 required,) = codec.decodeContinuous(def.metadata);
        bool progressed;
        for (uint256 n = 0; n < ps.taskHashes.length; ++n) {
            bytes32 h = ps.taskHashes[n];
            if (taskHash != bytes32(0) && h != taskHash) continue;
            TaskRef storage ref = _taskRefs[h];
            if (ref.recorded) continue;
            if (ITaskMailbox(mailbox).getTaskStatus(h) != ITaskMailboxTypes.TaskStatus.VERIFIED) continue;
            ref.recorded = true;
            ps.verifiedUpdates += 1;
            progressed = true;
            emit PhaseUpdateRecorded(executionId, index, uint32(n), h, ps.verifiedUpdates);
        }
        if (!progressed) revert NothingNewVerified(index);
        if (ps.verifiedUpdates < required) return;
        bytes[] memory results = new bytes[](required);
        for (uint256 n = 0; n < required; ++n) {
            results[n] = ITaskMailbox(mailbox).getTaskResult(ps.taskHashes[n]);
        }
        _completePhase(executionId, index, abi.encode(results), pushed);
    }

    function _verifiedResult(bytes32 taskHash) internal view returns (bytes memory) {
        ITaskMailboxTypes.TaskStatus status = ITaskMailbox(mailbox).getTaskStatus(taskHash);
        if (status != ITaskMailboxTypes.TaskStatus.VERIFIED) revert TaskNotVerified(taskHash, uint8(status));
        return ITaskMailbox(mailbox).getTaskResult(taskHash);
    }

    function _completePhase(bytes32 executionId, uint32 index, bytes memory result, bool deferTasks) internal {
        PhaseState storage ps = _phases[executionId][index];
        ps.status = PhaseStatus.COMPLETED;
        ps.endedAt = uint64(block.timestamp);
        ps.result = result;
        emit PhaseCompleted(executionId, index, result);
        Execution storage e = _executions[executionId];
        e.completedPhases += 1;
        if (e.completedPhases == _workflows[e.workflowId].phases.length) {
            e.status = ExecutionStatus.COMPLETED;
            e.endedAt = uint64(block.timestamp);
            emit WorkflowCompleted(e.workflowId, executionId);
            return;
        }
        _advance(executionId, deferTasks);
    }

    function _failPhase(bytes32 executionId, uint32 index, bytes memory reason) internal {
        PhaseState storage ps = _phases[executionId][index];
        ps.status = PhaseStatus.FAILED;
        ps.endedAt = uint64(block.timestamp);
        ps.failure = reason;
        emit PhaseFailed(executionId, index, reason);
        _failExecution(executionId, index, reason);
    }

    function _failExecution(bytes32 executionId, uint32 index, bytes memory reason) internal {
        Execution storage e = _executions[executionId];
        e.status = ExecutionStatus.FAILED;
        e.endedAt = uint64(block.timestamp);
        _stopOpenPhases(executionId, index);
        emit WorkflowFailed(e.workflowId, executionId, index, reason);
    }

    /// @dev Every other ACTIVE or CONDITIONAL_WAITING phase becomes FAILED (ExecutionStopped).
    function _stopOpenPhases(bytes32 executionId, uint32 except) internal {
        uint256 count = _workflows[_executions[executionId].workflowId].phases.length;
        for (uint256 i = 0; i < count; ++i) {
            PhaseState storage ps = _phases[executionId][i];
            if (i == except) continue;
            if (ps.status == PhaseStatus.ACTIVE || ps.status == PhaseStatus.CONDITIONAL_WAITING) {
                bytes memory reason = abi.encodeWithSelector(ExecutionStopped.selector, uint32(i));
                ps.status = PhaseStatus.FAILED;
                ps.endedAt = uint64(block.timestamp);
                ps.failure = reason;
                emit PhaseFailed(executionId, uint32(i), reason);
            }
        }
    }

    /// @inheritdoc IWorkflowStateMachine
    function checkPhaseTimeout(bytes32 executionId, uint32 phaseIndex) external nonReentrant {
        _runningExecution(executionId);
        _definition(executionId, phaseIndex);
        PhaseState storage ps = _phases[executionId][phaseIndex];
        if (ps.status != PhaseStatus.ACTIVE && ps.status != PhaseStatus.CONDITIONAL_WAITING) {
            revert InvalidPhaseStatus(phaseIndex, ps.status);
        }
        if (block.timestamp <= ps.deadline) revert PhaseNotTimedOut(phaseIndex, ps.deadline);
        ps.status = PhaseStatus.TIMED_OUT;
        ps.endedAt = uint64(block.timestamp);
        emit PhaseTimedOut(executionId, phaseIndex, ps.deadline);
        _failExecution(executionId, phaseIndex, abi.encodeWithSelector(PhaseDeadlinePassed.selector, phaseIndex, ps.deadline));
    }

    // ------------------------------------------------------------------------------------------ conditions

    /// @inheritdoc IWorkflowStateMachine
    function triggerConditionalPhase(bytes32 executionId, uint32 phaseIndex, bytes memory triggerData)
        external
        nonReentrant
    {
        _trigger(executionId, phaseIndex, triggerData, bytes32(0));
    }

    /// @inheritdoc IWorkflowStateMachine
    /// @dev The task must be VERIFIED and belong to this contract's AVS; the caller must be a trigger source.
    function triggerFromTask(bytes32 executionId, uint32 phaseIndex, bytes32 taskHash) external nonReentrant {
        ITaskMailboxTypes.TaskStatus status = ITaskMailbox(mailbox).getTaskStatus(taskHash);
        if (status != ITaskMailboxTypes.TaskStatus.VERIFIED) revert TaskNotVerified(taskHash, uint8(status));
        if (stake.taskAvs(mailbox, taskHash) != avs) revert ForeignTask(taskHash);
        _trigger(executionId, phaseIndex, ITaskMailbox(mailbox).getTaskResult(taskHash), taskHash);
    }

    function _trigger(bytes32 executionId, uint32 index, bytes memory triggerData, bytes32 sourceTask) internal {
        Execution storage e = _runningExecution(executionId);
        PhaseDefinition storage def = _definition(executionId, index);
        PhaseState storage ps = _phases[executionId][index];
        if (msg.sender != _workflows[e.workflowId].creator && !_isTrigger[e.workflowId][msg.sender]) {
            revert NotAuthorizedTrigger(msg.sender);
        }
        if (def.phaseType != PhaseType.CONDITIONAL) revert WrongPhaseType(index, def.phaseType);
        if (ps.status != PhaseStatus.CONDITIONAL_WAITING) revert InvalidPhaseStatus(index, ps.status);
        if (block.timestamp > ps.deadline) revert PhaseDeadlinePassed(index, ps.deadline);

        (uint8 conditionType, bool met, bool wellFormed, bytes memory data) =
            codec.checkCondition(def.triggerCondition, triggerData, address(this), executionId, index);
        if (!wellFormed) revert InvalidTriggerData(index, TriggerConditionType(conditionType));
        if (!met) revert ConditionNotMet(index, TriggerConditionType(conditionType));

        ps.input = data;
        ps.status = PhaseStatus.ACTIVE;
        emit ConditionalTriggerActivated(executionId, index, msg.sender, data, sourceTask);
        _createPhaseTask(executionId, index);
    }

    // ------------------------------------------------------------------------------------------ task hook

    /// @notice Accepts every task (the default hook's rule), this contract's own included.
    function validatePreTaskCreation(address, ITaskMailboxTypes.TaskParams memory) external view {}

    function handlePostTaskCreation(bytes32) external {}

    function validatePreTaskResultSubmission(address, bytes32, bytes memory, bytes memory) external view {}

    /// @notice Push path: completes the phase of one of this contract's tasks. Unknown task hashes pass through,
    ///         and nothing here ever reverts the mailbox's submitResult (a failed push emits PhasePushFailed).
    function handlePostTaskResultSubmission(address, bytes32 taskHash) external onlyMailbox {
        if (!_taskRefs[taskHash].known) return;
        try this.pushTaskResult(taskHash) {}
        catch (bytes memory reason) {
            emit PhasePushFailed(taskHash, reason);
        }
    }

    function calculateTaskFee(ITaskMailboxTypes.TaskParams memory) external pure returns (uint96) {
        return 0;
    }

    // ------------------------------------------------------------------------------------------ internals

    function _runningExecution(bytes32 executionId) internal view returns (Execution storage e) {
        e = _executions[executionId];
        if (e.status == ExecutionStatus.NONE) revert UnknownExecution(executionId);
        if (e.status != ExecutionStatus.RUNNING) revert ExecutionNotRunning(executionId, e.status);
    }

    function _definition(bytes32 executionId, uint32 index) internal view returns (PhaseDefinition storage) {
        PhaseDefinition[] storage defs = _workflows[_executions[executionId].workflowId].phases;
        if (index >= defs.length) revert InvalidPhaseIndex(index, defs.length);
        return defs[index];
    }

    // ------------------------------------------------------------------------------------------ views

    /// @inheritdoc IWorkflowStateMachine
    function getWorkflow(bytes32 workflowId) external view returns (WorkflowInfo memory info) {
        Workflow storage w = _workflows[workflowId];
        if (w.creator == address(0)) revert UnknownWorkflow(workflowId);
        info = WorkflowInfo(w.creator, w.createdAt, w.name, w.phases, w.authorizedTriggers, w.executionIds.length);
    }

    /// @inheritdoc IWorkflowStateMachine
    function getWorkflowExecutions(bytes32 workflowId) external view returns (bytes32[] memory) {
        return _workflows[workflowId].executionIds;
    }

    /// @inheritdoc IWorkflowStateMachine
    function getExecution(bytes32 executionId) external view returns (ExecutionInfo memory) {
        Execution storage e = _executions[executionId];
        if (e.status == ExecutionStatus.NONE) revert UnknownExecution(executionId);
        return ExecutionInfo(
            e.workflowId,
            e.creator,
            e.status,
            e.startedAt,
            e.endedAt,
            uint32(_workflows[e.workflowId].phases.length),
            e.completedPhases,
            e.payload
        );
    }

    /// @inheritdoc IWorkflowStateMachine
    function getPhaseState(bytes32 executionId, uint32 phaseIndex) external view returns (PhaseState memory) {
        _definition(executionId, phaseIndex);
        return _phases[executionId][phaseIndex];
    }

    /// @inheritdoc IWorkflowStateMachine
    function getPhaseStatuses(bytes32 executionId) external view returns (PhaseStatus[] memory statuses) {
        statuses = new PhaseStatus[](_workflows[_executions[executionId].workflowId].phases.length);
        for (uint256 i = 0; i < statuses.length; ++i) {
            statuses[i] = _phases[executionId][i].status;
        }
    }

    /// @inheritdoc IWorkflowStateMachine
    function getPhaseTaskHashes(bytes32 executionId, uint32 phaseIndex) external view returns (bytes32[] memory) {
        return _phases[executionId][phaseIndex].taskHashes;
    }

    /// @inheritdoc IWorkflowStateMachine
    function getPhaseResult(bytes32 executionId, uint32 phaseIndex) external view returns (bytes memory) {
        return _phases[executionId][phaseIndex].result;
    }

    /// @inheritdoc IWorkflowStateMachine
    function getTaskPhase(bytes32 taskHash)
        external
        view
        returns (bool known, bytes32 executionId, uint32 phaseIndex, uint32 update)
    {
        TaskRef storage ref = _taskRefs[taskHash];
        return (ref.known, ref.executionId, ref.phaseIndex, ref.update);
    }

    /// @inheritdoc IWorkflowStateMachine
    function isAuthorizedTrigger(bytes32 workflowId, address account) external view returns (bool) {
        return account == _workflows[workflowId].creator || _isTrigger[workflowId][account];
    }

    /// @inheritdoc IWorkflowStateMachine
    function isAuthorizedCreator(address account) external view returns (bool) {
        return openRegistration || account == owner() || _authorizedCreators[account];
    }
}
