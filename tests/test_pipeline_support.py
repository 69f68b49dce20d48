"""Shared set-up for the pipeline's Ray tests (no tests here): chained ledger batches made by
the node's own ledger state from signed transfers, the rollup contract that checks them, and a
helper to wait on the pipeline."""

from __future__ import annotations

import functools
import time

from circuits.ledger_job import LedgerJob
from node.genesis import dev_genesis
from node.l1.rollup import RollupContract
from node.pipeline.circuit import LedgerCircuit
from node.pipeline.loadgen import dev_keys, presign
from node.state import LedgerState
from node.transactions import address_of, decode_transfer

from .prover_util import keys_for


@functools.lru_cache(maxsize=None)
def ledger_chain(log2_rows: int, count: int, per_batch: int = 16, seed: str = "pipeline tests"):
    """(circuit, pk, vk, genesis commitment, [LedgerJob for L1 batches 1..count], final
    commitment): signed transfers between funded accounts, executed by the node's ledger
    state, each batch starting from the state the previous one left."""
    circuit = LedgerCircuit(log2_rows)
    pk, vk = keys_for(circuit.air(), log2_rows)
    keys = dev_keys(8, seed)
    genesis = dev_genesis(accounts={address_of(k): 10**12 for k in keys})
    state = LedgerState.from_genesis(genesis, 1 << log2_rows)
    start = circuit.state_commitment(pk, state.address_column(), state.balances)
    txs = [decode_transfer(raw, genesis.chain_id) for raw in presign(keys, count * per_batch, genesis.chain_id)]
    jobs = []
    for b in range(count):
        old_addresses, old_balances = state.address_column(), list(state.balances)
        rows = state.execute(txs[b * per_batch:(b + 1) * per_batch])
        jobs.append(LedgerJob(b + 1, log2_rows, old_addresses, old_balances, rows))
    final = circuit.state_commitment(pk, state.address_column(), state.balances)
    return circuit, pk, vk, start, tuple(jobs), final


def deploy_rollup(l1, circuit, vk, genesis_commitment) -> RollupContract:
    return RollupContract.deploy(l1, circuit.air(), vk, circuit.layout(), genesis_commitment)


def wait_for(predicate, timeout: float, poll: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise TimeoutError(f"{what} not reached within {timeout} s")
