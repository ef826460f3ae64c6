// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IAVSTaskHook} from "../interfaces/IAVSTaskHook.sol";
import {IBaseCertificateVerifier} from "../interfaces/IBaseCertificateVerifier.sol";
import {IBN254CertificateVerifier, IBN254CertificateVerifierTypes} from "../interfaces/IBN254CertificateVerifier.sol";
import {IECDSACertificateVerifier, IECDSACertificateVerifierTypes} from "../interfaces/IECDSACertificateVerifier.sol";
import {IERC20} from "../interfaces/IERC20.sol";
import {IKeyRegistrarTypes} from "../interfaces/IKeyRegistrar.sol";
import {ITaskMailbox} from "../interfaces/ITaskMailbox.sol";
import {OperatorSet, OperatorSetLib} from "../libraries/OperatorSetLib.sol";
import {Ownable} from "../mixins/Ownable.sol";
import {ReentrancyGuard} from "../mixins/ReentrancyGuard.sol";
import {SafeTransfer} from "../mixins/SafeTransfer.sol";
import {SemVer} from "../mixins/SemVer.sol";

/// @notice The task inbox of a chain, with EigenLayer's TaskMailbox ABI. Apps create tasks for an
///         AVS's executor operator set; anyone submits a result with a certificate that the
///         executors signed, verified by the BN254 or ECDSA certificate verifier.
contract TaskMailbox is ITaskMailbox, Ownable, ReentrancyGuard, SemVer {
    using OperatorSetLib for OperatorSet;
    using SafeTransfer for IERC20;

    uint16 internal constant ONE_HUNDRED_IN_BIPS = 10_000;

    /// @inheritdoc ITaskMailbox
    address public immutable BN254_CERTIFICATE_VERIFIER;
    /// @inheritdoc ITaskMailbox
    address public immutable ECDSA_CERTIFICATE_VERIFIER;
    /// @inheritdoc ITaskMailbox
    uint96 public immutable MAX_TASK_SLA;
    /// @notice Devnet timing (our addition; false = EigenLayer's rule exactly): a result may also land in the
    ///         creation second, from the block after the last task creation of that second on. The rule's aim
    ///         ("no same-block result") holds either way; on a chain with one block per second, both agree.
    bool public immutable SAME_SECOND_RESULTS;

    /// @inheritdoc ITaskMailbox
    uint16 public feeSplit;
    /// @inheritdoc ITaskMailbox
    address public feeSplitCollector;
    /// @inheritdoc ITaskMailbox
    mapping(bytes32 operatorSetKey => bool isRegistered) public isExecutorOperatorSetRegistered;

    uint256 internal _globalTaskCount;
    bool internal _initialized;
    mapping(bytes32 operatorSetKey => ExecutorOperatorSetTaskConfig) internal _executorOperatorSetTaskConfigs;
    mapping(bytes32 taskHash => Task) internal _tasks;
    /// @dev With SAME_SECOND_RESULTS: the second and the block of the latest createTask (one slot, not one per task).
    uint64 internal _lastCreationSecond;
    uint64 internal _lastCreationBlock;

    /// @notice Emitted once by initialize (OpenZeppelin's Initializable event).
    event Initialized(uint8 version);

    constructor(
        address _bn254CertificateVerifier,
        address _ecdsaCertificateVerifier,
        uint96 _maxTaskSLA,
        bool _sameSecondResults,
        string memory _version
    ) SemVer(_version) {
        BN254_CERTIFICATE_VERIFIER = _bn254CertificateVerifier;
        ECDSA_CERTIFICATE_VERIFIER = _ecdsaCertificateVerifier;
        MAX_TASK_SLA = _maxTaskSLA;
        SAME_SECOND_RESULTS = _sameSecondResults;
        _transferOwnership(msg.sender);
    }

    /// @inheritdoc ITaskMailbox
    /// @dev Without a proxy there is nothing to front-run, but only the deployer may initialize.
    function initialize(address _owner, uint16 _feeSplit, address _feeSplitCollector) external onlyOwner {
        require(!_initialized, "Initializable: contract is already initialized");
        _initialized = true;
        _transferOwnership(_owner);
        _setFeeSplit(_feeSplit);
        _setFeeSplitCollector(_feeSplitCollector);
        emit Initialized(1);
    }

    /// @inheritdoc ITaskMailbox
    function setExecutorOperatorSetTaskConfig(OperatorSet memory operatorSet, ExecutorOperatorSetTaskConfig memory config)
        external
    {
        if (!_isConfigPopulated(config)) revert ExecutorOperatorSetTaskConfigNotSet();
        if (config.taskSLA > MAX_TASK_SLA) revert TaskSLAExceedsMaximum();
        _validateConsensus(config.consensus);
        _validateOperatorSetOwner(operatorSet, config.curveType);

        bytes32 setKey = operatorSet.key();
        _executorOperatorSetTaskConfigs[setKey] = config;
        emit ExecutorOperatorSetTaskConfigSet(msg.sender, operatorSet.avs, operatorSet.id, config);
        if (!isExecutorOperatorSetRegistered[setKey]) _registerExecutorOperatorSet(operatorSet, true);
    }

    /// @inheritdoc ITaskMailbox
    function registerExecutorOperatorSet(OperatorSet memory operatorSet, bool isRegistered) external {
        ExecutorOperatorSetTaskConfig storage config = _executorOperatorSetTaskConfigs[operatorSet.key()];
        if (!_isConfigPopulated(config)) revert ExecutorOperatorSetTaskConfigNotSet();
        _validateOperatorSetOwner(operatorSet, config.curveType);
        _registerExecutorOperatorSet(operatorSet, isRegistered);
    }

    /// @inheritdoc ITaskMailbox
    function createTask(TaskParams memory taskParams) external nonReentrant returns (bytes32 taskHash) {
        if (taskParams.payload.length == 0) revert PayloadIsEmpty();
        bytes32 setKey = taskParams.executorOperatorSet.key();
        if (!isExecutorOperatorSetRegistered[setKey]) revert ExecutorOperatorSetNotRegistered();
        ExecutorOperatorSetTaskConfig memory config = _executorOperatorSetTaskConfigs[setKey];
        if (!_isConfigPopulated(config)) revert ExecutorOperatorSetTaskConfigNotSet();

        uint32 referenceTimestamp = _freshReferenceTimestamp(taskParams.executorOperatorSet, config);
        config.taskHook.validatePreTaskCreation(msg.sender, taskParams);
        uint96 avsFee = config.taskHook.calculateTaskFee(taskParams);

        taskHash = keccak256(abi.encode(_globalTaskCount, address(this), block.chainid, taskParams));
        _globalTaskCount += 1;
        _storeTask(taskHash, taskParams, config, referenceTimestamp, avsFee);

        if (address(config.feeToken) != address(0) && avsFee > 0) {
            if (config.feeCollector == address(0) || taskParams.refundCollector == address(0)) {
                revert InvalidFeeReceiver();
            }
            config.feeToken.safeTransferFrom(msg.sender, address(this), avsFee);
        }

        config.taskHook.handlePostTaskCreation(taskHash);
        emit TaskCreated(
            msg.sender,
            taskHash,
            taskParams.executorOperatorSet.avs,
            taskParams.executorOperatorSet.id,
            referenceTimestamp,
            taskParams.refundCollector,
            avsFee,
            block.timestamp + config.taskSLA,
            taskParams.payload
        );
    }

    /// @inheritdoc ITaskMailbox
    function submitResult(bytes32 taskHash, bytes memory executorCert, bytes memory result) external nonReentrant {
        Task storage task = _tasks[taskHash];
        TaskStatus status = _statusOf(task);
        if (status != TaskStatus.CREATED) revert InvalidTaskStatus(TaskStatus.CREATED, status);
        if (block.timestamp <= task.creationTime && !_laterBlockOfCreationSecond(task.creationTime)) {
            revert TimestampAtCreation();
        }

        ExecutorOperatorSetTaskConfig memory config = task.executorOperatorSetTaskConfig;
        config.taskHook.validatePreTaskResultSubmission(msg.sender, taskHash, executorCert, result);
        _verifyExecutorCertificate(
            config,
            OperatorSet(task.avs, task.executorOperatorSetId),
            task.operatorTableReferenceTimestamp,
            getMessageHash(taskHash, result),
            executorCert
        );

        task.status = TaskStatus.VERIFIED;
        task.executorCert = executorCert;
        task.result = result;
        _payFee(task, config);

        config.taskHook.handlePostTaskResultSubmission(msg.sender, taskHash);
        emit TaskVerified(msg.sender, taskHash, task.avs, task.executorOperatorSetId, executorCert, result);
    }

    /// @inheritdoc ITaskMailbox
    function refundFee(bytes32 taskHash) external nonReentrant {
        Task storage task = _tasks[taskHash];
        if (task.refundCollector != msg.sender) revert OnlyRefundCollector();
        if (task.isFeeRefunded) revert FeeAlreadyRefunded();
        TaskStatus status = _statusOf(task);
        if (status != TaskStatus.EXPIRED) revert InvalidTaskStatus(TaskStatus.EXPIRED, status);

        task.isFeeRefunded = true;
        IERC20 feeToken = task.executorOperatorSetTaskConfig.feeToken;
        if (address(feeToken) != address(0) && task.avsFee > 0) {
            feeToken.safeTransfer(task.refundCollector, task.avsFee);
        }
        emit FeeRefunded(task.refundCollector, taskHash, task.avsFee);
    }

    /// @inheritdoc ITaskMailbox
    function setFeeSplit(uint16 _feeSplit) external onlyOwner {
        _setFeeSplit(_feeSplit);
    }

    /// @inheritdoc ITaskMailbox
    function setFeeSplitCollector(address _feeSplitCollector) external onlyOwner {
        _setFeeSplitCollector(_feeSplitCollector);
    }

    // ---------------------------------------------------------------- internals

    function _setFeeSplit(uint16 _feeSplit) internal {
        if (_feeSplit > ONE_HUNDRED_IN_BIPS) revert InvalidFeeSplit();
        feeSplit = _feeSplit;
        emit FeeSplitSet(_feeSplit);
    }

    function _setFeeSplitCollector(address _feeSplitCollector) internal {
        if (_feeSplitCollector == address(0)) revert InvalidAddressZero();
        feeSplitCollector = _feeSplitCollector;
        emit FeeSplitCollectorSet(_feeSplitCollector);
    }

    function _registerExecutorOperatorSet(OperatorSet memory operatorSet, bool isRegistered) internal {
        isExecutorOperatorSetRegistered[operatorSet.key()] = isRegistered;
        emit ExecutorOperatorSetRegistered(msg.sender, operatorSet.avs, operatorSet.id, isRegistered);
    }

    /// @dev The latest table's reference timestamp; the table must outlive the task's SLA.
    function _freshReferenceTimestamp(OperatorSet memory operatorSet, ExecutorOperatorSetTaskConfig memory config)
        internal
        view
        returns (uint32 referenceTimestamp)
    {
        IBaseCertificateVerifier verifier = IBaseCertificateVerifier(_certificateVerifier(config.curveType));
        referenceTimestamp = verifier.latestReferenceTimestamp(operatorSet);
        uint256 maxStaleness = verifier.maxOperatorTableStaleness(operatorSet);
        if (maxStaleness != 0 && block.timestamp + config.taskSLA > uint256(referenceTimestamp) + maxStaleness) {
            revert CertificateStale();
        }
    }

    function _storeTask(
        bytes32 taskHash,
        TaskParams memory taskParams,
        ExecutorOperatorSetTaskConfig memory config,
        uint32 referenceTimestamp,
        uint96 avsFee
    ) internal {
        Task storage task = _tasks[taskHash];
        task.creator = msg.sender;
        task.creationTime = uint96(block.timestamp);
        if (SAME_SECOND_RESULTS) {
            _lastCreationSecond = uint64(block.timestamp);
            _lastCreationBlock = uint64(block.number);
        }
        task.avs = taskParams.executorOperatorSet.avs;
        task.avsFee = avsFee;
        task.refundCollector = taskParams.refundCollector;
        task.executorOperatorSetId = taskParams.executorOperatorSet.id;
        task.feeSplit = feeSplit;
        task.status = TaskStatus.CREATED;
        task.operatorTableReferenceTimestamp = referenceTimestamp;
        task.executorOperatorSetTaskConfig = config;
        task.payload = taskParams.payload;
    }

    /// @dev With SAME_SECOND_RESULTS: this block comes after every task created in `creationTime`, which is now.
    ///      A result sharing its block with a later task of the same second is refused (the caller retries).
    function _laterBlockOfCreationSecond(uint96 creationTime) internal view returns (bool) {
        return SAME_SECOND_RESULTS && block.timestamp == creationTime && _lastCreationSecond == creationTime
            && block.number > _lastCreationBlock;
    }

    /// @dev Pays the fee split to the collector and the rest to the AVS's fee collector.
    function _payFee(Task storage task, ExecutorOperatorSetTaskConfig memory config) internal {
        uint96 fee = task.avsFee;
        if (address(config.feeToken) == address(0) || fee == 0) return;
        uint96 splitAmount = uint96((uint256(fee) * task.feeSplit) / ONE_HUNDRED_IN_BIPS);
        if (splitAmount > 0) config.feeToken.safeTransfer(feeSplitCollector, splitAmount);
        if (fee > splitAmount) config.feeToken.safeTransfer(config.feeCollector, fee - splitAmount);
    }

    /// @dev CREATED turns into EXPIRED once the SLA has passed; nothing is written for that.
    function _statusOf(Task storage task) internal view returns (TaskStatus) {
        TaskStatus status = task.status;
        if (
            status == TaskStatus.CREATED
                && block.timestamp > uint256(task.creationTime) + task.executorOperatorSetTaskConfig.taskSLA
        ) {
            return TaskStatus.EXPIRED;
        }
        return status;
    }

    function _certificateVerifier(IKeyRegistrarTypes.CurveType curveType) internal view returns (address) {
        if (curveType == IKeyRegistrarTypes.CurveType.BN254) return BN254_CERTIFICATE_VERIFIER;
        if (curveType == IKeyRegistrarTypes.CurveType.ECDSA) return ECDSA_CERTIFICATE_VERIFIER;
        revert InvalidCurveType();
    }

    function _isConfigPopulated(ExecutorOperatorSetTaskConfig memory config) internal pure returns (bool) {
        return config.curveType != IKeyRegistrarTypes.CurveType.NONE && address(config.taskHook) != address(0)
            && config.taskSLA > 0;
    }

    function _validateOperatorSetOwner(OperatorSet memory operatorSet, IKeyRegistrarTypes.CurveType curveType)
        internal
        view
    {
        address verifier = _certificateVerifier(curveType);
        if (IBaseCertificateVerifier(verifier).getOperatorSetOwner(operatorSet) != msg.sender) {
            revert InvalidOperatorSetOwner();
        }
    }

    function _validateConsensus(Consensus memory consensus) internal pure {
        if (consensus.consensusType == ConsensusType.NONE) {
            if (consensus.value.length != 0) revert InvalidConsensusValue();
        } else if (consensus.consensusType == ConsensusType.STAKE_PROPORTION_THRESHOLD) {
            if (consensus.value.length != 32) revert InvalidConsensusValue();
            uint256 bips = abi.decode(consensus.value, (uint256));
            if (bips > ONE_HUNDRED_IN_BIPS) revert InvalidConsensusValue();
        } else {
            revert InvalidConsensusType();
        }
    }

    function _verifyExecutorCertificate(
        ExecutorOperatorSetTaskConfig memory config,
        OperatorSet memory executorOperatorSet,
        uint32 referenceTimestamp,
        bytes32 messageHash,
        bytes memory executorCert
    ) internal {
        bool thresholdMet;
        if (config.curveType == IKeyRegistrarTypes.CurveType.BN254) {
            thresholdMet = _verifyBN254(config.consensus, executorOperatorSet, referenceTimestamp, messageHash, executorCert);
        } else if (config.curveType == IKeyRegistrarTypes.CurveType.ECDSA) {
            thresholdMet = _verifyECDSA(config.consensus, executorOperatorSet, referenceTimestamp, messageHash, executorCert);
        } else {
            revert InvalidCurveType();
        }
        if (!thresholdMet) revert ThresholdNotMet();
    }

    function _verifyBN254(
        Consensus memory consensus,
        OperatorSet memory executorOperatorSet,
        uint32 referenceTimestamp,
        bytes32 messageHash,
        bytes memory executorCert
    ) internal returns (bool) {
        IBN254CertificateVerifierTypes.BN254Certificate memory cert =
            abi.decode(executorCert, (IBN254CertificateVerifierTypes.BN254Certificate));
        if (cert.referenceTimestamp != referenceTimestamp) revert InvalidReferenceTimestamp();
        if (cert.messageHash != messageHash) revert InvalidMessageHash();
        if (cert.signature.X == 0 && cert.signature.Y == 0) revert EmptyCertificateSignature();

        IBN254CertificateVerifier verifier = IBN254CertificateVerifier(BN254_CERTIFICATE_VERIFIER);
        if (consensus.consensusType == ConsensusType.NONE) {
            // NONE: a valid certificate suffices; stake rules are the AVS hook's business.
            verifier.verifyCertificate(executorOperatorSet, cert);
            return true;
        }
        if (consensus.consensusType == ConsensusType.STAKE_PROPORTION_THRESHOLD) {
            return verifier.verifyCertificateProportion(executorOperatorSet, cert, _thresholds(consensus));
        }
        revert InvalidConsensusType();
    }

    function _verifyECDSA(
        Consensus memory consensus,
        OperatorSet memory executorOperatorSet,
        uint32 referenceTimestamp,
        bytes32 messageHash,
        bytes memory executorCert
    ) internal view returns (bool) {
        IECDSACertificateVerifierTypes.ECDSACertificate memory cert =
            abi.decode(executorCert, (IECDSACertificateVerifierTypes.ECDSACertificate));
        if (cert.referenceTimestamp != referenceTimestamp) revert InvalidReferenceTimestamp();
        if (cert.messageHash != messageHash) revert InvalidMessageHash();
        if (cert.sig.length == 0) revert EmptyCertificateSignature();

        IECDSACertificateVerifier verifier = IECDSACertificateVerifier(ECDSA_CERTIFICATE_VERIFIER);
        if (consensus.consensusType == ConsensusType.NONE) {
            verifier.verifyCertificate(executorOperatorSet, cert);
            return true;
        }
        if (consensus.consensusType == ConsensusType.STAKE_PROPORTION_THRESHOLD) {
            (bool met,) = verifier.verifyCertificateProportion(executorOperatorSet, cert, _thresholds(consensus));
            return met;
        }
        revert InvalidConsensusType();
    }

    /// @dev The task tables have one stake type, so one threshold: the configured bips.
    function _thresholds(Consensus memory consensus) internal pure returns (uint16[] memory thresholds) {
        thresholds = new uint16[](1);
        thresholds[0] = uint16(abi.decode(consensus.value, (uint256)));
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc ITaskMailbox
    function getExecutorOperatorSetTaskConfig(OperatorSet memory operatorSet)
        external
        view
        returns (ExecutorOperatorSetTaskConfig memory)
    {
        return _executorOperatorSetTaskConfigs[operatorSet.key()];
    }

    /// @inheritdoc ITaskMailbox
    function getTaskInfo(bytes32 taskHash) external view returns (Task memory info) {
        Task storage task = _tasks[taskHash];
        info = task;
        info.status = _statusOf(task);
    }

    /// @inheritdoc ITaskMailbox
    function getTaskStatus(bytes32 taskHash) external view returns (TaskStatus) {
        return _statusOf(_tasks[taskHash]);
    }

    /// @inheritdoc ITaskMailbox
    function getTaskResult(bytes32 taskHash) external view returns (bytes memory) {
        Task storage task = _tasks[taskHash];
        TaskStatus status = _statusOf(task);
        if (status != TaskStatus.VERIFIED) revert InvalidTaskStatus(TaskStatus.VERIFIED, status);
        return task.result;
    }

    /// @inheritdoc ITaskMailbox
    function getMessageHash(bytes32 taskHash, bytes memory result) public pure returns (bytes32) {
        return keccak256(abi.encode(taskHash, result));
    }

    /// @inheritdoc ITaskMailbox
    function getBN254CertificateBytes(IBN254CertificateVerifierTypes.BN254Certificate memory cert)
        external
        pure
        returns (bytes memory)
    {
        return abi.encode(cert);
    }

    /// @inheritdoc ITaskMailbox
    function getECDSACertificateBytes(IECDSACertificateVerifierTypes.ECDSACertificate memory cert)
        external
        pure
        returns (bytes memory)
    {
        return abi.encode(cert);
    }
}
