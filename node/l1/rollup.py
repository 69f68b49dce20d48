"""The rollup's contracts from Python: generate the verifier for a key, compile it with the
rollup contract, deploy on any L1Client, submit batches, read the state back.

The state commitment the rollup contract holds is keccak256 of the commitments to the state
columns, 64 bytes each (x ‖ y big-endian), in the order of the StateLayout (contracts/Rollup.sol
says why the hash and not the points).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from eth_utils import keccak

from prover.air import Air
from prover.keys import VerificationKey
from prover.solidity import verifier_source
from prover.state_layout import StateLayout

from .abi import decode_logs, decode_result, encode_call, encode_constructor
from .client import L1Client, Receipt
from .solc import CONTRACTS_DIR, Artifact, compile_sources

VERIFIER_FILE = "ZkpipeVerifier.sol"
ROLLUP_FILE = "Rollup.sol"

# Gas limits are explicit (node estimates are unreliable for verifiers): generous ceilings,
# several times what a proof of any example circuit costs, well below a block.
SUBMIT_GAS = 1_500_000
VERIFY_GAS = 1_500_000
DEPLOY_GAS = 8_000_000
VIEW_GAS = 100_000


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
        return self.l1.transact(self.address, self.calldata(proof, public_inputs), gas=VERIFY_GAS)

    def accepts(self, proof: bytes, public_inputs) -> bool:
        """True iff the contract accepts (a read-only call; a revert means reject)."""
        from .errors import TransactionReverted
        try:
            out = self.l1.call(self.address, self.calldata(proof, public_inputs), gas=VERIFY_GAS)
        except TransactionReverted:
            return False
        return decode_result(self.artifact.abi, "verifyProof", out)[0] is True


@dataclass
class BatchEvent:
    batch_index: int
    state_commitment: bytes
    data_commitment: bytes
    new_state_commitments: list[tuple[int, int]]


class RollupContract:
    """A deployed rollup contract."""

    def __init__(self, l1: L1Client, artifact: Artifact, address: str):
        self.l1, self.artifact, self.address = l1, artifact, address
        l1.learn_abi(artifact.abi)

    @classmethod
    def deploy(cls, l1: L1Client, air: Air, vk: VerificationKey, layout: StateLayout, genesis_state: bytes,
               submitter: str | None = None, sender: str | None = None) -> "RollupContract":
        art = compile_rollup(air, vk, layout)
        args = encode_constructor(art.abi, bytes(genesis_state), submitter or "0x" + "00" * 20)
        return cls(l1, art, l1.deploy(art.bytecode, args, gas=DEPLOY_GAS, sender=sender))

    def _view(self, name: str):
        out = self.l1.call(self.address, encode_call(self.artifact.abi, name), gas=VIEW_GAS)
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

    def submit_batch(self, batch_index: int, proof: bytes, public_inputs=(), *, gas: int = SUBMIT_GAS,
                     sender: str | None = None) -> Receipt:
        """Send batch `batch_index` with its proof. The receipt's status says whether it was
        accepted; `.check()` raises TransactionReverted with the contract's error."""
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
