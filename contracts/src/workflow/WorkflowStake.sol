// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IBaseCertificateVerifier} from "../interfaces/IBaseCertificateVerifier.sol";
import {IBN254CertificateVerifier, IBN254CertificateVerifierTypes} from "../interfaces/IBN254CertificateVerifier.sol";
import {IECDSACertificateVerifier, IECDSACertificateVerifierTypes} from "../interfaces/IECDSACertificateVerifier.sol";
import {IKeyRegistrarTypes} from "../interfaces/IKeyRegistrar.sol";
import {IOperatorTableCalculatorTypes} from "../interfaces/IOperatorTableCalculator.sol";
import {ITaskMailbox, ITaskMailboxTypes} from "../interfaces/ITaskMailbox.sol";
import {ECDSARecover} from "../libraries/ECDSARecover.sol";
import {OperatorSet} from "../libraries/OperatorSetLib.sol";

/// @notice Stake figures WorkflowStateMachine needs, read from a mailbox's certificate verifiers: a set's total
///         stake weight and the share that signed a verified task's stored certificate. Stateless views; its own
///         contract so the state machine stays under the code size limit.
contract WorkflowStake {
    /// @notice The AVS of a mailbox task (address(0) for an unknown hash).
    function taskAvs(address mailbox, bytes32 taskHash) external view returns (address) {
        return ITaskMailbox(mailbox).getTaskInfo(taskHash).avs;
    }

    /// @dev Total stake weight (first stake type) of the AVS's set `setId` in its latest operator table.
    function totalStake(address mailbox, address avs, uint32 setId) external view returns (uint256) {
        OperatorSet memory set = OperatorSet(avs, setId);
        ITaskMailboxTypes.ExecutorOperatorSetTaskConfig memory config =
            ITaskMailbox(mailbox).getExecutorOperatorSetTaskConfig(set);
        address verifier = _verifierFor(mailbox, config.curveType);
        if (verifier == address(0)) return 0;
        uint32 ts = IBaseCertificateVerifier(verifier).latestReferenceTimestamp(set);
        try IBaseCertificateVerifier(verifier).getTotalStakeWeights(set, ts) returns (uint256[] memory weights) {
            return weights.length == 0 ? 0 : weights[0];
        } catch {
            return 0;
        }
    }

    /// @dev The signed and total stake (first stake type) of a VERIFIED task's stored certificate. The mailbox
    ///      verified it, so for BN254 every non-signer witness is in the verifier's cache; for ECDSA the signers
    ///      are recovered again and weighed against the table.
    function signedStake(address mailbox, bytes32 taskHash) external view returns (uint256 signed, uint256 total) {
        ITaskMailboxTypes.Task memory task = ITaskMailbox(mailbox).getTaskInfo(taskHash);
        OperatorSet memory set = OperatorSet(task.avs, task.executorOperatorSetId);
        IKeyRegistrarTypes.CurveType curve = task.executorOperatorSetTaskConfig.curveType;
        address verifier = _verifierFor(mailbox, curve);
        if (curve == IKeyRegistrarTypes.CurveType.BN254) {
            IBN254CertificateVerifierTypes.BN254Certificate memory cert =
                abi.decode(task.executorCert, (IBN254CertificateVerifierTypes.BN254Certificate));
            uint256[] memory totals =
                IBN254CertificateVerifier(verifier).getOperatorSetInfo(set, cert.referenceTimestamp).totalWeights;
            total = totals.length == 0 ? 0 : totals[0];
            signed = total;
            for (uint256 i = 0; i < cert.nonSignerWitnesses.length; ++i) {
                uint256[] memory weights = IBN254CertificateVerifier(verifier).getNonsignerOperatorInfo(
                    set, cert.referenceTimestamp, cert.nonSignerWitnesses[i].operatorIndex
                ).weights;
                if (weights.length > 0) signed -= weights[0];
            }
        } else {
            IECDSACertificateVerifierTypes.ECDSACertificate memory cert =
                abi.decode(task.executorCert, (IECDSACertificateVerifierTypes.ECDSACertificate));
            IOperatorTableCalculatorTypes.ECDSAOperatorInfo[] memory infos =
                IECDSACertificateVerifier(verifier).getOperatorInfos(set, cert.referenceTimestamp);
            bytes32 digest =
                IECDSACertificateVerifier(verifier).calculateCertificateDigest(cert.referenceTimestamp, cert.messageHash);
            for (uint256 k = 0; k < infos.length; ++k) {
                if (infos[k].weights.length > 0) total += infos[k].weights[0];
            }
            uint256 count = cert.sig.length / 65;
            for (uint256 i = 0; i < count; ++i) {
                address signer = ECDSARecover.tryRecover(digest, _slice65(cert.sig, i));
                for (uint256 k = 0; k < infos.length; ++k) {
                    if (infos[k].pubkey == signer && infos[k].weights.length > 0) {
                        signed += infos[k].weights[0];
                        break;
                    }
                }
            }
        }
    }

    function _slice65(bytes memory sigs, uint256 i) internal pure returns (bytes memory sig) {
        sig = new bytes(65);
        for (uint256 b = 0; b < 65; ++b) {
            sig[b] = sigs[i * 65 + b];
        }
    }

    function _verifierFor(address mailbox, IKeyRegistrarTypes.CurveType curve) internal view returns (address) {
        if (curve == IKeyRegistrarTypes.CurveType.BN254) return ITaskMailbox(mailbox).BN254_CERTIFICATE_VERIFIER();
        if (curve == IKeyRegistrarTypes.CurveType.ECDSA) return ITaskMailbox(mailbox).ECDSA_CERTIFICATE_VERIFIER();
        return address(0);
    }
}
