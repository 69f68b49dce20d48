// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

// Generated per verification key by `zkpipe export-verifier` (prover/solidity.py); it defines
// ZkpipeVerifierBase with _verifyProof and the state-layout functions used below.
import "./ZkpipeVerifier.sol";

/// The rollup's L1 contract: holds the state commitment and the index of the last verified
/// batch, and moves both forward by exactly one batch per valid proof. It also holds the L2's
/// money (docs/bridge.md): the genesis balances are escrowed at deployment, `deposit` escrows
/// more and queues it for the L2, and each verified batch consumes deposits in queue order and
/// exports withdrawals that `withdraw` pays once each.
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
    /// The value sent at deployment is not the sum of the genesis balances.
    error GenesisNotFunded(uint256 required, uint256 given);
    /// The genesis accounts are not a whole number of 28-byte entries.
    error InvalidGenesisAccounts(uint256 length);
    /// A deposit must be at least 1 wei and below 2^64 (the L2's balance range).
    error InvalidDepositAmount(uint256 amount);
    /// A deposit must name an L2 address.
    error InvalidDepositAddress();
    /// A bridge record names a row the batch's transfers part does not publish.
    error EmptyBridgeRow(uint256 row);
    /// The batch's deposits are not the `count` queued deposits from `firstIndex` on.
    error DepositsMismatch(uint256 firstIndex, uint256 count);
    /// No withdrawal of this batch has this index, recipient and amount.
    error UnknownWithdrawal();
    /// This withdrawal was paid already.
    error AlreadyWithdrawn(uint256 batchIndex, uint256 index);
    /// The recipient refused the payment; the withdrawal stays claimable.
    error PaymentFailed();

    /// Batch `batchIndex` moved the state to `stateCommitment` (keccak256 of
    /// `newStateCommitments`, the commitments of the new state groups, x ‖ y each).
    event BatchVerified(uint256 indexed batchIndex, bytes32 stateCommitment, bytes32 dataCommitment,
                        bytes newStateCommitments);
    /// The L2 starts from `stateCommitment`, whose accounts are `accounts`: per slot from 0,
    /// address (20 bytes) ‖ balance (8 bytes, big-endian). Anyone rebuilding the L2 starts here.
    event Genesis(uint256 l2ChainId, bytes32 stateCommitment, bytes accounts);
    /// Deposit `index` of the queue: `amount` wei escrowed by `l1Sender` for `l2Address`.
    event Deposited(uint256 indexed index, address indexed l2Address, uint256 amount, address l1Sender);
    /// Batch `batchIndex` exported `count` withdrawals under the Merkle root `root`.
    event Withdrawals(uint256 indexed batchIndex, bytes32 root, uint256 count);
    /// Withdrawal `index` of batch `batchIndex` paid `amount` wei to `recipient`.
    event Withdrawn(uint256 indexed batchIndex, uint256 index, address recipient, uint256 amount);

    uint256 private constant GENESIS_ACCOUNT_BYTES = 28;
    uint256 private constant KIND_DEPOSIT = 1;      // bit 0 of a bridge record's kind: consumes a deposit
    uint256 private constant KIND_WITHDRAWAL = 2;   // bit 1: pays on the L1 (a refund has both)

    /// The only account allowed to submit; the zero address lets anyone submit.
    address public immutable submitter;
    /// keccak256 of the current state columns' commitments.
    bytes32 public stateCommitment;
    /// The index of the batch to come (the last verified one plus one). Kept instead of the
    /// last index so that its slot is never zero: turning a zero slot non-zero costs 20 000
    /// gas, rewriting a non-zero one 2 900, and the first batch would pay the difference.
    uint256 private nextBatchIndex;
    /// Deposits queued so far, and how many of them verified batches consumed.
    uint256 public depositCount;
    uint256 public depositsConsumed;
    /// depositChain[i] commits to deposits 0 … i−1: depositChain[i+1] =
    /// keccak256(depositChain[i] ‖ l2Address ‖ uint64 amount), depositChain[0] = 0. A batch's
    /// deposits are checked against it with one SLOAD, whatever their number.
    mapping(uint256 => bytes32) private depositChain;
    /// The Merkle root of each batch's withdrawals (zero: the batch exported none).
    mapping(uint256 => bytes32) public withdrawalRoot;
    /// Paid withdrawals: one bit per index, 256 to a word, per batch.
    mapping(uint256 => mapping(uint256 => uint256)) private withdrawnBits;

    constructor(bytes32 genesisStateCommitment, address submitter_, uint256 l2ChainId, bytes memory genesisAccounts)
        payable
    {
        if (genesisAccounts.length % GENESIS_ACCOUNT_BYTES != 0) revert InvalidGenesisAccounts(genesisAccounts.length);
        // The escrow backs every L2 wei: the genesis balances are paid in now.
        uint256 required = 0;
        for (uint256 at = 0; at < genesisAccounts.length; at += GENESIS_ACCOUNT_BYTES) {
            uint256 amount;
            assembly {
                amount := shr(192, mload(add(add(genesisAccounts, 0x34), at)))  // past the length word and the address
            }
            required += amount;
        }
        if (msg.value != required) revert GenesisNotFunded(required, msg.value);
        stateCommitment = genesisStateCommitment;
        nextBatchIndex = 1;
        submitter = submitter_;
        emit Genesis(l2ChainId, genesisStateCommitment, genesisAccounts);
    }

    /// The index of the last verified batch; 0 is the genesis state.
    function lastBatchIndex() external view returns (uint256) {
        return nextBatchIndex - 1;
    }

    /// The deposit chain after the first `i` deposits (0 for i = 0 and past the queue).
    function depositChainAt(uint256 i) external view returns (bytes32) {
        return depositChain[i];
    }

    /// Whether withdrawal `index` of batch `batchIndex` was paid.
    function isWithdrawn(uint256 batchIndex, uint256 index) external view returns (bool) {
        return withdrawnBits[batchIndex][index >> 8] & (1 << (index & 255)) != 0;
    }

    /// Escrow msg.value for `l2Address` and queue it: the sequencer credits it on the L2, and
    /// the batch that does so proves it consumed exactly this deposit, in queue order.
    function deposit(address l2Address) external payable {
        if (msg.value == 0 || msg.value >= 1 << 64) revert InvalidDepositAmount(msg.value);
        if (l2Address == address(0)) revert InvalidDepositAddress();
        uint256 index = depositCount;
        depositChain[index + 1] = _chainDeposit(depositChain[index], l2Address, msg.value);
        depositCount = index + 1;
        emit Deposited(index, l2Address, msg.value, msg.sender);
    }

    /// Verify batch `batchIndex` (= lastBatchIndex() + 1), move to its new state, consume its
    /// deposits and record its withdrawals. Reverts on anything else: wrong index (or a proof
    /// made for another index), another old state, an invalid or malformed proof, a sender
    /// other than the configured submitter, deposits other than the next ones in the queue.
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
        // The data is now the proven rows', well formed: its bridge records are what the batch did.
        _processBridge(batchIndex, proof);

        bytes32 next = _newStateHash(proof);
        stateCommitment = next;
        nextBatchIndex = batchIndex + 1;
        emit BatchVerified(batchIndex, next, _dataCommitment(proof), _newStateCommitments(proof));
    }

    /// Pay withdrawal `index` of batch `batchIndex` (`amount` wei to `recipient`), proven by
    /// `path` (its Merkle path, leaf level first) against the batch's withdrawal root. Anyone
    /// may call it; the money goes to `recipient`, once.
    function withdraw(uint256 batchIndex, uint256 index, address recipient, uint256 amount, bytes32[] calldata path)
        external
    {
        bytes32 root = withdrawalRoot[batchIndex];
        // The index must fit the path: its bits past the path would otherwise name other
        // indices (other bitmap bits) for the same leaf.
        if (root == 0 || amount >= 1 << 64 || path.length > 32 || index >> path.length != 0) revert UnknownWithdrawal();
        bytes32 node = _withdrawalLeaf(recipient, amount);
        for (uint256 i = 0; i < path.length; i++) {
            node = (index >> i) & 1 == 0 ? _hashPair(node, path[i]) : _hashPair(path[i], node);
        }
        if (node != root) revert UnknownWithdrawal();
        uint256 word = withdrawnBits[batchIndex][index >> 8];
        uint256 bit = 1 << (index & 255);
        if (word & bit != 0) revert AlreadyWithdrawn(batchIndex, index);
        // Marked before paying: a recipient calling back finds it paid.
        withdrawnBits[batchIndex][index >> 8] = word | bit;
        (bool paid,) = recipient.call{value: amount}("");
        if (!paid) revert PaymentFailed();
        emit Withdrawn(batchIndex, index, recipient, amount);
    }

    /// Walk the bridge records in row order: deposits (and refunds) must be the next queued
    /// deposits, withdrawals (and refunds) become the leaves of the batch's withdrawal root.
    function _processBridge(uint256 batchIndex, bytes calldata proof) private {
        uint256 first = depositsConsumed;
        (bytes32 chain, uint256 deposits, bytes32[] memory leaves, uint256 withdrawals) =
            _walkBridge(proof, depositChain[first]);
        if (deposits != 0) {
            uint256 end = first + deposits;
            if (end > depositCount || chain != depositChain[end]) revert DepositsMismatch(first, deposits);
            depositsConsumed = end;
        }
        if (withdrawals != 0) {
            bytes32 root = _merkleRoot(leaves, withdrawals);
            withdrawalRoot[batchIndex] = root;
            emit Withdrawals(batchIndex, root, withdrawals);
        }
    }

    /// The deposit chain extended by the batch's deposits from `chain`, their number, and the
    /// batch's withdrawal leaves (in an array padded to a power of two) with their number.
    function _walkBridge(bytes calldata proof, bytes32 chain)
        private
        pure
        returns (bytes32, uint256 deposits, bytes32[] memory leaves, uint256 withdrawals)
    {
        (uint256 records, uint256 count, uint256 transfers, uint256 transferCount) = _bridgePart(proof);
        uint256 width = 1;
        while (width < count) width <<= 1;
        leaves = new bytes32[](count == 0 ? 0 : width);
        // Counters below the record count (< 2^32): no overflow checks; leaves written past
        // the array's length word without bounds checks (withdrawals ≤ count ≤ width).
        unchecked {
            for (uint256 j = 0; j < count; j++) {
                (uint256 row, uint256 kind, address account, uint256 amount) = _bridgeRecord(records, j, transfers);
                if (row >= transferCount) revert EmptyBridgeRow(row);
                if (kind & KIND_DEPOSIT != 0) {
                    chain = _chainDeposit(chain, account, amount);
                    deposits++;
                }
                if (kind & KIND_WITHDRAWAL != 0) {
                    bytes32 leaf = _withdrawalLeaf(account, amount);
                    assembly {
                        mstore(add(add(leaves, 0x20), shl(5, withdrawals)), leaf)
                    }
                    withdrawals++;
                }
            }
        }
        return (chain, deposits, leaves, withdrawals);
    }

    /// keccak256(chain ‖ l2Address ‖ uint64 amount), in the free memory past the pointer.
    function _chainDeposit(bytes32 chain, address l2Address, uint256 amount) private pure returns (bytes32 h) {
        assembly {
            let m := mload(0x40)
            mstore(m, chain)
            mstore(add(m, 0x20), shl(96, l2Address))
            mstore(add(m, 0x34), shl(192, amount))
            h := keccak256(m, 0x3c)
        }
    }

    /// A withdrawal's leaf: keccak256(recipient ‖ uint64 amount).
    function _withdrawalLeaf(address recipient, uint256 amount) private pure returns (bytes32 h) {
        assembly {
            mstore(0x00, shl(96, recipient))
            mstore(0x14, shl(192, amount))
            h := keccak256(0x00, 0x1c)
        }
    }

    function _hashPair(bytes32 left, bytes32 right) private pure returns (bytes32 h) {
        assembly {
            mstore(0x00, left)
            mstore(0x20, right)
            h := keccak256(0x00, 0x40)
        }
    }

    /// The root over the first `count` leaves, padded with zeros to a power of two and hashed
    /// pairwise (node.l1.withdrawals computes the same); `leaves` is overwritten.
    function _merkleRoot(bytes32[] memory leaves, uint256 count) private pure returns (bytes32 root) {
        assembly {
            let base := add(leaves, 0x20)
            let width := 1
            for {} lt(width, count) {} { width := shl(1, width) }
            // Level by level in place: node i of the next level is the hash of the 64 bytes at
            // words 2i, 2i+1, which no earlier write (words < i) has touched.
            for {} gt(width, 1) { width := shr(1, width) } {
                for { let i := 0 } lt(i, shr(1, width)) { i := add(i, 1) } {
                    mstore(add(base, shl(5, i)), keccak256(add(base, shl(6, i)), 0x40))
                }
            }
            root := mload(base)
        }
    }
}
