"""The sequencer and the executor as Ray actors, and the JSON-RPC face over both.

The plain classes (node.sequencer.Sequencer, node.executor.Executor) are used as they are;
these wrappers add what the pipeline needs around them:

- the sequencer's cutting thread hands each mini-batch to the executor actor and waits for it
  (a transfer is acknowledged only once it is executed: soft finality at acknowledgement);
- a proof batch is sealed by the executor, its seal written to the sequencer's log, and only
  then released to the coordinator (a restart seals the same batch, so nothing is proven under
  two numberings);
- batching is work-conserving: the coordinator tells the executor actor how many provers are
  free (`provers_free`) and wakes the sequencer's cutting thread, so that the executor seals
  its open batch at once while one is (and at every mini-batch or tick after), less the batches
  sealed that the coordinator has not seen yet (so one free prover gets one batch, not one per
  tick);
- admission passes through a gate (node.pipeline.admission) that bounds the transfers admitted
  and not yet proven, per transaction, and that the coordinator closes while the L1 is behind;
- each transfer's submission time travels with it, so that every stage reports latencies
  since submission;
- deposits from the L1 (handed on by the node's L1 watcher) go through the sequencer's log like
  a cut, and count in the backlog as the rows they take (they are never refused).

Proof batches are numbered as the L1 numbers them (the first batch after genesis is 1); the
executor's own numbering differs by `batch_offset`, applied here and nowhere else.
"""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np
import ray

from node.blocks import BlockArchive, MiniBatch
from node.errors import InvalidTransaction
from node.executor import RETAIN_BLOCKS, Executor, ledger_job

from .actors import relay_sink
from .admission import AdmissionGate, refusal
from .events import Every, batch_event, counter, gauge, txs_event


class GatedSequencer:
    """What NodeApi sees as its sequencer: the real one, with every submission taking room in
    the gate first (one place per transaction) and reported to `admitted(accepted transfers,
    refused count, submission time)`."""

    def __init__(self, sequencer, gate: AdmissionGate, admitted):
        self._seq, self._gate, self._admitted = sequencer, gate, admitted

    def __getattr__(self, name):
        return getattr(self._seq, name)

    def submit(self, raw: bytes, timeout: float | None = 30.0):
        self._gate.take(1)
        t = time.time()
        (result,), ticket = self._seq.admit([_decode(raw, self._seq.chain_id)])
        if isinstance(result, InvalidTransaction):
            self._gate.give_back(1)
            self._admitted([], 1, t)
            raise result
        self._admitted([result], 0, t)
        self._seq.wait_durable(ticket, timeout)
        return result

    def submit_many(self, raws, timeout: float | None = 60.0):
        return self.submit_stamped(raws, time.time(), timeout)

    def submit_stamped(self, raws, t_submit: float, timeout: float | None = 60.0):
        """The first transactions of `raws` that the gate has room for are admitted; each of
        the rest is refused ("txpool is full"), to be sent again."""
        if not raws:
            return []
        granted = self._gate.take(len(raws))
        results, ticket = self._seq.admit(self._seq.recover(raws[:granted]))
        accepted = [r for r in results if not isinstance(r, InvalidTransaction)]
        self._gate.give_back(granted - len(accepted))
        results += [InvalidTransaction(refusal(granted + i, granted, self._gate.limit))
                    for i in range(len(raws) - granted)]
        self._admitted(accepted, len(results) - len(accepted), t_submit)
        self._seq.wait_durable(ticket, timeout)
        return results


def _decode(raw, chain_id):
    from node.sequencer import decode_transfer_or_error
    return decode_transfer_or_error(raw, chain_id)


class ExecutorView:
    """What NodeApi sees as its executor: the executor actor's answers."""

    def __init__(self, actor, genesis):
        self._actor = actor
        self.genesis_balances = dict(genesis.alloc)

    @property
    def height(self) -> int:
        return ray.get(self._actor.height.remote())

    def balance(self, address: bytes) -> int:
        return ray.get(self._actor.balance.remote(address))

    def nonce(self, address: bytes) -> int:
        return ray.get(self._actor.nonce.remote(address))

    def receipt(self, tx_hash: bytes):
        return ray.get(self._actor.receipt.remote(tx_hash))

    # The read-only queries of node/eth_api.py, answered by the executor actor.
    def _query(self, name: str, *args):
        try:
            return ray.get(self._actor.query.remote(name, *args))
        except ray.exceptions.RayTaskError as e:
            # The query's own error (HistoryUnavailable, …) reaches the client as itself, not
            # wrapped in the actor's traceback.
            if isinstance(getattr(e, "cause", None), Exception):
                raise e.cause from None
            raise

    @property
    def safe_height(self) -> int:
        return self._query("safe_height")

    @property
    def finalized_height(self) -> int:
        return self._query("finalized_height")

    def block(self, number: int):
        return self._query("block", number)

    def parent_hash(self, number: int) -> bytes:
        return self._query("parent_hash", number)

    def block_by_hash(self, block_hash: bytes):
        return self._query("block_by_hash", block_hash)

    def transaction(self, tx_hash: bytes):
        return self._query("transaction", tx_hash)

    def block_receipts(self, number: int):
        return self._query("block_receipts", number)

    def balance_at(self, address: bytes, number: int) -> int:
        return self._query("balance_at", address, number)

    def nonce_at(self, address: bytes, number: int) -> int:
        return self._query("nonce_at", address, number)

    def withdrawal(self, tx_hash: bytes):
        return self._query("withdrawal", tx_hash)


class BatchRoom:
    """The rows (transfers and deposits) cut since the executor's last seal, and so the room
    left in its open proof batch. The sequencer cuts no mini-batch larger than that room: a
    mini-batch that would overflow the open batch makes the executor seal it short first, and
    under a heavy load (mini-batches of up to a whole batch) every other proof was then spent
    on a sliver. Cut to fit, a batch fills exactly and is sealed full."""

    def __init__(self, batch_rows: int, open_rows: int = 0, height: int = 0):
        self.batch_rows = batch_rows
        self._blocks: deque = deque([(height, open_rows)] if open_rows else [])   # (number, rows)
        self._lock = threading.Lock()

    def cut(self, number: int, rows: int) -> None:
        if not rows:             # an idle block takes no room (and an idle node seals nothing)
            return
        with self._lock:
            self._blocks.append((number, rows))

    def sealed_through(self, last_block: int) -> None:
        """A batch ending with mini-batch `last_block` was sealed."""
        with self._lock:
            while self._blocks and self._blocks[0][0] <= last_block:
                self._blocks.popleft()

    def room(self) -> int:
        """Rows the open batch still takes (a full one is sealed at once: never less than 1)."""
        with self._lock:
            return max(1, self.batch_rows - sum(rows for _, rows in self._blocks))


class SequencerActor:
    """A Sequencer with its cutting thread, the admission gate, and (with `rpc_port` not None)
    the JSON-RPC server on 127.0.0.1, which asks the L1 `rollup` names (L1 spec, artifact,
    address) whether a verified withdrawal was claimed."""

    def __init__(self, genesis, wal_path: str, executor, *, log2_rows: int, max_mini_batch: int = 4096,
                 cut_interval: float = 0.010, admit_wait_s: float = 2.0, relay=None, rpc_port: int | None = None,
                 max_backlog: int | None = None, snapshot_dir: str | None = None, rollup: tuple | None = None,
                 idle_block_interval: float | None = None, verified_at_most: int | None = None):
        from node.sequencer import Sequencer
        from node.snapshot import load_newest

        self.sink = relay_sink(relay)
        self.executor = executor
        self.gate = AdmissionGate(admit_wait_s, max_backlog)
        # The newest snapshot of the executed state that fits the log and the L1 (no batch past
        # `verified_at_most` counted as verified): only the log after it is replayed (none, or
        # none that fits: the whole log).
        snapshot, self.snapshot_skipped = (load_newest(snapshot_dir, genesis.digest, 1 << log2_rows,
                                                       verified_at_most)
                                           if snapshot_dir else (None, []))
        self.sequencer = Sequencer(genesis, wal_path, capacity=1 << log2_rows, max_mini_batch=max_mini_batch,
                                   cut_interval=cut_interval, snapshot=snapshot,
                                   idle_block_interval=idle_block_interval)
        if self.sequencer.snapshot_refused:
            self.snapshot_skipped.append(self.sequencer.snapshot_refused)
        ray.get(executor.open_archive.remote(wal_path))   # old blocks are read back from the log
        self._submitted: dict[bytes, float] = {}     # tx hash → submission time, until cut
        self._lock = threading.Lock()
        self._sample = Every(0.5)
        self.front = GatedSequencer(self.sequencer, self.gate, self._admitted)
        restored = [] if self.sequencer.snapshot is None else ray.get(
            executor.restore.remote(self.sequencer.snapshot))
        replayed = self.sequencer.take_replayed()
        self.max_mini_batch = max_mini_batch
        self.room = BatchRoom(1 << log2_rows)
        if replayed or restored:
            self._release(restored + ray.get(executor.replay.remote(replayed)), log_seals=False)
            # What the log holds beyond the L1 counts against the bound until it is proven.
            st = ray.get(executor.status.remote())
            self.gate.carry(st["executed_transfers"] - st["verified_transfers"])
            self.room = BatchRoom(1 << log2_rows, st["open_transfers"], self.sequencer.height)
            self._fit_cuts()
        self.server = None
        if rpc_port is not None:
            from node.eth_api import NodeApi
            from node.rpc import RpcServer
            self.api = NodeApi(self.front, ExecutorView(executor, genesis), withdrawn=_claims(rollup))
            self.server = RpcServer(self.api, "127.0.0.1", rpc_port).start()
        self.sequencer.start(on_cut=self._on_cut, on_tick=self._on_tick)

    # -- remote methods -----------------------------------------------------------------------
    def ready(self) -> dict:
        snapshot = self.sequencer.snapshot
        return {"rpc_url": self.server.url if self.server else None, "chain_id": self.sequencer.chain_id,
                "snapshot": None if snapshot is None else snapshot.height, "deposits": self.sequencer.deposits,
                "snapshot_skipped": self.snapshot_skipped}

    def submit_many(self, raws: list, t_submit: float | None = None) -> list:
        """The bulk path: per transaction its hash, or the InvalidTransaction that refused it.
        Raises AdmissionClosed (nothing accepted) while the gate has no room."""
        results = self.front.submit_stamped(raws, time.time() if t_submit is None else t_submit)
        return [r if isinstance(r, InvalidTransaction) else r.hash for r in results]

    def add_deposits(self, deposits: list) -> int:
        """Log and apply these L1 deposits (node.bridge.Deposit, in queue order; those already
        logged are skipped); returns the queue index of the next one."""
        blocks = self.sequencer.add_deposits(deposits)
        self.gate.carry(sum(len(b.transfers) for b in blocks))
        return self.sequencer.deposits

    def set_admission(self, is_open: bool) -> None:
        self.gate.set(is_open)

    def wake(self, *told) -> None:
        """Poll the executor now rather than at the next tick: a prover is free. `told` are
        the coordinator's provers_free calls to the executor, passed as object references so
        that Ray runs this only once the executor has heard of the free prover."""
        self.sequencer.wake()

    def proven(self, transfers: int) -> None:
        """A batch of `transfers` was proven: room in the backlog again."""
        self.gate.proven(transfers)

    def seal_open(self) -> None:
        """Seal the executor's open proof batch now (end of a run), through the log like any seal."""
        with self.sequencer.between_blocks():   # the seal follows the last mini-batch
            self._release(ray.get(self.executor.seal_open.remote()))

    def status(self) -> dict:
        return {"height": self.sequencer.height, "pending": self.sequencer.pending,
                "rejected": self.sequencer.rejected, "admission_open": self.gate.is_open,
                "admission_waited": self.gate.waited, "admission_refused": self.gate.refused,
                "backlog": self.gate.backlog, "backlog_high_water": self.gate.high_water,
                "backlog_limit": self.gate.limit,
                "failed": None if self.sequencer._failed is None else str(self.sequencer._failed)}

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
        self.sequencer.stop()

    # -- the cutting thread -------------------------------------------------------------------
    def _admitted(self, transfers, refused: int, t: float) -> None:
        """Remember when each accepted transfer was submitted (until it is cut) and count."""
        now = time.time()
        with self._lock:
            for tr in transfers:
                self._submitted[tr.hash] = t
        if transfers:
            self.sink(counter("transactions_received", len(transfers)))
            self.sink(txs_event("received", [max(0.0, now - t)] * len(transfers), t=now))
        if refused:
            self.sink(counter("transactions_rejected", refused))

    def _on_cut(self, mb) -> None:
        with self._lock:
            times = [self._submitted.pop(t.hash, mb.cut_time) for t in mb.transfers]
        if times:                # an idle block sequenced no transaction: no event
            self.sink(txs_event("sequenced", [mb.cut_time - t for t in times], t=mb.cut_time))
        self.room.cut(mb.number, len(mb.transfers))
        self._release(ray.get(self.executor.apply.remote(mb, times)))
        self._fit_cuts()

    def _fit_cuts(self) -> None:
        """The next mini-batch no larger than the open proof batch's room (BatchRoom)."""
        self.sequencer.max_mini_batch = min(self.max_mini_batch, self.room.room())

    def _on_tick(self, now: float) -> None:
        # The sequencer runs ticks between two blocks, so the seal's record follows its block.
        self._release(ray.get(self.executor.poll.remote()))
        if self._sample():
            self.sink(gauge("pending_txs", self.sequencer.pending))

    def _release(self, sealed: list, log_seals: bool = True) -> None:
        """Log the seals (durably), then let the executor hand the batches to the coordinator."""
        if not sealed:
            return
        if log_seals:
            for index, last_block in sealed:
                self.sequencer.record_seal(index, last_block)
        self.room.sealed_through(sealed[-1][1])
        self._fit_cuts()
        ray.get(self.executor.release.remote([index for index, _ in sealed]))


def _claims(rollup: tuple | None):
    """`Rollup.isWithdrawn` on the L1 that (L1 spec, rollup artifact, address) name, for
    zkpipe_getWithdrawal's status; None without one."""
    if rollup is None:
        return None
    from node.l1.rollup import RollupContract

    from .l1spec import connect_l1
    spec, artifact, address = rollup
    return RollupContract(connect_l1(spec), artifact, address).is_withdrawn


class ExecutorActor:
    """An Executor, the proof batches it seals (held until their seals are logged), and the
    transfers' submission times, kept per batch until the L1 verifies it."""

    def __init__(self, genesis, *, log2_rows: int, max_batch_transfers: int | None = None,
                 batch_deadline: float | None = 0.5, work_conserving: bool = True, relay=None,
                 coordinator=None, l1_height: int = 0,
                 snapshot_dir: str | None = None, snapshot_blocks: int = 1000, snapshot_s: float = 10.0,
                 retain_blocks: int = RETAIN_BLOCKS):
        self.sink = relay_sink(relay)
        self.executor = Executor(genesis, log2_rows=log2_rows, max_batch_transfers=max_batch_transfers,
                                 batch_deadline=batch_deadline, retain_blocks=retain_blocks)
        # The L1 numbers batches from 1 (0 is genesis); the executor from its first index.
        self.batch_offset = 1 - self.executor.batch_count
        self.coordinator = coordinator
        self.held: dict = {}                        # executor index → sealed ProofBatch
        self.block_times: dict[int, np.ndarray] = {}
        self.batch_times: dict[int, np.ndarray] = {}   # L1 batch → submission times
        self.released = 0
        self.executed = 0
        self.l1_height = l1_height          # batches up to this one were on the L1 at the start
        self.batch_transfers: dict[int, int] = {}   # L1 batch → its transfers, until verified
        self.verified_transfers = 0
        # Snapshots of the executed state (node/snapshot.py): every `snapshot_blocks` mini-batches
        # or `snapshot_s` seconds, taken only while no seal waits to be logged.
        self.genesis_digest = genesis.digest
        self.snapshot_dir, self.snapshot_blocks, self.snapshot_s = snapshot_dir, snapshot_blocks, snapshot_s
        self.snapshot_height, self._snapshot_at = 0, time.monotonic()
        self._snapshot_rows = 0              # rows executed when the last snapshot was taken
        self.snapshot_error: str | None = None
        self._writer: threading.Thread | None = None   # the last snapshot's writer
        self.work_conserving = work_conserving  # False: batches close only when full or at the deadline
        self._free = 0                       # provers free, as the coordinator last said
        self._given_upto = l1_height         # the last batch the coordinator had then
        self._sample = Every(0.25)

    def set_coordinator(self, coordinator) -> None:
        self.coordinator = coordinator

    def open_archive(self, wal_path: str) -> None:
        """Blocks the executor drops from memory are read back from the log at `wal_path`."""
        self.executor.attach_archive(BlockArchive(wal_path, self.genesis_digest))

    def l1_batch(self, index: int) -> int:
        return index + self.batch_offset

    # -- from the sequencer -------------------------------------------------------------------
    def apply(self, mb, submit_times: list) -> list:
        self.executor.apply(mb)
        now = time.time()
        self.executed += len(mb.transfers)
        if mb.transfers:         # an idle block: no times to keep (no batch would take them), no event
            times = np.asarray(submit_times, dtype=np.float64)
            self.block_times[mb.number] = times
            self.sink(txs_event("executed", now - times, batch=self.l1_batch(self.executor.batch_count), t=now))
        if self._sample():
            self.sink(gauge("executed_height", self.executor.height))
        return self.poll()

    def poll(self) -> list:
        self.executor.poll(provers_free=self.provers_waiting())
        return self._take()

    def provers_free(self, free: int, given_upto: int, pace_s: float) -> None:
        """From the coordinator: `free` workers idle with nothing queued, when it had been given
        batches up to `given_upto`; seal for a free prover at most every `pace_s` seconds."""
        self._free, self._given_upto = free, max(self._given_upto, given_upto)
        self.executor.min_seal_interval = pace_s

    def provers_waiting(self) -> int:
        """Free provers not yet served: those the coordinator reported, less the batches sealed
        since that it had not been given yet."""
        if not self.work_conserving:
            return 0
        in_transit = self.l1_batch(self.executor.batch_count - 1) - self._given_upto
        return self._free - max(0, in_transit)

    def seal_open(self) -> list:
        self.executor.seal()
        return self._take()

    def replay(self, entries) -> list:
        self.executor.replay(entries)
        self.executed += sum(len(e.transfers) for e in entries if isinstance(e, MiniBatch))
        return self._take()

    def _take(self) -> list:
        out = []
        for batch in self.executor.take_sealed():
            self.held[batch.index] = batch
            out.append((batch.index, batch.last_block))
        if not out:
            self._snapshot_if_due()
        return out

    def restore(self, snapshot) -> list:
        """Start from a snapshot (before any replay): its sealed batches not yet verified are
        sealed again, to be released as replayed ones are."""
        self.executor.restore(snapshot)
        self.executed = snapshot.transfers + snapshot.deposits   # rows: transfers and deposits
        self.verified_transfers = self.executed - sum(len(p.rows) for p in snapshot.pending)
        self.snapshot_height, self._snapshot_at = snapshot.height, time.monotonic()
        self._snapshot_rows = self.executed
        return self._take()

    def _snapshot_if_due(self) -> None:
        height = self.executor.height
        # The time rule only when rows were executed since: idle blocks alone (one a second) would
        # otherwise rewrite the whole state every `snapshot_s`; `snapshot_blocks` still bounds the
        # log a restart replays.
        if height > self.snapshot_height and (height - self.snapshot_height >= self.snapshot_blocks
                                              or (self.executed > self._snapshot_rows
                                                  and time.monotonic() - self._snapshot_at >= self.snapshot_s)):
            if self._writer is None or not self._writer.is_alive():
                self.save_snapshot(wait=False)

    def save_snapshot(self, wait: bool = True) -> int | None:
        """Take a snapshot now and write it (also on a graceful stop); its height, or None when
        there is nothing new or a sealed batch still waits for its seal to be logged (a snapshot
        never holds a seal the log may not have). Taking it is quick and happens here; encoding
        and writing it go on a thread of their own unless `wait`."""
        height = self.executor.height
        if self.snapshot_dir is None or self.held or height == 0 or height == self.snapshot_height:
            if wait and self._writer is not None:
                self._writer.join()          # the one being written is on disk when this returns
            return None
        snapshot = self.executor.snapshot(self.genesis_digest)
        if self._writer is not None:
            self._writer.join()
        self.snapshot_height, self._snapshot_at, self._snapshot_rows = height, time.monotonic(), self.executed
        self._writer = threading.Thread(target=self._write_snapshot, args=(snapshot,),
                                        name="snapshot-writer", daemon=True)
        self._writer.start()
        if wait:
            self._writer.join()
        return height

    def _write_snapshot(self, snapshot) -> None:
        from node.snapshot import write_snapshot
        try:
            write_snapshot(self.snapshot_dir, snapshot)
        except OSError as e:
            # Only the restart's speed depends on it: the log still holds everything.
            self.snapshot_error = f"{type(e).__name__}: {e}"

    def release(self, indices: list) -> None:
        """Seals are durable: queue these batches for proving."""
        for index in indices:
            batch = self.held.pop(index)
            b = self.l1_batch(index)
            if b <= self.l1_height:          # replayed, and already on the L1: nothing to do
                self.executor.mark_verified(index)
                self.verified_transfers += len(batch.transfers)
                self.released += 1
                continue
            self.batch_transfers[b] = len(batch.transfers)
            blocks = range(batch.first_block, batch.last_block + 1)
            parts = [self.block_times.pop(n) for n in blocks if n in self.block_times]
            self.batch_times[b] = np.concatenate(parts) if parts else np.zeros(0)
            first = self.executor.block(batch.first_block)
            self.sink(batch_event(b, "sequenced", t=first.cut_time, transfers=len(batch.transfers)))
            self.sink(batch_event(b, "executed", transfers=len(batch.transfers)))
            job = ledger_job(batch)
            job.batch_index = b
            ref = ray.put(job)
            self.coordinator.enqueue.remote(b, len(batch.transfers), [ref])
            self.released += 1
        self._snapshot_if_due()

    # -- from the coordinator -----------------------------------------------------------------
    def batch_proven(self, b: int) -> None:
        self.executor.mark_proven(b - self.batch_offset)
        times = self.batch_times.get(b)
        if times is not None and times.size:
            self.sink(txs_event("proven", time.time() - times, batch=b))

    def batch_verified(self, b: int) -> None:
        self.executor.mark_verified(b - self.batch_offset)
        self.verified_transfers += self.batch_transfers.pop(b, 0)
        times = self.batch_times.pop(b, None)
        if times is not None and times.size:
            self.sink(txs_event("l1_verified", time.time() - times, batch=b))

    # -- queries ------------------------------------------------------------------------------
    def height(self) -> int:
        return self.executor.height

    def balance(self, address: bytes) -> int:
        return self.executor.balance(address)

    def nonce(self, address: bytes) -> int:
        return self.executor.nonce(address)

    def receipt(self, tx_hash: bytes):
        return self.executor.receipt(tx_hash)

    QUERIES = frozenset({"safe_height", "finalized_height", "block", "block_by_hash", "transaction",
                         "block_receipts", "balance_at", "nonce_at", "withdrawal", "parent_hash"})

    def query(self, name: str, *args):
        """One of the executor's read-only queries (for ExecutorView)."""
        if name not in self.QUERIES:
            raise AttributeError(f"no executor query {name!r}")
        value = getattr(self.executor, name)
        return value(*args) if callable(value) else value

    def status(self) -> dict:
        ex = self.executor
        return {"height": ex.height, "sealed": ex.batch_count, "open_transfers": ex.open_transfers,
                "released": self.released, "held": sorted(self.held), "batch_offset": self.batch_offset,
                "executed_transfers": self.executed, "verified_transfers": self.verified_transfers,
                "snapshot_height": self.snapshot_height, "snapshot_error": self.snapshot_error}

    def balances(self) -> tuple[list, list]:
        """(addresses, balances) by slot: the executed state, for end-of-run checks."""
        return list(self.executor.state.addresses), list(self.executor.state.balances)


SequencerRemote = ray.remote(num_cpus=0, max_concurrency=32)(SequencerActor)
ExecutorRemote = ray.remote(num_cpus=0)(ExecutorActor)
