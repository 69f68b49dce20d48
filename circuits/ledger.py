"""The ledger circuit: the execution trace of one batch of transfers, deposits and
withdrawals (docs/ledger.md).

    from circuits.ledger import Ledger, LedgerJob, build_trace

    job = LedgerJob(batch_index=1, log2_rows=10, old_addresses=[…], old_balances=[…],
                    transfers=[(from_slot, to_slot, amount), …], claims=[(slot, address), …],
                    bridge=[(index, KIND_DEPOSIT, address), …])
    trace, public_inputs = build_trace(job)        # InvalidBatch for a job no trace exists for
    air = Ledger(job.log2_rows)

The parts: ledger_air (columns and constraints), ledger_job (the job and its JSON form),
ledger_trace (job → trace), ledger_commitments (the state and data commitments the L1 sees).
"""

from .ledger_air import (ADDRESS_BITS, DATA, KIND_DEPOSIT, KIND_REFUND, KIND_WITHDRAWAL, NEW_STATE, OLD_STATE,
                         VALUE_BITS, Ledger, LimbLayout)
from .ledger_commitments import proof_commitments, state_commitment, trace_commitments
from .ledger_job import InvalidBatch, LedgerJob, load_job, save_job
from .ledger_trace import apply_transfers, build_trace, complete_trace

__all__ = ["Ledger", "LimbLayout", "LedgerJob", "InvalidBatch", "build_trace", "complete_trace",
           "apply_transfers", "load_job", "save_job", "state_commitment", "trace_commitments",
           "proof_commitments", "OLD_STATE", "NEW_STATE", "DATA", "VALUE_BITS", "ADDRESS_BITS",
           "KIND_DEPOSIT", "KIND_WITHDRAWAL", "KIND_REFUND"]
