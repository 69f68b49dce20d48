"""The embedded L1: an EVM in this process (revm through pyrevm), with no node to start.

Each transaction is its own block: the block number advances by one per transaction, as on a
dev chain that mines on demand. Gas is priced at zero, so accounts never run dry.

Gas used is a chain's for code that does not touch storage (the verifier: memory, Keccak and
the precompiles, priced exactly as anvil prices them), but not for storage. pyrevm keeps one
journal open across all its transactions, so an account or storage slot touched once stays
warm, and a slot's "original value" (EIP-2200) stays what it was before the contract first
wrote it: rewriting a slot costs 100 gas instead of 2100 + 2900, and refunds differ. Nor does it
apply the calldata floor of EIP-7623. Take gas figures of transactions that write storage from
a node (anvil); verdicts, state and events are the same on both.

With `journal` (a file), the chain survives its process: every transaction is appended to the
file (one JSON line, fsynced) before its receipt is returned, and a new EmbeddedL1 on the same
file re-executes them in order with their original block numbers and times. A transaction
whose line was torn by a crash was never answered, so its sender does not count on it; the torn
line is cut off. The file is locked while open: one chain, one process.

Like a node, it keeps every transaction's calldata and every event, so that a reader can find a
contract's history from the chain alone (`get_logs`, `transaction_input`). A transaction's hash
is keccak256 of what identifies it here (block, time, sender, target, value, calldata): one
transaction per block makes it unique, and a replayed journal gives the same hashes.
"""

from __future__ import annotations

import bisect
import fcntl
import json
import os
import re
import time
from pathlib import Path

from eth_utils import keccak

from .client import HARDFORK, L1Client, Log, Receipt, intrinsic_gas, reverted
from .errors import L1Error, L1Unavailable, TransactionRefused

# Dev accounts: fixed addresses, funded at start; pyrevm needs no keys to send from them.
DEV_ACCOUNTS = [f"0x{0x5eed0000 + i:040x}" for i in range(1, 11)]
# Enough for the deployer to fund the escrow of any ledger genesis: 2^20 slots (the largest
# domain) at the largest balance, 2^64 − 1 wei each, is below 2^84.
DEV_BALANCE = 2**96
BLOCK_GAS_LIMIT = 36_000_000

# pyrevm reports a failed transaction as a RuntimeError whose text is revm's result.
_REVERT = re.compile(r"Revert \{ gas_used: (\d+), output: 0x([0-9a-fA-F]*) \}")
_HALT = re.compile(r"Halt \{ reason: (.*), gas_used: (\d+) \}")


class EmbeddedL1(L1Client):
    """An in-process EVM behind the L1Client interface."""

    name = "embedded"

    def __init__(self, *, hardfork: str = HARDFORK, chain_id: int = 31337, journal: str | Path | None = None):
        try:
            import pyrevm
        except ImportError as e:  # pragma: no cover - pyrevm is a project dependency
            raise L1Unavailable("the embedded L1 needs pyrevm (pip install pyrevm)") from e
        self._pyrevm = pyrevm
        self._block = 1
        self._timestamp = int(time.time())
        self.evm = pyrevm.EVM(env=pyrevm.Env(cfg=pyrevm.CfgEnv(chain_id=chain_id), block=self._block_env()),
                              spec_id=hardfork.upper())
        self.chain_id = chain_id
        self.known_abi = []
        for a in DEV_ACCOUNTS:
            self.evm.set_balance(a, DEV_BALANCE)
        self.replayed: list[tuple[str, bytes, Receipt]] = []   # (to, data, receipt) from the journal
        self._inputs: dict[str, bytes] = {}     # transaction hash → calldata
        self._logs: list[Log] = []              # every event of a successful transaction, in order
        self._journal = None
        if journal is not None:
            self._open_journal(Path(journal))

    # -- the journal --------------------------------------------------------------------------
    def _open_journal(self, path: Path) -> None:
        f = open(path, "a+b")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            raise L1Unavailable(f"the embedded L1's chain file {path} is held by another process") from None
        try:
            f.seek(0)
            good = 0
            lines = f.read().split(b"\n")
            for i, line in enumerate(lines):
                if not line:
                    continue
                try:
                    rec = json.loads(line)
                except ValueError:
                    if i == len(lines) - 1:    # the last line, unanswered: a torn tail
                        break
                    raise L1Error(f"the embedded L1's chain file {path} is damaged at line {i + 1}") from None
                self._replay(rec)
                good += len(line) + 1
            f.truncate(good)
        except BaseException:
            f.close()
            raise
        self._journal = f

    def _replay(self, rec: dict) -> None:
        self._block, self._timestamp = rec["block"], rec["timestamp"]
        self.evm.set_block_env(self._block_env())
        data = bytes.fromhex(rec["data"])
        if rec["op"] == "deploy":
            try:
                self.deploy(data, gas=rec["gas"], sender=rec["sender"], value=rec.get("value", 0))
            except L1Error:
                pass                         # it failed the first time too
        else:
            try:
                receipt = self.transact(rec["to"], data, gas=rec["gas"], sender=rec["sender"], value=rec["value"])
            except L1Error:
                return                       # refused the first time too
            self.replayed.append((rec["to"], data, receipt))

    def _journal_append(self, op: str, to: str | None, data: bytes, gas: int, sender: str | None, value: int,
             block: int, timestamp: int) -> None:
        if self._journal is None:     # no journal, or replaying it
            return
        rec = {"op": op, "to": to, "data": data.hex(), "gas": gas, "sender": sender or DEV_ACCOUNTS[0],
               "value": value, "block": block, "timestamp": timestamp}
        self._journal.write(json.dumps(rec).encode() + b"\n")
        self._journal.flush()
        os.fsync(self._journal.fileno())

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    def _block_env(self):
        return self._pyrevm.BlockEnv(number=self._block, timestamp=self._timestamp, gas_limit=BLOCK_GAS_LIMIT)

    def _next_block(self) -> None:
        # Transient storage (EIP-1153) lives for one transaction; pyrevm's open journal would
        # carry it over.
        self.evm.reset_transient_storage()
        self._block += 1
        # Wall-clock time, strictly increasing as a chain's timestamps are.
        self._timestamp = max(self._timestamp + 1, int(time.time()))
        self.evm.set_block_env(self._block_env())

    def _check_gas(self, gas: int) -> None:
        if not 0 < gas <= BLOCK_GAS_LIMIT:
            raise TransactionRefused(f"gas limit {gas} outside (0, {BLOCK_GAS_LIMIT}], the block's gas limit")

    @property
    def accounts(self) -> list[str]:
        return list(DEV_ACCOUNTS)

    def block_number(self) -> int:
        return self._block

    def _tx_hash(self, sender: str | None, to: str | None, value: int, data: bytes) -> str:
        ident = json.dumps([self._block, self._timestamp, (sender or DEV_ACCOUNTS[0]).lower(),
                            to.lower() if to else None, value, data.hex()])
        return "0x" + keccak(ident.encode()).hex()

    def _record(self, tx_hash: str, data: bytes, entries) -> list[Log]:
        """Keep the transaction's calldata and its events (None: it failed, so none)."""
        self._inputs[tx_hash] = data
        logs = [] if entries is None else [_log(e, self._block, tx_hash) for e in entries]
        self._logs.extend(logs)
        return logs

    def deploy(self, bytecode: bytes, args: bytes = b"", *, gas: int, sender: str | None = None, value: int = 0) -> str:
        self._check_gas(gas)
        code = bytes(bytecode) + bytes(args)
        block, timestamp = self._block, self._timestamp
        tx_hash = self._tx_hash(sender, None, value, code)
        try:
            address = self.evm.deploy(sender or DEV_ACCOUNTS[0], code, value=value or None, gas=gas)
            self._record(tx_hash, code, self.evm.result.logs)
        except RuntimeError as e:
            self._record(tx_hash, code, None)
            data, _, why = _failure(str(e))
            raise reverted(self, f"deployment failed ({why})", data) from None
        finally:
            self._journal_append("deploy", None, code, gas, sender, value, block, timestamp)
            self._next_block()
        return address

    def transact(self, to: str, data: bytes, *, gas: int, sender: str | None = None, value: int = 0) -> Receipt:
        self._check_gas(gas)
        data = bytes(data)
        base = intrinsic_gas(data)
        number, timestamp = self._block, self._timestamp
        tx_hash = self._tx_hash(sender, to, value, data)
        try:
            self.evm.message_call(sender or DEV_ACCOUNTS[0], to, data, value=value or None, gas=gas)
        except RuntimeError as e:
            out, used, why = _failure(str(e))
            if used is None:  # not an execution result: the transaction itself is invalid
                raise TransactionRefused(f"the embedded EVM refused the transaction: {e}") from None
            self._record(tx_hash, data, None)
            return Receipt(status=False, tx_gas=used, exec_gas=used - base, revert_data=out,
                           revert_reason=self.decode_revert(out) or (None if out else why), block_number=number,
                           tx_hash=tx_hash)
        finally:
            self._journal_append("transact", to, data, gas, sender, value, number, timestamp)
            self._next_block()
        result = self.evm.result
        logs = self._record(tx_hash, data, result.logs)
        return Receipt(status=True, tx_gas=result.gas_used, exec_gas=result.gas_used - base,
                       logs=logs, block_number=number, tx_hash=tx_hash)

    def call(self, to: str, data: bytes, *, gas: int, sender: str | None = None) -> bytes:
        self._check_gas(gas)
        try:
            return bytes(self.evm.message_call(sender or DEV_ACCOUNTS[0], to, bytes(data), gas=gas, is_static=True))
        except RuntimeError as e:
            out, used, why = _failure(str(e))
            if used is None:
                raise TransactionRefused(f"the embedded EVM refused the call: {e}") from None
            raise reverted(self, f"call reverted ({why})", out) from None

    def balance(self, address: str) -> int:
        return int(self.evm.get_balance(address))

    def get_logs(self, address: str, *, topic: bytes | None = None, from_block: int = 0) -> list[Log]:
        address = address.lower()
        # The record is in block order: skip the blocks before from_block without reading them.
        start = bisect.bisect_left(self._logs, from_block, key=lambda lg: lg.block_number)
        return [lg for lg in self._logs[start:] if lg.address.lower() == address
                and (topic is None or (lg.topics and lg.topics[0] == topic))]

    def transaction_input(self, tx_hash: str) -> bytes:
        try:
            return self._inputs[tx_hash.lower()]
        except KeyError:
            raise L1Error(f"the embedded L1 knows no transaction {tx_hash}") from None

    def code_at(self, address: str) -> bytes:
        # revm keeps code analysed: it may end in padding zeros, never empty where code is.
        return bytes(self.evm.get_code(address) or b"")

    def call_gas(self, to: str, data: bytes, *, gas: int, sender: str | None = None) -> tuple[bytes, int]:
        """A read-only call and the execution gas it used (gas used less intrinsic gas)."""
        out = self.call(to, data, gas=gas, sender=sender)
        return out, self.evm.result.gas_used - intrinsic_gas(bytes(data))


def _failure(message: str) -> tuple[bytes, int | None, str]:
    """(revert data, gas used, a short reason) from pyrevm's error text; gas used is None when
    the text is no execution result."""
    m = _REVERT.search(message)
    if m:
        return bytes.fromhex(m.group(2)), int(m.group(1)), "revert"
    m = _HALT.search(message)
    if m:
        return b"", int(m.group(2)), m.group(1)
    return b"", None, message


def _log(entry, block: int, tx_hash: str) -> Log:
    topics = [bytes.fromhex(t[2:]) if isinstance(t, str) else bytes(t) for t in entry.topics]
    data = entry.data
    if isinstance(data, tuple):  # pyrevm gives (topics, data)
        data = data[1]
    return Log(address=entry.address, topics=topics, data=bytes(data), block_number=block, tx_hash=tx_hash)
