"""The embedded L1: an EVM in this process (revm through pyrevm), with no node to start.

Each transaction is its own block: the block number advances by one per transaction, as on a
dev chain that mines on demand. Gas is priced at zero, so accounts never run dry; gas used is
measured exactly as a node measures it.
"""

from __future__ import annotations

import re
import time

from .client import HARDFORK, L1Client, Log, Receipt, intrinsic_gas, reverted
from .errors import L1Unavailable

# Dev accounts: fixed addresses, funded at start; pyrevm needs no keys to send from them.
DEV_ACCOUNTS = [f"0x{0x5eed0000 + i:040x}" for i in range(1, 11)]
DEV_BALANCE = 10**24

_REVERT = re.compile(r"Revert \{ gas_used: (\d+), output: 0x([0-9a-fA-F]*) \}")
_HALT = re.compile(r"Halt \{ reason: (.*), gas_used: (\d+) \}")


class EmbeddedL1(L1Client):
    """An in-process EVM behind the L1Client interface."""

    name = "embedded"

    def __init__(self, *, hardfork: str = HARDFORK, chain_id: int = 31337):
        try:
            import pyrevm
        except ImportError as e:  # pragma: no cover - pyrevm is a project dependency
            raise L1Unavailable("the embedded L1 needs pyrevm (pip install pyrevm)") from e
        self._pyrevm = pyrevm
        env = pyrevm.Env(cfg=pyrevm.CfgEnv(chain_id=chain_id), block=self._block_env(1))
        self.evm = pyrevm.EVM(env=env, spec_id=hardfork.upper())
        self._block = 1
        self.known_abi = []
        for a in DEV_ACCOUNTS:
            self.evm.set_balance(a, DEV_BALANCE)

    def _block_env(self, number: int):
        return self._pyrevm.BlockEnv(number=number, timestamp=int(time.time()), gas_limit=36_000_000)

    def _next_block(self) -> None:
        self._block += 1
        self.evm.set_block_env(self._block_env(self._block))

    @property
    def accounts(self) -> list[str]:
        return list(DEV_ACCOUNTS)

    def block_number(self) -> int:
        return self._block

    def deploy(self, bytecode: bytes, args: bytes = b"", *, gas: int = 10_000_000, sender: str | None = None) -> str:
        code = bytes(bytecode) + bytes(args)
        try:
            address = self.evm.deploy(sender or DEV_ACCOUNTS[0], code, gas=gas)
        except RuntimeError as e:
            data, _, why = _failure(str(e))
            raise reverted(self, f"deployment failed ({why})", data) from None
        finally:
            self._next_block()
        return address

    def transact(self, to: str, data: bytes, *, gas: int, sender: str | None = None, value: int = 0) -> Receipt:
        data = bytes(data)
        base = intrinsic_gas(data)
        number = self._block
        try:
            self.evm.message_call(sender or DEV_ACCOUNTS[0], to, data, value=value or None, gas=gas)
        except RuntimeError as e:
            out, used, why = _failure(str(e))
            used = used if used is not None else self.evm.result.gas_used
            return Receipt(status=False, tx_gas=used, exec_gas=used - base, revert_data=out,
                           revert_reason=self.decode_revert(out) or (None if out else why), block_number=number)
        finally:
            self._next_block()
        result = self.evm.result
        logs = [_log(entry) for entry in result.logs]
        return Receipt(status=True, tx_gas=result.gas_used, exec_gas=result.gas_used - base, logs=logs,
                       block_number=number)

    def call(self, to: str, data: bytes, *, gas: int = 30_000_000, sender: str | None = None) -> bytes:
        try:
            return bytes(self.evm.message_call(sender or DEV_ACCOUNTS[0], to, bytes(data), gas=gas, is_static=True))
        except RuntimeError as e:
            out, _, why = _failure(str(e))
            raise reverted(self, f"call reverted ({why})", out) from None

    def call_gas(self, to: str, data: bytes, *, gas: int = 30_000_000, sender: str | None = None) -> tuple[bytes, int]:
        """A read-only call and the execution gas it used (no intrinsic gas)."""
        out = self.call(to, data, gas=gas, sender=sender)
        return out, self.evm.result.gas_used - intrinsic_gas(bytes(data))


def _failure(message: str) -> tuple[bytes, int | None, str]:
    """(revert data, gas used, a short reason) from pyrevm's error text."""
    m = _REVERT.search(message)
    if m:
        return bytes.fromhex(m.group(2)), int(m.group(1)), "revert"
    m = _HALT.search(message)
    if m:
        return b"", int(m.group(2)), m.group(1)
    return b"", None, message


def _log(entry) -> Log:
    topics = [bytes.fromhex(t[2:]) if isinstance(t, str) else bytes(t) for t in entry.topics]
    data = entry.data
    if isinstance(data, tuple):  # pyrevm gives (topics, data)
        data = data[1]
    return Log(address=entry.address, topics=topics, data=bytes(data))
