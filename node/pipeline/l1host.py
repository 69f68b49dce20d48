"""The embedded L1 as a process of its own.

The embedded EVM lives in the process that made it. The pipeline's submitter must be able to
die and come back without taking the chain with it, so the EVM runs in its own Ray actor (the
devnet's L1 node), and every other process reaches it through `HostedL1`, an L1Client that
forwards each call. An L1 error raised in the host reaches the caller as itself.
"""

from __future__ import annotations

import ray

from node.l1.client import L1Client, Receipt
from node.l1.embedded import EmbeddedL1


class EmbeddedL1Host:
    """The actor's body: one EmbeddedL1 and its methods, callable by name. Like a node, it
    keeps what its chain did: every transaction's target, selector and status
    (`transactions`), and every event emitted (`logs`, the EmbeddedL1's own record)."""

    def __init__(self, chain_id: int = 31337, journal: str | None = None):
        self.l1 = EmbeddedL1(chain_id=chain_id, journal=journal)
        self.history: list[dict] = []
        for to, data, receipt in self.l1.replayed:     # a chain continued from its file
            self._remember(to, data, receipt)
        self.l1.replayed = []

    def accounts(self) -> list[str]:
        return self.l1.accounts

    def learn_abi(self, abi: list) -> None:
        self.l1.learn_abi(abi)

    def block_number(self) -> int:
        return self.l1.block_number()

    def deploy(self, bytecode: bytes, args: bytes = b"", gas: int = 10_000_000, sender: str | None = None,
               value: int = 0) -> str:
        return self.l1.deploy(bytecode, args, gas=gas, sender=sender, value=value)

    def transact(self, to: str, data: bytes, gas: int, sender: str | None = None, value: int = 0) -> Receipt:
        receipt = self.l1.transact(to, data, gas=gas, sender=sender, value=value)
        self._remember(to, data, receipt)
        return receipt

    def _remember(self, to: str, data: bytes, receipt: Receipt) -> None:
        self.history.append({"to": to.lower(), "selector": bytes(data[:4]), "status": receipt.status,
                             "block": receipt.block_number})

    def code_at(self, address: str) -> bytes:
        return self.l1.code_at(address)

    def balance(self, address: str) -> int:
        return self.l1.balance(address)

    def get_logs(self, address: str, topic: bytes | None = None, from_block: int = 0) -> list:
        return self.l1.get_logs(address, topic=topic, from_block=from_block)

    def transaction_input(self, tx_hash: str) -> bytes:
        return self.l1.transaction_input(tx_hash)

    def chain_id(self) -> int:
        return self.l1.chain_id

    def transactions(self, to: str) -> list[dict]:
        """The transactions sent to `to`, oldest first."""
        return [dict(tx) for tx in self.history if tx["to"] == to.lower()]

    def logs(self, address: str) -> list:
        """Every event `address` emitted, oldest first."""
        return self.l1.get_logs(address)

    def call(self, to: str, data: bytes, gas: int = 30_000_000, sender: str | None = None) -> bytes:
        return self.l1.call(to, data, gas=gas, sender=sender)


def _unwrap(ref, timeout: float | None):
    try:
        return ray.get(ref, timeout=timeout)
    except ray.exceptions.RayTaskError as e:
        cause = getattr(e, "cause", None)
        if isinstance(cause, Exception):
            raise cause from None
        raise


class HostedL1(L1Client):
    """An L1Client whose chain is an EmbeddedL1Host actor. `timeout` bounds each call, so that
    a host that does not answer is an error (the submitter retries) rather than a hang."""

    name = "embedded"

    def __init__(self, host, timeout: float | None = 30.0):
        self.host, self.timeout = host, timeout
        self.known_abi = []

    def learn_abi(self, abi: list) -> None:
        super().learn_abi(abi)
        _unwrap(self.host.learn_abi.remote(abi), self.timeout)

    @property
    def accounts(self) -> list[str]:
        return _unwrap(self.host.accounts.remote(), self.timeout)

    def block_number(self) -> int:
        return _unwrap(self.host.block_number.remote(), self.timeout)

    def deploy(self, bytecode: bytes, args: bytes = b"", *, gas: int = 10_000_000, sender: str | None = None,
               value: int = 0) -> str:
        return _unwrap(self.host.deploy.remote(bytecode, args, gas, sender, value), self.timeout)

    def transact(self, to: str, data: bytes, *, gas: int, sender: str | None = None, value: int = 0) -> Receipt:
        return _unwrap(self.host.transact.remote(to, data, gas, sender, value), self.timeout)

    def call(self, to: str, data: bytes, *, gas: int = 30_000_000, sender: str | None = None) -> bytes:
        return _unwrap(self.host.call.remote(to, data, gas, sender), self.timeout)

    def code_at(self, address: str) -> bytes:
        return _unwrap(self.host.code_at.remote(address), self.timeout)

    def balance(self, address: str) -> int:
        return _unwrap(self.host.balance.remote(address), self.timeout)

    def get_logs(self, address: str, *, topic: bytes | None = None, from_block: int = 0) -> list:
        return _unwrap(self.host.get_logs.remote(address, topic, from_block), self.timeout)

    def transaction_input(self, tx_hash: str) -> bytes:
        return _unwrap(self.host.transaction_input.remote(tx_hash), self.timeout)

    @property
    def chain_id(self) -> int:
        return _unwrap(self.host.chain_id.remote(), self.timeout)
