"""The rollup's contracts from Python: generate the verifier for a key, compile it with the
rollup contract, deploy on any L1Client, submit batches, read the state back; deposit to the
L2, claim withdrawals, and read the rollup's history from the chain alone (its genesis, its
deposits, every verified batch's calldata), as anyone rebuilding the L2 does (docs/bridge.md).

The state commitment the rollup contract holds is keccak256 of the commitments to the state
columns, 64 bytes each (x ‖ y big-endian), in the order of the StateLayout (contracts/Rollup.sol
says why the hash and not the points).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Sequence

from eth_abi import decode
from eth_utils import keccak

from kernels.errors import InvalidInput

from prover.air import Air
from prover.keys import VerificationKey
from prover.solidity import verifier_source
from prover.state_layout import StateLayout

from .abi import decode_logs, decode_result, encode_call, encode_constructor, event_topic, function_selector
from .client import L1Client, Log, Receipt
from .errors import L1Error
from .solc import CONTRACTS_DIR, Artifact, compile_sources

VERIFIER_FILE = "ZkpipeVerifier.sol"
ROLLUP_FILE = "Rollup.sol"

# Gas limits are explicit (node estimates are unreliable for verifiers): generous ceilings,
# several times what a proof of any example circuit costs, well below a block.
SUBMIT_GAS = 1_500_000
VERIFY_GAS = 1_500_000
# A batch's published data costs gas by the byte: calldata (up to 16), the DA check (hashing,
# parsing, interpolating: about 44 a byte for the ledger at 2^10, bench.gas) and the bridge
# records (about 45 a byte of theirs). A whole ledger batch at 2^10 spends 66 a byte of its
# proof; the limits of verifying and submitting grow by 96 a byte, up to a block's worth.
GAS_PER_PROOF_BYTE = 96
GAS_CAP = 30_000_000
DEPLOY_GAS = 8_000_000
VIEW_GAS = 100_000
# Per byte of genesis accounts at deployment: calldata (16), the event's data (8), reading and
# summing (a few): 64 leaves room.
DEPLOY_GAS_PER_GENESIS_BYTE = 64
# A deposit writes two slots (the chain entry, from zero; the count) and emits an event.
DEPOSIT_GAS = 150_000
# A withdrawal hashes up to 32 levels, sets a bit (a fresh word: 22 100) and pays (a call with
# value to a new account: 34 000).
WITHDRAW_GAS = 200_000

GENESIS_ACCOUNT_BYTES = 28      # address (20) ‖ balance (8, big-endian)
# The most init code a creation may carry (EIP-3860, since Shanghai): the rollup's creation code
# with its constructor arguments, the genesis accounts among them.
MAX_INIT_CODE_BYTES = 49_152
# The constructor's arguments besides the accounts' bytes: three words, the offset and the length
# of `bytes genesisAccounts`.
_CONSTRUCTOR_WORDS = 5
MAX_AMOUNT = (1 << 64) - 1      # an L2 balance or amount, and so a deposit, lies in [0, 2^64)


def proof_gas(base: int, proof: bytes) -> int:
    """A gas limit for a transaction carrying `proof` (with its published data)."""
    return min(base + GAS_PER_PROOF_BYTE * len(proof), GAS_CAP)


def state_commitment(points) -> bytes:
    """The L1's state commitment of a list of G1 points (the state columns' commitments)."""
    return keccak(b"".join(int(x).to_bytes(32, "big") + int(y).to_bytes(32, "big") for x, y in points))


def rollup_sources(air: Air, vk: VerificationKey, layout: StateLayout) -> dict[str, str]:
    """The Solidity sources of the rollup for `vk`: the generated verifier and Rollup.sol."""
    return {VERIFIER_FILE: verifier_source(air, vk, layout=layout),
            ROLLUP_FILE: (CONTRACTS_DIR / ROLLUP_FILE).read_text()}


def export_verifier(air: Air, vk: VerificationKey, out_dir: str | Path, layout: StateLayout | None = None) -> list[Path]:
    """Write the Solidity sources for a key into `out_dir`: ZkpipeVerifier.sol, and with a
    state layout also Rollup.sol beside it (it imports the verifier). Returns the paths.
    Raises InvalidCircuit when the key is not for `air`."""
    # Generated before anything is written: a key for another circuit leaves no folder behind.
    if layout is None:
        sources = {VERIFIER_FILE: verifier_source(air, vk)}
    else:
        sources = rollup_sources(air, vk, layout)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in sources.items():
        path = out / name
        path.write_text(text)
        written.append(path)
    return written


def compile_verifier(air: Air, vk: VerificationKey) -> Artifact:
    """The standalone verifier contract of `vk`, compiled."""
    return compile_sources({VERIFIER_FILE: verifier_source(air, vk)})["ZkpipeVerifier"]


def compile_rollup(air: Air, vk: VerificationKey, layout: StateLayout) -> Artifact:
    return compile_sources(rollup_sources(air, vk, layout))["Rollup"]


class VerifierContract:
    """A deployed standalone verifier."""

    def __init__(self, l1: L1Client, artifact: Artifact, address: str):
        self.l1, self.artifact, self.address = l1, artifact, address
        l1.learn_abi(artifact.abi)

    @classmethod
    def deploy(cls, l1: L1Client, air: Air, vk: VerificationKey) -> "VerifierContract":
        art = compile_verifier(air, vk)
        return cls(l1, art, l1.deploy(art.bytecode, gas=DEPLOY_GAS))

    def calldata(self, proof: bytes, public_inputs) -> bytes:
        return encode_call(self.artifact.abi, "verifyProof", bytes(proof), [int(v) for v in public_inputs])

    def verify(self, proof: bytes, public_inputs) -> Receipt:
        """Verify in a transaction (to measure gas); status tells accept or reject."""
        return self.l1.transact(self.address, self.calldata(proof, public_inputs), gas=proof_gas(VERIFY_GAS, proof))

    def accepts(self, proof: bytes, public_inputs) -> bool:
        """True iff the contract accepts (a read-only call; a revert means reject)."""
        from .errors import TransactionReverted
        try:
            out = self.l1.call(self.address, self.calldata(proof, public_inputs), gas=proof_gas(VERIFY_GAS, proof))
        except TransactionReverted:
            return False
        return decode_result(self.artifact.abi, "verifyProof", out)[0] is True


@dataclass
class BatchEvent:
    batch_index: int
    state_commitment: bytes
    data_commitment: bytes
    new_state_commitments: list[tuple[int, int]]


class GenesisEvent(NamedTuple):
    """The L2's start as the rollup announced it at deployment: chain id, state commitment and
    the accounts per slot from slot 0, (address as an int, balance in wei)."""

    l2_chain_id: int
    state_commitment: bytes
    accounts: list[tuple[int, int]]


class DepositEvent(NamedTuple):
    """Deposit `index` of the queue: `amount` wei for L2 address `l2_address` (an int), paid on
    the L1 by `l1_sender` (an int), in L1 block `block` by transaction `tx_hash`."""

    index: int
    l2_address: int
    amount: int
    l1_sender: int
    block: int
    tx_hash: str


class BatchCall(NamedTuple):
    """A verified batch as its submitBatch transaction carried it, with the state commitment
    its BatchVerified event reports."""

    batch_index: int
    proof: bytes
    public_inputs: list[int]
    tx_hash: str
    state_commitment: bytes


def encode_genesis_accounts(accounts: Sequence[tuple[int, int]]) -> bytes:
    """The constructor's genesis accounts: per slot, address (20 bytes) ‖ balance (8 bytes),
    trailing empty slots (0, 0) left out (slots past the list are empty). InvalidInput for an
    address or balance out of range."""
    accounts = list(accounts)
    while accounts and not _as_int(accounts[-1][0]) and not int(accounts[-1][1]):
        accounts.pop()
    out = bytearray()
    for slot, (address, balance) in enumerate(accounts):
        address, balance = _as_int(address), int(balance)
        if not 0 <= address < 1 << 160:
            raise InvalidInput(f"genesis slot {slot}: address {address:#x} is not 20 bytes")
        if not 0 <= balance <= MAX_AMOUNT:
            raise InvalidInput(f"genesis slot {slot}: balance {balance} is outside [0, 2^64)")
        out += address.to_bytes(20, "big") + balance.to_bytes(8, "big")
    return bytes(out)


def max_genesis_accounts(artifact: Artifact) -> int:
    """The most genesis accounts a deployment of `artifact` can announce: its creation code and
    the constructor's arguments (the accounts padded to whole words) within MAX_INIT_CODE_BYTES."""
    room = MAX_INIT_CODE_BYTES - len(artifact.bytecode) - 32 * _CONSTRUCTOR_WORDS
    return max(0, room // 32 * 32 // GENESIS_ACCOUNT_BYTES)


def check_genesis_fits(artifact: Artifact, accounts: Sequence[tuple[int, int]]) -> None:
    """InvalidInput unless a deployment of `artifact` can announce `accounts` (encoded as
    encode_genesis_accounts does): an L1 refuses a creation over MAX_INIT_CODE_BYTES whatever its
    gas, so the rollup's genesis is capped, and accounts beyond the cap are funded by deposits."""
    count = len(encode_genesis_accounts(accounts)) // GENESIS_ACCOUNT_BYTES
    most = max_genesis_accounts(artifact)
    if count > most:
        raise InvalidInput(f"a genesis of {count} accounts does not fit in the rollup's deployment: an L1 "
                           f"takes at most {MAX_INIT_CODE_BYTES} bytes of creation code (EIP-3860), which leaves "
                           f"room for {most} accounts; start with at most {most} and fund the others by "
                           f"deposits once the rollup runs")


def decode_genesis_accounts(data: bytes) -> list[tuple[int, int]]:
    if len(data) % GENESIS_ACCOUNT_BYTES:
        raise L1Error(f"genesis accounts of {len(data)} bytes are not whole {GENESIS_ACCOUNT_BYTES}-byte entries")
    return [(int.from_bytes(data[i:i + 20], "big"), int.from_bytes(data[i + 20:i + 28], "big"))
            for i in range(0, len(data), GENESIS_ACCOUNT_BYTES)]


def _as_int(address) -> int:
    """An address given as an int, a 0x-hex string or 20 bytes, as an int."""
    if isinstance(address, int):
        return address
    if isinstance(address, (bytes, bytearray)):
        return int.from_bytes(address, "big")
    return int(str(address), 16)


def _address(address) -> str:
    """An address in any of _as_int's forms, as 0x-hex for the ABI encoder."""
    value = _as_int(address)
    if not 0 <= value < 1 << 160:
        raise InvalidInput(f"{value:#x} is not a 20-byte address")
    return "0x" + value.to_bytes(20, "big").hex()


class RollupContract:
    """A deployed rollup contract."""

    def __init__(self, l1: L1Client, artifact: Artifact, address: str):
        self.l1, self.artifact, self.address = l1, artifact, address
        l1.learn_abi(artifact.abi)
        # (k, b): deposits from index k on lie in blocks from b on (b: deposit k − 1's block),
        # so that a watcher polling for new deposits reads only the recent blocks' logs.
        self._deposits_from = (0, 0)

    @classmethod
    def deploy(cls, l1: L1Client, air: Air, vk: VerificationKey, layout: StateLayout, genesis_state: bytes,
               submitter: str | None = None, sender: str | None = None, *, l2_chain_id: int = 0,
               genesis_accounts: Sequence[tuple[int, int]] = (), value: int | None = None,
               artifact: Artifact | None = None) -> "RollupContract":
        """Deploy at `genesis_state`, announcing `genesis_accounts` ((address, balance) per slot
        from slot 0; the contract cannot check that they commit to `genesis_state`, a reader
        of the Genesis event does) and escrowing `value` wei, by default exactly their sum (the
        contract refuses any other amount: GenesisNotFunded). InvalidInput, before anything is
        sent, for more accounts than the deployment can carry (check_genesis_fits). `artifact`:
        compile_rollup's for these arguments, when the caller has it."""
        art = artifact or compile_rollup(air, vk, layout)
        check_genesis_fits(art, genesis_accounts)
        accounts = encode_genesis_accounts(genesis_accounts)
        if value is None:
            value = sum(int(b) for _, b in genesis_accounts)
        args = encode_constructor(art.abi, bytes(genesis_state), submitter or "0x" + "00" * 20, int(l2_chain_id),
                                  accounts)
        gas = DEPLOY_GAS + DEPLOY_GAS_PER_GENESIS_BYTE * len(accounts)
        return cls(l1, art, l1.deploy(art.bytecode, args, gas=gas, sender=sender, value=int(value)))

    @classmethod
    def at(cls, l1: L1Client, air: Air, vk: VerificationKey, layout: StateLayout, address: str) -> "RollupContract":
        """The rollup of `vk` already deployed at `address` (L1Error when no code is there)."""
        if not l1.code_at(address):
            raise L1Error(f"no contract at {address} on {l1.name}")
        return cls(l1, compile_rollup(air, vk, layout), address)

    def _view(self, name: str, *args):
        out = self.l1.call(self.address, encode_call(self.artifact.abi, name, *args), gas=VIEW_GAS)
        return decode_result(self.artifact.abi, name, out)[0]

    def state_commitment(self) -> bytes:
        """The state commitment the contract holds now."""
        return self._view("stateCommitment")

    def last_batch_index(self) -> int:
        """The index of the last verified batch (0: genesis)."""
        return self._view("lastBatchIndex")

    def submitter(self) -> str:
        """The only account allowed to submit; the zero address when anyone may."""
        return self._view("submitter")

    # -- the bridge -------------------------------------------------------------------------
    def escrow(self) -> int:
        """The wei the rollup holds for the L2."""
        return self.l1.balance(self.address)

    def deposit_count(self) -> int:
        """Deposits queued so far."""
        return self._view("depositCount")

    def deposits_consumed(self) -> int:
        """Deposits that verified batches consumed (the queue position of the next one)."""
        return self._view("depositsConsumed")

    def deposit_chain_at(self, i: int) -> bytes:
        """The deposit chain after the first `i` deposits."""
        return self._view("depositChainAt", int(i))

    def withdrawal_root(self, batch_index: int) -> bytes:
        """The Merkle root of batch `batch_index`'s withdrawals (32 zero bytes: none)."""
        return self._view("withdrawalRoot", int(batch_index))

    def is_withdrawn(self, batch_index: int, index: int) -> bool:
        return self._view("isWithdrawn", int(batch_index), int(index))

    def deposit(self, l2_address, amount: int, sender: str | None = None) -> Receipt:
        """Escrow `amount` wei for `l2_address` (an int, hex or bytes) and queue it. The receipt's
        status says whether the contract took it (1 ≤ amount < 2^64, a nonzero address)."""
        data = encode_call(self.artifact.abi, "deposit", _address(l2_address))
        return self.l1.transact(self.address, data, gas=DEPOSIT_GAS, sender=sender, value=int(amount))

    def withdraw(self, batch_index: int, index: int, recipient, amount: int, path: Sequence[bytes],
                 sender: str | None = None, *, gas: int = WITHDRAW_GAS) -> Receipt:
        """Claim withdrawal `index` of batch `batch_index`: `amount` wei to `recipient`, proven by
        `path` (node.l1.withdrawals). Anyone may send it; the money goes to `recipient`. A
        recipient contract that needs more gas to accept a payment than the default leaves
        (about 150 000) needs a higher `gas`."""
        data = encode_call(self.artifact.abi, "withdraw", int(batch_index), int(index), _address(recipient),
                           int(amount), [bytes(p) for p in path])
        return self.l1.transact(self.address, data, gas=gas, sender=sender)

    # -- the history, from the chain alone ----------------------------------------------------
    def _events(self, name: str, from_block: int = 0) -> list[tuple[Log, dict]]:
        item = next(i for i in self.artifact.abi if i.get("type") == "event" and i["name"] == name)
        logs = self.l1.get_logs(self.address, topic=event_topic(item), from_block=from_block)
        return list(zip(logs, decode_logs(self.artifact.abi, logs)))

    def genesis_event(self) -> GenesisEvent:
        """The Genesis event of the deployment; L1Error when the chain has none (not a rollup
        of this kind, or a node that dropped old logs)."""
        found = self._events("Genesis")
        if len(found) != 1:
            raise L1Error(f"the rollup at {self.address} has {len(found)} Genesis events, expected one")
        ev = found[0][1]
        return GenesisEvent(ev["l2ChainId"], ev["stateCommitment"], decode_genesis_accounts(ev["accounts"]))

    def deposit_events(self, from_index: int = 0, to_block: int | None = None) -> list[DepositEvent]:
        """The queued deposits from index `from_index` on, in queue order; with `to_block`, only
        those in blocks up to it (deposits deeper than a confirmation depth: a later deposit is
        never in an earlier block, so these are a prefix of the queue)."""
        known, block = self._deposits_from
        out = [DepositEvent(ev["index"], _as_int(ev["l2Address"]), ev["amount"], _as_int(ev["l1Sender"]),
                            log.block_number, log.tx_hash)
               for log, ev in self._events("Deposited", block if from_index >= known else 0)
               if ev["index"] >= from_index and (to_block is None or log.block_number <= to_block)]
        out.sort(key=lambda d: d.index)
        if [d.index for d in out] != list(range(from_index, from_index + len(out))):
            raise L1Error(f"the deposit events of {self.address} from {from_index} are not consecutive")
        if out and out[-1].index + 1 > known:
            self._deposits_from = (out[-1].index + 1, out[-1].block)
        return out

    def batch_calls(self) -> list[BatchCall]:
        """Every verified batch in order, as its submitBatch call carried it (the proof with the
        batch's published data at its end): the L1's copy of the L2's history."""
        item = next(i for i in self.artifact.abi if i.get("type") == "function" and i["name"] == "submitBatch")
        selector, types = function_selector(item), [p["type"] for p in item["inputs"]]
        out = []
        for log, ev in self._events("BatchVerified"):
            data = self.l1.transaction_input(log.tx_hash)
            if data[:4] != selector:
                raise L1Error(f"batch {ev['batchIndex']} was verified in {log.tx_hash}, which is no direct "
                              "submitBatch call: its data cannot be read from the transaction")
            index, proof, public_inputs = decode(types, data[4:])
            if index != ev["batchIndex"]:
                raise L1Error(f"transaction {log.tx_hash} submits batch {index}, its event says {ev['batchIndex']}")
            out.append(BatchCall(index, bytes(proof), [int(v) for v in public_inputs], log.tx_hash,
                                 ev["stateCommitment"]))
        return out

    def submit_batch(self, batch_index: int, proof: bytes, public_inputs=(), *, gas: int | None = None,
                     sender: str | None = None) -> Receipt:
        """Send batch `batch_index` with its proof (and the batch's data at its end). The
        receipt's status says whether it was accepted; `.check()` raises TransactionReverted
        with the contract's error. The gas limit defaults to one that grows with the data."""
        if gas is None:
            gas = proof_gas(SUBMIT_GAS, proof)
        data = encode_call(self.artifact.abi, "submitBatch", int(batch_index), bytes(proof),
                           [int(v) for v in public_inputs])
        return self.l1.transact(self.address, data, gas=gas, sender=sender)

    def events(self, receipt: Receipt) -> list[BatchEvent]:
        """The BatchVerified events this contract emitted in the transaction of `receipt`."""
        out = []
        for ev in decode_logs(self.artifact.abi, [lg for lg in receipt.logs if lg.address.lower() == self.address.lower()]):
            if ev["event"] != "BatchVerified":
                continue
            raw = ev["newStateCommitments"]
            pts = [(int.from_bytes(raw[i:i + 32], "big"), int.from_bytes(raw[i + 32:i + 64], "big"))
                   for i in range(0, len(raw), 64)]
            out.append(BatchEvent(ev["batchIndex"], ev["stateCommitment"], ev["dataCommitment"], pts))
        return out
