"""One interface to an L1, whatever runs it: an in-process EVM (the embedded default) or any
node that speaks Ethereum JSON-RPC.

Gas limits are always given by the caller. A verifier's gas depends on the proof (a rejected
proof may stop early, an accepted one runs every pairing), so a node's estimate for one proof
says little about the next; the project sends a fixed, generous limit and reads what was used
from the receipt.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from .abi import decode_revert
from .errors import TransactionReverted

# The hardfork both backends execute, so that gas figures from one compare with the other.
HARDFORK = "prague"

TX_BASE_GAS = 21_000
CREATE_GAS = 32_000
CALLDATA_ZERO_GAS = 4
CALLDATA_NONZERO_GAS = 16
INITCODE_WORD_GAS = 2
CALLDATA_FLOOR_GAS_PER_TOKEN = 10


@dataclass(frozen=True)
class Log:
    """An event as the L1 recorded it: emitting contract, topics (32 bytes each), data."""

    address: str
    topics: list[bytes]
    data: bytes
    block_number: int = 0
    tx_hash: str | None = None


@dataclass
class Receipt:
    """What one transaction did.

    tx_gas is what the sender pays for (the receipt's gasUsed). exec_gas = tx_gas −
    intrinsic_gas(calldata): the gas of executing the code, the figure that compares with other
    verifiers independently of how the proof is encoded. It is exact whenever execution costs
    more than the calldata floor of EIP-7623 (every proof verification does); a transaction that
    stops almost at once (an early revert) may be charged the floor on a Prague node, and its
    exec_gas then overstates its execution."""

    status: bool
    tx_gas: int
    exec_gas: int
    logs: list[Log] = field(default_factory=list)
    revert_data: bytes = b""
    revert_reason: str | None = None
    contract_address: str | None = None
    block_number: int = 0
    tx_hash: str | None = None

    def check(self) -> "Receipt":
        """Return self if the transaction succeeded; raise TransactionReverted otherwise."""
        if not self.status:
            raise TransactionReverted(f"transaction reverted: {self.revert_reason or self.revert_data.hex() or 'no data'}",
                                      data=self.revert_data, reason=self.revert_reason, receipt=self)
        return self


def calldata_tokens(data: bytes) -> int:
    """EIP-7623's token count: one per zero byte, four per non-zero byte."""
    zeros = data.count(0)
    return zeros + 4 * (len(data) - zeros)


def intrinsic_gas(data: bytes, *, create: bool = False) -> int:
    """The gas a transaction costs before any code runs: 21000, calldata at 4 gas per zero byte
    and 16 per non-zero byte (EIP-2028), and for a creation 32000 plus 2 per initcode word
    (EIP-3860). No access list, no authorizations: the project sends neither."""
    zeros = data.count(0)
    gas = TX_BASE_GAS + CALLDATA_ZERO_GAS * zeros + CALLDATA_NONZERO_GAS * (len(data) - zeros)
    if create:
        gas += CREATE_GAS + INITCODE_WORD_GAS * ((len(data) + 31) // 32)
    return gas


def calldata_floor_gas(data: bytes) -> int:
    """The least a Prague transaction pays whatever it executes (EIP-7623): 21000 + 10 per
    calldata token."""
    return TX_BASE_GAS + CALLDATA_FLOOR_GAS_PER_TOKEN * calldata_tokens(data)


class L1Client(ABC):
    """An L1 as the node uses it: deploy contracts, send transactions, make read-only calls,
    each with the gas limit the caller gives. Every method speaks raw bytes; ABI encoding lives
    in node.l1.abi."""

    #: A name for reports ("embedded", "anvil", "rpc").
    name: str = "l1"

    def learn_abi(self, abi: list) -> None:
        """Decode reverts with the custom errors of `abi` from now on."""
        known = self.__dict__.setdefault("known_abi", [])
        known.extend(item for item in abi if item.get("type") == "error" and item not in known)

    def decode_revert(self, data: bytes) -> str | None:
        """`Name(args)` for a custom error this client learned, a require message, a panic
        code; None for empty or unknown data."""
        return decode_revert(self.__dict__.get("known_abi", []), data) if data else None

    @property
    @abstractmethod
    def accounts(self) -> list[str]:
        """Accounts this client can send from; the first is the default sender."""

    @abstractmethod
    def block_number(self) -> int:
        """The number of the latest block."""

    @abstractmethod
    def deploy(self, bytecode: bytes, args: bytes = b"", *, gas: int, sender: str | None = None, value: int = 0) -> str:
        """Deploy creation code `bytecode` with ABI-encoded constructor `args` under gas limit
        `gas`, sending `value` wei to the new contract; return its address. Raises
        TransactionReverted if the creation fails."""

    @abstractmethod
    def transact(self, to: str, data: bytes, *, gas: int, sender: str | None = None, value: int = 0) -> Receipt:
        """Send a transaction with gas limit `gas` and wait for it to be included. A reverted
        transaction gives a receipt with status False (call .check() to raise)."""

    @abstractmethod
    def call(self, to: str, data: bytes, *, gas: int, sender: str | None = None) -> bytes:
        """Execute a read-only call with gas limit `gas` against the latest state; return its
        output. Raises TransactionReverted if it reverts."""

    @abstractmethod
    def balance(self, address: str) -> int:
        """The balance of `address` in wei, at the latest block."""

    @abstractmethod
    def get_logs(self, address: str, *, topic: bytes | None = None, from_block: int = 0) -> list[Log]:
        """Every event `address` emitted in blocks from `from_block` on (whose first topic is
        `topic`, when given), oldest first, each with its block number and transaction hash.
        Events of reverted transactions are never among them."""

    @abstractmethod
    def transaction_input(self, tx_hash: str) -> bytes:
        """The calldata of the transaction `tx_hash` (L1Error when the chain does not know it)."""

    @abstractmethod
    def code_at(self, address: str) -> bytes:
        """The code deployed at `address` (empty where there is none, e.g. on a chain that was
        reset since the contract was deployed)."""

    def close(self) -> None:
        """Release what the client holds (a connection)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def reverted(client: L1Client, message: str, data: bytes) -> TransactionReverted:
    """The error for a revert with data `data`, decoded with what `client` learned."""
    reason = client.decode_revert(data)
    return TransactionReverted(f"{message}: {reason or data.hex() or 'no data'}", data=data, reason=reason)
