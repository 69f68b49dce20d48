"""`zkpipe sync`: rebuild the L2's state from the L1 alone, check it against the L1's state
commitments batch by batch, and (with --data-dir) leave a data directory `zkpipe node` continues.

    zkpipe sync --l1 http://127.0.0.1:8545 --rollup 0x5FbDB2315678afecb367f032d93F642f64180aa3 \\
                --data-dir /var/lib/zkpipe

It checks that the contract is the rollup of the keys of --log2-rows (the same development keys
`zkpipe node` uses), reads its Genesis event (the accounts must commit to the genesis state
commitment under those keys), then every verified
batch's submitBatch calldata (the batch's data travels at the end of its proof) and replays it
(node/sync.py). Exit status: 0 when every state it reached equals the L1's; 1 when one does not
(the genesis or the batch is named), or the L1 cannot be read; 2 for bad arguments or a data
directory that is not empty.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--l1", required=True, metavar="URL", help="the L1's JSON-RPC URL (http:// or https://)")
    parser.add_argument("--rollup", required=True, metavar="ADDRESS", help="the rollup contract's address on the L1")
    parser.add_argument("--data-dir", default=None, metavar="DIR",
                        help="write a new data directory here (absent or empty) that "
                             "`zkpipe node --data-dir DIR --l1 URL` continues")
    parser.add_argument("--log2-rows", type=int, default=10,
                        help="the ledger circuit's size the rollup was deployed with (default 10, as zkpipe node)")
    parser.add_argument("--json", action="store_true",
                        help="also print the rebuilt accounts (address → balance, nonce) as one JSON line")


def _check_arguments(args) -> str | None:
    if not str(args.l1).startswith(("http://", "https://")):
        return f"--l1 must be an http(s) JSON-RPC URL, got {args.l1!r}"
    if not re.fullmatch(r"0x[0-9a-fA-F]{40}", args.rollup):
        return f"--rollup must be a 20-byte 0x-hex address, got {args.rollup!r}"
    if not 3 <= args.log2_rows <= 26:
        return f"--log2-rows must lie in [3, 26], got {args.log2_rows}"
    if args.data_dir is not None:
        d = Path(args.data_dir)
        if d.exists() and not d.is_dir():
            return f"--data-dir {d} is not a directory"
        if d.is_dir() and any(d.iterdir()):
            return f"--data-dir {d} is not empty; rebuild into a new directory"
    return None


def runs_compiled_code(runtime: bytes, compiled: bytes) -> bool:
    """Whether deployed code `runtime` is the compiled runtime code `compiled` with only its
    immutables filled in: solc leaves each immutable's place as 32 zero bytes, which the
    constructor overwrites; every other byte must be the same."""
    if len(runtime) != len(compiled):
        return False
    run, filled = 0, [False] * len(compiled)
    for i, byte in enumerate(compiled + b"\x01"):
        if byte == 0:
            run += 1
            continue
        if run >= 32:
            filled[i - run:i] = [True] * run
        run = 0
    return all(a == b or filled[i] for i, (a, b) in enumerate(zip(runtime, compiled)))


def command(args) -> int:
    problem = _check_arguments(args)
    if problem:
        print(f"zkpipe sync: {problem}", file=sys.stderr)
        return 2
    from node.errors import ZkpipeError

    from node.datadir import DataDirMismatch
    try:
        return _sync(args)
    except DataDirMismatch as e:
        print(f"zkpipe sync: {e}", file=sys.stderr)
        return 2
    except (ZkpipeError, OSError) as e:
        print(f"zkpipe sync: {e}", file=sys.stderr)
        return 1


def _sync(args) -> int:
    from circuits.ledger_data import read_batch_data
    from circuits.ledger_job import InvalidBatch
    from node.l1.rollup import RollupContract
    from node.l1.rpc import RpcL1
    from node.pipeline.circuit import LedgerCircuit
    from node.pipeline.node import NodeConfig
    from node.sync import L1Batch, SyncMismatch, continue_data_dir, genesis_of, rebuild
    from prover.errors import InvalidProof
    from prover.keys import dev_keys
    from prover.proof import decode_proof

    def say(line: str) -> None:
        print(line, flush=True)

    k = args.log2_rows
    circuit = LedgerCircuit(k)
    air, layout = circuit.air(), circuit.layout()
    t = time.perf_counter()
    # The development keys `zkpipe node` makes from its seed (INSECURE): the same SRS commits.
    seed = NodeConfig.seed
    pk, vk = dev_keys(air, k, seed.encode())
    say(f"keys: ledger circuit at 2^{k} rows ({time.perf_counter() - t:.1f} s)")

    l1 = RpcL1(args.l1, timeout=30.0)
    rollup = RollupContract.at(l1, air, vk, layout, args.rollup)
    # Every check below trusts the contract to have verified each batch: it must be the rollup
    # of these keys, not merely a contract that emits the same events.
    if not runs_compiled_code(l1.code_at(rollup.address), rollup.artifact.deployed_bytecode):
        raise SyncMismatch(f"the contract at {rollup.address} is not the rollup of the ledger circuit at 2^{k} "
                           f"rows with zkpipe node's development keys (its code differs): another "
                           f"--log2-rows, or not a zkpipe rollup")
    height = rollup.last_batch_index()
    genesis = rollup.genesis_event()
    calls = [c for c in rollup.batch_calls() if c.batch_index <= height]
    say(f"L1: {args.l1}, rollup at {args.rollup}: L2 chain id {genesis.l2_chain_id}, "
        f"{len(genesis.accounts)} genesis accounts, {len(calls)} verified batches")

    def batches():
        for call in calls:
            try:
                proof = decode_proof(call.proof, vk, publishes=True)
                data = read_batch_data(proof.published, k)
            except (InvalidProof, InvalidBatch) as e:
                raise SyncMismatch(f"batch {call.batch_index}: its calldata does not decode: {e}") from None
            yield L1Batch(call.batch_index, data.transfers, data.claims, data.bridge, call.state_commitment)

    def commit(state) -> bytes:
        return circuit.state_commitment(pk, state.address_column(), state.balances)

    t = time.perf_counter()

    def progress(batch, so_far):
        say(f"batch {batch.index}: {len(batch.transfers)} rows, {len(batch.claims)} new accounts; "
            f"state 0x{so_far.state_commitment.hex()} = the L1's")
    rebuilt = rebuild(genesis.accounts, genesis.state_commitment, batches(), 1 << k, commit, on_batch=progress)
    # The L1 as it is now: the last state must be the one it holds (unless a batch landed since).
    now = rollup.last_batch_index()
    if now == rebuilt.batches:
        held = rollup.state_commitment()
        if held != rebuilt.state_commitment:
            raise SyncMismatch(f"batch {now}: the rollup holds state 0x{held.hex()}, its last event says "
                               f"0x{rebuilt.state_commitment.hex()}")
        consumed = rollup.deposits_consumed()
        if consumed != rebuilt.deposits:
            raise SyncMismatch(f"batch {now}: the rollup counts {consumed} deposits consumed, its batches "
                               f"hold {rebuilt.deposits}")
    state = rebuilt.state
    say(f"rebuilt {rebuilt.batches} batches ({rebuilt.rows} rows: {rebuilt.deposits} deposits, "
        f"{rebuilt.withdrawals} withdrawals) in {time.perf_counter() - t:.1f} s: {state.claimed} accounts, "
        f"state commitment 0x{rebuilt.state_commitment.hex()} equals the L1's"
        + ("" if now == rebuilt.batches else f" at batch {rebuilt.batches} (the L1 is at {now} now)"))
    if args.json:
        print(json.dumps({"l2_chain_id": genesis.l2_chain_id, "batches": rebuilt.batches,
                          "state_commitment": "0x" + rebuilt.state_commitment.hex(),
                          "deposits": rebuilt.deposits, "withdrawals": rebuilt.withdrawals,
                          "accounts": {"0x" + a.hex(): {"balance": str(state.balances[s]), "nonce": state.nonces[s]}
                                       for s, a in enumerate(state.addresses)}}), flush=True)
    if args.data_dir is not None:
        genesis_file = genesis_of(genesis.l2_chain_id, genesis.accounts)
        meta = {"chain_id": genesis.l2_chain_id, "log2_rows": k, "seed": seed, "l1": args.l1,
                "rollup": rollup.address}
        continue_data_dir(args.data_dir, genesis_file, rebuilt, meta)
        say(f"data directory {args.data_dir}: `zkpipe node --data-dir {args.data_dir} --l1 {args.l1} "
            f"--log2-rows {k}` continues the chain from block {rebuilt.batches + 1}")
    return 0
