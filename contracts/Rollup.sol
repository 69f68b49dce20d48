// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

// Generated per verification key by `zkpipe export-verifier` (prover/solidity.py); it defines
// ZkpipeVerifierBase with _verifyProof and the state-layout functions used below.
import "./ZkpipeVerifier.sol";

/// The rollup's L1 contract: holds the state commitment and the index of the last verified
/// batch, and moves both forward by exactly one batch per valid proof.
///
/// The state commitment is keccak256 of the unblinded, packed KZG commitment of the state group
/// (64 bytes each). A proof carries the commitments of both the old and the new state groups
/// among its commitments, all absorbed by the Fiat–Shamir transcript; the contract
/// accepts it only if the old ones hash to what it holds, so the proof's public statement is
/// (old state it holds, new state, batch data commitment, public inputs).
///
/// Storing the hash (one slot) instead of the points (four slots for two G1 points) saves three
/// SSTOREs and three SLOADs per batch (about 15 000 gas); the new points are in the event.
contract Rollup is ZkpipeVerifierBase {
    /// The proof's old state is not the state this contract holds.
    error StateMismatch(bytes32 held, bytes32 claimed);
    /// The batch index is not the one after the last verified batch.
    error UnexpectedBatchIndex(uint256 expected, uint256 given);
    /// The proof is for another batch index (its batch-index public input differs).
    error BatchIndexNotProven(uint256 batchIndex);
    /// The sender is not the submitter this deployment names.
    error UnauthorizedSubmitter(address sender);

    /// Batch `batchIndex` moved the state to `stateCommitment` (keccak256 of
    /// `newStateCommitments`, the commitments of the new state groups, x ‖ y each).
    event BatchVerified(uint256 indexed batchIndex, bytes32 stateCommitment, bytes32 dataCommitment,
                        bytes newStateCommitments);

    /// The only account allowed to submit; the zero address lets anyone submit.
    address public immutable submitter;
    /// keccak256 of the current state columns' commitments.
    bytes32 public stateCommitment;
    /// The index of the batch to come (the last verified one plus one). Kept instead of the
    /// last index so that its slot is never zero: turning a zero slot non-zero costs 20 000
    /// gas, rewriting a non-zero one 2 900, and the first batch would pay the difference.
    uint256 private nextBatchIndex;

    constructor(bytes32 genesisStateCommitment, address submitter_) {
        stateCommitment = genesisStateCommitment;
        nextBatchIndex = 1;
        submitter = submitter_;
    }

    /// The index of the last verified batch; 0 is the genesis state.
    function lastBatchIndex() external view returns (uint256) {
        return nextBatchIndex - 1;
    }

    /// Verify batch `batchIndex` (= lastBatchIndex() + 1) and move to its new state.
    /// Reverts on anything else: wrong index (or a proof made for another index), another old
    /// state, an invalid or malformed proof,
    /// a sender other than the configured submitter.
    function submitBatch(uint256 batchIndex, bytes calldata proof, uint256[] calldata publicInputs) external {
        // The cheap checks first, so that a stale or unauthorized submission costs little.
        // None of them allocates memory: the verifier's scratch starts at 0x80.
        if (submitter != address(0) && msg.sender != submitter) revert UnauthorizedSubmitter(msg.sender);
        uint256 expected = nextBatchIndex;
        if (batchIndex != expected) revert UnexpectedBatchIndex(expected, batchIndex);
        if (!_provesBatchIndex(batchIndex, publicInputs)) revert BatchIndexNotProven(batchIndex);
        // A publishing circuit's proof carries the batch's data past PROOF_LENGTH (the verifier
        // checks it against the proven rows; docs/protocol.md §10): anyone rebuilds from it.
        if (proof.length < PROOF_LENGTH) revert InvalidProof();
        bytes32 held = stateCommitment;
        bytes32 claimed = _oldStateHash(proof);
        if (claimed != held) revert StateMismatch(held, claimed);
        _verifyProof(proof, publicInputs);

        bytes32 next = _newStateHash(proof);
        stateCommitment = next;
        nextBatchIndex = batchIndex + 1;
        emit BatchVerified(batchIndex, next, _dataCommitment(proof), _newStateCommitments(proof));
    }
}
