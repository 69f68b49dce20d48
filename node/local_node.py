"""One process: a sequencer, an executor and the JSON-RPC server, restarted from the write-ahead
log it is given. No prover is attached by the command line (sealed proof batches are logged and
dropped); tests and tools attach one through `on_batch`.

    python -m node.local_node --dev --wal node.wal --port 8545

prints one JSON line, {"url", "ws_url", "height", "chain_id"}, on stdout once it serves, and runs
until SIGTERM or SIGINT. The executor keeps the last `--retain-blocks` blocks in memory; older
ones are read back from the log, through its index `<wal>.index` (docs/node.md, "Block retention").
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Callable, Optional, Sequence

from .blocks import BlockArchive
from .devnet_command import idle_block_interval, retain_blocks
from .eth_api import NodeApi
from .executor import RETAIN_BLOCKS, Executor, ProofBatch
from .genesis import Genesis, dev_genesis, load_genesis
from .rpc import RpcServer
from .sequencer import Sequencer

__all__ = ["LocalNode", "main"]

log = logging.getLogger(__name__)


class LocalNode:
    """A sequencer, an executor and the JSON-RPC server in one process, restarted from the
    write-ahead log at `wal_path` if it exists. Sealed proof batches go to `on_batch` (the
    prover side), or stay in `executor.take_sealed()` when it is None. The executor holds the last
    `retain_blocks` blocks in memory and reads older ones back from the log."""

    def __init__(self, genesis: Genesis, wal_path, *, log2_rows: int = 16, max_mini_batch: int = 4096,
                 cut_interval: float = 0.010, batch_deadline: float = 0.5,
                 max_batch_transfers: Optional[int] = None, host: str = "127.0.0.1", port: int = 0,
                 recover_pool=None, on_batch: Optional[Callable[[ProofBatch], object]] = None,
                 idle_block_interval: Optional[float] = 1.0, retain_blocks: int = RETAIN_BLOCKS):
        self.on_batch = on_batch
        self.sequencer = Sequencer(genesis, wal_path, capacity=1 << log2_rows,
                                   max_mini_batch=max_mini_batch, cut_interval=cut_interval,
                                   recover_pool=recover_pool, idle_block_interval=idle_block_interval)
        archive = None
        try:
            archive = BlockArchive(wal_path, genesis.digest)
            self.executor = Executor(genesis, log2_rows=log2_rows, batch_deadline=batch_deadline,
                                     max_batch_transfers=max_batch_transfers, on_seal=self._sealed,
                                     retain_blocks=retain_blocks, archive=archive)
            self.executor.replay(self.sequencer.take_replayed())
            self._hand_on()
            self.api = NodeApi(self.sequencer, self.executor)
            self.server = RpcServer(self.api, host, port)
        except BaseException:
            if archive is not None:
                archive.close()
            self.sequencer.wal.close()
            raise

    def _sealed(self, batch: ProofBatch) -> None:
        # Logged before anyone may start proving it, so a restart seals the same batch.
        self.sequencer.record_seal(batch.index, batch.last_block)
        self._hand_on()

    def _hand_on(self) -> None:
        if self.on_batch is not None:
            for batch in self.executor.take_sealed():
                self.on_batch(batch)

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> "LocalNode":
        self.sequencer.start(on_cut=self.executor.apply, on_tick=self.executor.poll)
        self.server.start()
        return self

    def seal(self) -> Optional[ProofBatch]:
        """Seal the open proof batch now (None if it holds nothing), between two blocks."""
        with self.sequencer.between_blocks():
            return self.executor.seal()

    def stop(self) -> None:
        self.server.stop()
        self.sequencer.stop()
        self.executor.close()

    def mark_proven(self, batch: int) -> None:
        self.executor.mark_proven(batch)

    def mark_verified(self, batch: int) -> None:
        self.executor.mark_verified(batch)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run a LocalNode until SIGTERM or SIGINT (see the module's description)."""
    parser = argparse.ArgumentParser(prog="python -m node.local_node", description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--genesis", type=Path, help="genesis JSON file")
    source.add_argument("--dev", action="store_true",
                        help="a development genesis funding only the INSECURE well-known faucet key")
    parser.add_argument("--wal", type=Path, required=True, help="write-ahead log (created if absent)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8545, help="0 picks a free port")
    parser.add_argument("--log2-rows", type=int, default=16, help="ledger circuit size: 2^n slots and rows")
    parser.add_argument("--max-mini-batch", type=int, default=4096)
    parser.add_argument("--cut-interval-ms", type=float, default=10.0)
    parser.add_argument("--batch-deadline", type=float, default=0.5, help="seconds")
    parser.add_argument("--idle-block-interval", type=idle_block_interval, default=1.0, metavar="SECONDS",
                        help="an empty block after this many seconds without one (default 1; 0 or off: never)")
    parser.add_argument("--retain-blocks", type=retain_blocks, default=RETAIN_BLOCKS, metavar="N",
                        help=f"recent blocks kept in memory (default {RETAIN_BLOCKS}, the state-query window; "
                             f"blocks of unverified proof batches are kept too); older ones are read from the log")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    genesis = dev_genesis() if args.dev else load_genesis(args.genesis)

    def drop(batch: ProofBatch) -> None:
        log.info("proof batch %d sealed: mini-batches %d..%d, %d transfers (no prover attached)",
                 batch.index, batch.first_block, batch.last_block, len(batch.transfers))

    node = LocalNode(genesis, args.wal, log2_rows=args.log2_rows, max_mini_batch=args.max_mini_batch,
                     cut_interval=args.cut_interval_ms / 1000, batch_deadline=args.batch_deadline,
                     host=args.host, port=args.port, on_batch=drop,
                     idle_block_interval=args.idle_block_interval, retain_blocks=args.retain_blocks)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    node.start()
    print(json.dumps({"url": node.url, "ws_url": node.server.ws_url, "height": node.executor.height,
                      "chain_id": genesis.chain_id}), flush=True)
    stop.wait()
    node.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
