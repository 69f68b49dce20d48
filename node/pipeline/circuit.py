"""What the pipeline needs to know of a circuit, in one small adapter per circuit.

A prover worker is given an adapter and a proving key and nothing else about the circuit:

    air()            the AIR (built once per worker)
    witness(job)     (trace, public inputs) from the compact job, built where it is proven
    batch_index(job) the batch's number on the L1
    transfers(job)   how many transfers it carries (for throughput figures)
    empty_job()      a job with nothing in it
    sample_job()     a small job with a row of each kind (with empty_job, the worker's warm-up)

`LedgerCircuit` is the rollup's. The adapter is also where the rollup contract's view of the
circuit lives: which public columns are the old and new state (`layout`), and the state
commitment of a state (`state_commitment`), which the L1 holds.
"""

from __future__ import annotations

from prover.state_layout import StateLayout


class LedgerCircuit:
    """The ledger circuit (circuits.ledger) at 2^log2_rows rows: that many account slots and
    room for that many transfers per batch."""

    def __init__(self, log2_rows: int):
        self.log2_rows = log2_rows

    @property
    def rows(self) -> int:
        return 1 << self.log2_rows

    def air(self):
        from circuits.ledger import Ledger
        return Ledger(self.log2_rows)

    def witness(self, job):
        from circuits.ledger_trace import build_trace
        return build_trace(job)

    def batch_index(self, job) -> int:
        return int(job.batch_index)

    def transfers(self, job) -> int:
        return len(job.transfers)

    def empty_job(self):
        from circuits.ledger_job import LedgerJob
        return LedgerJob(batch_index=0, log2_rows=self.log2_rows, old_addresses=[], old_balances=[], transfers=[])

    def sample_job(self):
        """A small batch with one row of each kind (a transfer, a transfer to a new address, a
        deposit, a withdrawal): its proof runs the kernels an empty batch leaves out (the
        commitments of columns that are not all zero), so a worker warmed up with it compiles
        them before its first real batch instead of during it."""
        from circuits.ledger_air import KIND_DEPOSIT, KIND_WITHDRAWAL
        from circuits.ledger_job import LedgerJob
        a, b, c = 0xA11CE, 0xB0B, 0xCAFE
        return LedgerJob(batch_index=0, log2_rows=self.log2_rows, old_addresses=[a, b], old_balances=[10**6, 10**3],
                         transfers=[(0, 1, 5), (1, 2, 7), (1, 1, 11), (0, 0, 3)], claims=[(2, c)],
                         bridge=[(2, KIND_DEPOSIT, b), (3, KIND_WITHDRAWAL, a)])

    # -- the rollup contract's view -----------------------------------------------------------
    def layout(self) -> StateLayout:
        from circuits.ledger import Ledger
        return Ledger.state_layout

    def state_commitment(self, pk, addresses: list[int], balances: list[int], backend=None) -> bytes:
        """The L1's commitment to a state (addresses as integers and balances, by slot; the
        remaining slots empty): keccak of the packed commitment of its state group."""
        from circuits.ledger_commitments import state_commitment as group_points
        from node.l1.rollup import state_commitment

        from kernels import get_backend
        be = backend or get_backend("cpu")
        return state_commitment(list(group_points(pk.srs_g1, self.log2_rows, addresses, balances, be)))
