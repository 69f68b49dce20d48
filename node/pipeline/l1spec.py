"""How a process of the pipeline reaches the L1: a description that pickles (it travels to the
submitter's process, and back to it on every restart), turned into a client where it is used."""

from __future__ import annotations

from dataclasses import dataclass

from kernels.errors import InvalidInput
from node.l1.client import L1Client


@dataclass(frozen=True)
class L1Spec:
    """`kind` "hosted": the embedded EVM in an EmbeddedL1Host actor (`host`, its handle);
    "rpc": a JSON-RPC node at `url` (anvil, or any node), sending from its first unlocked
    account or signing with `private_key`. `timeout` bounds each request."""

    kind: str
    host: object = None
    url: str | None = None
    private_key: str | None = None
    timeout: float = 30.0

    def describe(self) -> str:
        return "embedded EVM (own process)" if self.kind == "hosted" else f"JSON-RPC {self.url}"


def connect_l1(spec: L1Spec) -> L1Client:
    if spec.kind == "hosted":
        from .l1host import HostedL1
        return HostedL1(spec.host, timeout=spec.timeout)
    if spec.kind == "rpc":
        from node.l1.rpc import RpcL1
        return RpcL1(spec.url, private_key=spec.private_key, timeout=spec.timeout)
    raise InvalidInput(f"unknown L1 kind {spec.kind!r}: expected 'hosted' or 'rpc'")
