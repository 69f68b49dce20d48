"""Benchmark of the node's hot paths: execution, admission, admission over processes, and the
JSON-RPC bulk path.

    python -m bench.node                              # all of them
    python -m bench.node --only executor --transfers 1000000

Prints one JSON object per measurement on stdout and nothing else (progress goes to stderr):

    {"bench": "executor", "transfers": 500000, "per_s": ..., "log2_rows": 20, ...,
     "machine": "AMD EPYC, 2 cores", "loadavg": 0.4}

- executor: `Executor.apply` on pre-verified transfers (random senders among funded accounts,
  random recipients, a share of them new addresses claiming slots), in mini-batches, including
  the proof-batch seals (the old-state snapshot per batch), at two proof-batch sizes. One core:
  the executor is one thread.
- recover: `decode_transfers` alone (RLP, checks, secp256k1 recovery, three keccaks), one core.
- admission: `Sequencer.submit_many` with its cutting thread running: recovery, the pending-state
  checks, the write-ahead log with its fsyncs, and the executor's apply, on one process.
- admission_2proc: the same with signature recovery on a pool of 2 worker processes
  (`recover_pool`), the stateful part staying on the sequencer's process.
- rpc_bulk: `zkpipe_sendRawTransactions` over HTTP against a LocalNode, chunks of 2000.
- restart: a node's restart on a long write-ahead log (`--restart-transfers` in mini-batches of
  `--restart-mini-batch`, a seal per proof batch): the sequencer's and the executor's replay of
  the whole log, against loading the newest snapshot and replaying the `--restart-tail`
  mini-batches after it; with the snapshot's size, the time to take it (on the executor's
  thread) and to encode and write it (on a thread of its own in the node) (node/snapshot.py).
- retention: `Executor.apply` keeping `--retention-keep` blocks in memory, the older ones handed
  to a `BlockArchive` on the log (node/blocks.py) whose index already holds
  `--retention-preload` hashes (a node that has run a while), against no archive: the executor
  thread's time per block (`apply`, marking its batch verified, taking the sealed batch; with
  `paced`, the flush waits too), the time until the index has caught up (`flush`), the
  process's CPU time and its disk writes, each per transfer; and a transaction-hash lookup.
  `paced`: the index flushed after each pruning step (a writer that keeps up with a slow
  chain commits that often), the worst case for its writes.

Signing the inputs is not timed (and is itself spread over 2 processes).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench.primitives import load_average, machine_description
from node.executor import Executor
from node.genesis import parse_genesis
from node.sequencer import GENESIS_HASH, MiniBatch, Sequencer, block_hash
from node.transactions import Transfer, address_of, decode_transfers, sign_transfer

CHAIN = 23115


def progress(message: str) -> None:
    print(f"[bench.node] {message}", file=sys.stderr, flush=True)


def emit(context: dict, **fields) -> None:
    print(json.dumps({**fields, **context, "loadavg": load_average()}), flush=True)


# ---------------------------------------------------------------------------------------------
# Inputs


def funded_genesis(addresses, balance=10**15):
    return parse_genesis({"chainId": CHAIN, "alloc": {"0x" + a.hex(): {"balance": balance} for a in addresses}})


def executor_inputs(n_transfers: int, n_accounts: int, new_share: float, mini_batch: int, seed: int):
    """Valid pre-verified transfers, already cut into mini-batches."""
    rng = random.Random(seed)
    funded = [rng.randbytes(20) for _ in range(n_accounts)]
    genesis = funded_genesis(funded)
    nonces = [0] * n_accounts
    hashes = rng.randbytes(32 * n_transfers)
    transfers = []
    for k in range(n_transfers):
        i = rng.randrange(n_accounts)
        to = rng.randbytes(20) if rng.random() < new_share else funded[rng.randrange(n_accounts)]
        transfers.append(Transfer(funded[i], to, 1 + rng.randrange(1000), nonces[i],
                                  hashes[32 * k:32 * k + 32], b""))
        nonces[i] += 1
    batches, head = [], GENESIS_HASH
    for number, start in enumerate(range(0, n_transfers, mini_batch), 1):
        part = transfers[start:start + mini_batch]
        h = block_hash(head, number, part)
        batches.append(MiniBatch(number, head, h, 0.0, part))
        head = h
    return genesis, batches


def _sign_range(args):
    keys, per_key, seed = args
    rng = random.Random(seed)
    out = []
    for n in range(per_key):
        for i, key in enumerate(keys):
            out.append(sign_transfer(key, chain_id=CHAIN, nonce=n, to=rng.randbytes(20),
                                     value=1 + rng.randrange(1000), kind=2 if (i + n) % 2 else 0))
    return out


def signed_inputs(n: int, n_keys: int, pool: ProcessPoolExecutor):
    """n signed transfers from n_keys funded keys, in an order the sequencer accepts."""
    keys = [os.urandom(32) for _ in range(n_keys)]
    per_key = -(-n // n_keys)
    halves = [keys[:n_keys // 2], keys[n_keys // 2:]]
    parts = list(pool.map(_sign_range, [(h, per_key, i) for i, h in enumerate(halves)]))
    # interleave so that each sender's nonces stay in order
    raws = []
    for n_ in range(per_key):
        for part, h in zip(parts, halves):
            raws.extend(part[n_ * len(h):(n_ + 1) * len(h)])
    return funded_genesis([address_of(k) for k in keys]), raws[:n]


# ---------------------------------------------------------------------------------------------
# Measurements


def bench_executor(args, context):
    progress(f"executor: building {args.transfers} transfers")
    genesis, batches = executor_inputs(args.transfers, args.accounts, args.new_share, args.mini_batch, 1)
    log2_rows = args.log2_rows
    for batch_transfers in args.batch_transfers:
        best = None
        for _ in range(args.reps):
            ex = Executor(genesis, log2_rows=log2_rows, max_batch_transfers=batch_transfers)
            t0 = time.perf_counter()
            for mb in batches:
                ex.apply(mb)
            ex.seal()
            dt = time.perf_counter() - t0
            best = dt if best is None else min(best, dt)
            sealed = ex.batch_count
        emit(context, bench="executor", transfers=args.transfers, per_s=round(args.transfers / best),
             seconds=round(best, 3), log2_rows=log2_rows, max_batch_transfers=batch_transfers,
             proof_batches=sealed,
             mini_batch=args.mini_batch, accounts=args.accounts, new_account_share=args.new_share,
             slots_claimed=ex.state.claimed, reps=args.reps)


def bench_recover(raws, context):
    t0 = time.perf_counter()
    out = decode_transfers(raws, CHAIN)
    dt = time.perf_counter() - t0
    assert all(isinstance(t, Transfer) for t in out)
    emit(context, bench="recover", transactions=len(raws), per_s=round(len(raws) / dt), seconds=round(dt, 3))


def bench_admission(name, genesis, raws, context, pool=None, chunk=16384):
    with tempfile.TemporaryDirectory() as tmp:
        seq = Sequencer(genesis, Path(tmp) / "wal", capacity=1 << 20, recover_pool=pool,
                        recover_chunk=1024, max_pending=1 << 20)
        ex = Executor(genesis, log2_rows=20)
        seq.start(on_cut=ex.apply, on_tick=ex.poll)
        try:
            t0 = time.perf_counter()
            for start in range(0, len(raws), chunk):
                results = seq.submit_many(raws[start:start + chunk])
                assert all(isinstance(r, Transfer) for r in results), results[0]
            dt = time.perf_counter() - t0
        finally:
            seq.stop()
        emit(context, bench=name, transactions=len(raws), per_s=round(len(raws) / dt),
             seconds=round(dt, 3), mini_batches=seq.height, processes=2 if pool else 1,
             submit_chunk=chunk)


def bench_rpc_bulk(genesis, raws, context, chunk=2000):
    import requests

    from node.local_node import LocalNode

    with tempfile.TemporaryDirectory() as tmp:
        node = LocalNode(genesis, Path(tmp) / "wal", log2_rows=20).start()
        try:
            with requests.Session() as s:
                bodies = [json.dumps({"jsonrpc": "2.0", "id": 1, "method": "zkpipe_sendRawTransactions",
                                      "params": [["0x" + r.hex() for r in raws[i:i + chunk]]]})
                          for i in range(0, len(raws), chunk)]
                t0 = time.perf_counter()
                for body in bodies:
                    reply = s.post(node.url, data=body, timeout=120).json()
                    assert all("hash" in x for x in reply["result"]), reply
                dt = time.perf_counter() - t0
        finally:
            node.stop()
    emit(context, bench="rpc_bulk", transactions=len(raws), per_s=round(len(raws) / dt),
         seconds=round(dt, 3), request_chunk=chunk)


def bench_restart(args, context):
    from node.blocks import Seal, encode_record
    from node.snapshot import load_newest, write_snapshot
    from node.wal import WriteAheadLog

    n, mb_size, log2_rows = args.restart_transfers, args.restart_mini_batch, args.restart_log2_rows
    progress(f"restart: building a log of {n} transfers, mini-batches of {mb_size}")
    genesis, batches = executor_inputs(n, min(args.accounts, 1 << (log2_rows - 1)), 0.0, mb_size, 2)
    raw = b"\x02" * 110                      # about a signed transfer's size
    batches = [MiniBatch(b.number, b.parent_hash, b.hash, b.cut_time,
                         [t._replace(raw=raw) for t in b.transfers]) for b in batches]
    snap_at = len(batches) - args.restart_tail
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        ex = Executor(genesis, log2_rows=log2_rows, batch_deadline=float("inf"))
        with WriteAheadLog(d / "sequencer.wal", genesis.digest) as wal:
            for mb in batches:
                wal.append(encode_record(mb), sync=False)
                for b in ex.apply(mb):
                    wal.append(encode_record(Seal(b.index, b.last_block)), sync=False)
                ex.take_sealed()
                if mb.number == snap_at:
                    if ex.batch_count > 4:
                        ex.mark_verified(ex.batch_count - 5)
                    t0 = time.perf_counter()
                    taken = ex.snapshot(genesis.digest)
                    t1 = time.perf_counter()
                    path = write_snapshot(d / "snapshots", taken)
                    take_s, write_s = t1 - t0, time.perf_counter() - t1
            wal.sync()
        wal_bytes = (d / "sequencer.wal").stat().st_size

        def restart(use_snapshot: bool):
            t0 = time.perf_counter()
            snap = load_newest(d / "snapshots", genesis.digest, 1 << log2_rows)[0] if use_snapshot else None
            seq = Sequencer(genesis, d / "sequencer.wal", capacity=1 << log2_rows, snapshot=snap)
            r = Executor(genesis, log2_rows=log2_rows, batch_deadline=float("inf"))
            if seq.snapshot is not None:
                r.restore(seq.snapshot)
            r.replay(seq.take_replayed())
            seq.wal.close()
            dt = time.perf_counter() - t0
            assert r.height == ex.height and r.state.balances == ex.state.balances
            return dt

        full = min(restart(False) for _ in range(args.reps))
        snapped = min(restart(True) for _ in range(args.reps))
        emit(context, bench="restart", transfers=n, mini_batches=len(batches), mini_batch=mb_size,
             log2_rows=log2_rows, wal_bytes=wal_bytes, full_replay_s=round(full, 3),
             snapshot_restart_s=round(snapped, 3), tail_mini_batches=args.restart_tail,
             snapshot_bytes=path.stat().st_size, snapshot_take_s=round(take_s, 3),
             snapshot_write_s=round(write_s, 3),
             speedup=round(full / snapped, 1), reps=args.reps)


def _preloaded_index(wal_path: Path, genesis_digest: bytes, rows: int, seed: int) -> None:
    """An index of the log at `wal_path` that already holds `rows` hashes, as full runs of the
    archive's first merged level (of blocks before the log's: they stand in for history)."""
    import sqlite3

    from node.blocks import FANOUT, RUN_ROWS, BlockArchive, index_path

    BlockArchive(wal_path, genesis_digest).close()        # the schema
    rng = random.Random(seed)
    db = sqlite3.connect(index_path(wal_path), isolation_level=None)
    per_run = RUN_ROWS * FANOUT
    for run in range(-(-rows // per_run)):
        count = min(per_run, rows - run * per_run)
        keys = sorted({rng.getrandbits(64) - (1 << 63) for _ in range(count)})
        db.execute("BEGIN")
        db.executemany("INSERT INTO hashes VALUES (?, ?, 0)", ((run, k) for k in keys))
        db.execute("INSERT INTO runs VALUES (?, 1, ?)", (run, len(keys)))
        db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def _written_bytes() -> int:
    with open("/proc/self/io") as f:
        return int(next(line for line in f if line.startswith("write_bytes:")).split()[1])


def bench_retention(args, context):
    import shutil
    import statistics

    from node.blocks import BlockArchive, Seal, encode_record, index_path
    from node.wal import WriteAheadLog

    n, mb_size, keep = args.retention_transfers, args.retention_mini_batch, args.retention_keep
    progress(f"retention: building a log of {n} transfers in mini-batches of {mb_size}")
    genesis, batches = executor_inputs(n, 1 << 10, 0.0, mb_size, 3)
    raw = b"\x02" * 110
    batches = [MiniBatch(b.number, b.parent_hash, b.hash, b.cut_time,
                         [t._replace(raw=raw) for t in b.transfers]) for b in batches]
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        wal_path = d / "sequencer.wal"
        with WriteAheadLog(wal_path, genesis.digest) as wal:
            for mb in batches:
                wal.append(encode_record(mb), sync=False)
            wal.sync()
        progress(f"retention: an index holding {args.retention_preload} hashes")
        base = d / "base"
        base.mkdir()
        shutil.copy(wal_path, base / "sequencer.wal")
        _preloaded_index(base / "sequencer.wal", genesis.digest, args.retention_preload, 4)

        def run(with_archive: bool, paced: bool = False) -> dict:
            for suffix in ("", "-wal", "-shm"):
                Path(str(index_path(wal_path)) + suffix).unlink(missing_ok=True)
            archive = None
            if with_archive:
                shutil.copy(index_path(base / "sequencer.wal"), index_path(wal_path))
                archive = BlockArchive(wal_path, genesis.digest)
            ex = Executor(genesis, log2_rows=12, batch_deadline=None, retain_blocks=keep, archive=archive)
            w0, c0, t0 = _written_bytes(), time.process_time(), time.perf_counter()
            for mb in batches:
                for b in ex.apply(mb):
                    ex.mark_verified(b.index)
                ex.take_sealed()
                if paced and archive.queued:
                    archive.flush()        # a writer that keeps up: one commit per pruning step
            t1 = time.perf_counter()
            if archive is not None:
                archive.flush()
                assert archive.broken is None and archive.last == ex.height - ex.blocks_in_memory
            t2, c1, w1 = time.perf_counter(), time.process_time(), _written_bytes()
            out = {"apply_us": (t1 - t0) / n * 1e6, "indexed_us": (t2 - t0) / n * 1e6,
                   "cpu_us": (c1 - c0) / n * 1e6, "written_b": (w1 - w0) / n}
            if archive is not None:
                rng = random.Random(5)
                probes = [batches[rng.randrange(len(batches) // 2)].transfers[0].hash for _ in range(200)]
                t3 = time.perf_counter()
                assert all(archive.tx_blocks(h) for h in probes)
                out["lookup_us"] = (time.perf_counter() - t3) / len(probes) * 1e6
                t3 = time.perf_counter()
                found = [ex.receipt(h) for h in probes]
                out["receipt_us"] = (time.perf_counter() - t3) / len(probes) * 1e6
                assert all(r is not None for r in found)
                out["runs"] = archive._reader.execute("SELECT count(*) FROM runs").fetchone()[0]
            ex.close()
            return out

        for with_archive, paced in ((False, False), (True, False), (True, True)):
            runs = [run(with_archive, paced) for _ in range(args.reps)]
            med = {k: round(statistics.median(r[k] for r in runs), 2) for k in runs[0]}
            emit(context, bench="retention", archive=with_archive, paced=paced, transfers=n, mini_batch=mb_size,
                 retain_blocks=keep, preloaded_hashes=args.retention_preload if with_archive else 0,
                 **{f"{k}_per_transfer" if k.endswith(("_us", "_b")) and k not in ("receipt_us", "lookup_us") else k: v
                    for k, v in med.items()},
                 reps=args.reps, statistic="median")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.node", description=__doc__.split("\n\n")[0])
    p.add_argument("--only", nargs="+", choices=["executor", "recover", "admission", "admission_2proc", "rpc_bulk",
                                                 "restart", "retention"])
    p.add_argument("--transfers", type=int, default=500_000, help="executor: transfers applied")
    p.add_argument("--accounts", type=int, default=20_000, help="executor: funded accounts")
    p.add_argument("--new-share", type=float, default=0.1, help="executor: share of transfers to new addresses")
    p.add_argument("--mini-batch", type=int, default=4096)
    p.add_argument("--log2-rows", type=int, default=20, help="executor: 2^n slots")
    p.add_argument("--batch-transfers", type=int, nargs="+", default=[1 << 20, 1 << 16],
                   help="executor: transfers per proof batch (each seal snapshots the 2^n slots)")
    p.add_argument("--reps", type=int, default=3, help="executor: runs, the fastest reported")
    p.add_argument("--signed", type=int, default=20_000, help="admission: signed transactions")
    p.add_argument("--restart-transfers", type=int, default=1_000_000, help="restart: transfers in the log")
    p.add_argument("--restart-mini-batch", type=int, default=64, help="restart: transfers per mini-batch")
    p.add_argument("--restart-log2-rows", type=int, default=10, help="restart: 2^n slots and rows per batch")
    p.add_argument("--restart-tail", type=int, default=100, help="restart: mini-batches after the snapshot")
    p.add_argument("--retention-transfers", type=int, default=81_920, help="retention: transfers applied")
    p.add_argument("--retention-mini-batch", type=int, default=512, help="retention: transfers per mini-batch")
    p.add_argument("--retention-keep", type=int, default=8, help="retention: blocks kept in memory")
    p.add_argument("--retention-preload", type=int, default=3_000_000,
                   help="retention: hashes the index holds before the run")
    args = p.parse_args(argv)
    only = set(args.only or ["executor", "recover", "admission", "admission_2proc", "rpc_bulk", "restart",
                             "retention"])
    context = {"machine": machine_description()}

    if "executor" in only:
        bench_executor(args, context)
    if "restart" in only:
        bench_restart(args, context)
    if "retention" in only:
        bench_retention(args, context)
    if only - {"executor", "restart", "retention"}:
        with ProcessPoolExecutor(2) as pool:
            progress(f"signing {args.signed} transfers (not timed)")
            genesis, raws = signed_inputs(args.signed, 256, pool)
            if "recover" in only:
                bench_recover(raws, context)
            if "admission" in only:
                bench_admission("admission", genesis, raws, context)
            if "admission_2proc" in only:
                pool.submit(decode_transfers, raws[:64], CHAIN).result()  # workers warm
                bench_admission("admission_2proc", genesis, raws, context, pool=pool)
        if "rpc_bulk" in only:
            bench_rpc_bulk(genesis, raws, context)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
