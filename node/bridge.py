"""The bridge between the L1 and the L2 ledger, as the node sees it: deposits in, withdrawals out.

Deposits. `Rollup.deposit(l2Address)` on the L1 escrows the ETH sent and appends
(l2Address, amount) to the contract's deposit queue, emitting `Deposited(index, l2Address,
amount, l1Sender)`. The node takes the events in queue order, logs them (a deposit block in the
write-ahead log, node/blocks.py) and only then applies them: each deposit either credits its
address (claiming a slot for a new one) or, when it cannot, is refunded on the L1:

- the balance would pass 2^64 - 1 (the ledger circuit's range),
- the address is new and every slot is claimed, or
- the address is `WITHDRAWAL_ADDRESS`, which never holds a balance.

Either way a deposit is an L2 transaction a wallet sees: hash `deposit_hash(index)`, type 0x7e,
from the L1 sender to the L2 address, receipt status 1 when credited and 0 when refunded. It
takes one row of its proof batch (kind `KIND_DEPOSIT` or `KIND_REFUND`) and the contract checks
that the batch consumes exactly the next deposits of its queue.

Withdrawals. A signed value transfer to `WITHDRAWAL_ADDRESS` debits its sender like any transfer
(nonce, balance) and credits nobody on the L2: its row (kind `KIND_WITHDRAWAL`, from = to = the
sender's slot) burns the value, and the batch publishes (sender, value) as a withdrawal leaf.
Once the L1 has verified that batch, `zkpipe_getWithdrawal(txHash)` answers the batch, the leaf's
index and its Merkle path, and anyone may call `Rollup.withdraw` to pay the sender's address on
the L1, exactly once. A refunded deposit is a withdrawal leaf too (paid to its L2 address).
"""

from __future__ import annotations

from typing import NamedTuple

from eth_hash.auto import keccak

from .errors import InvalidInput
from .transactions import MAX_VALUE

__all__ = ["WITHDRAWAL_ADDRESS", "Deposit", "deposit_hash", "make_deposit", "KIND_DEPOSIT",
           "KIND_WITHDRAWAL", "KIND_REFUND", "DEPOSIT_TX_TYPE", "WithdrawalLeaf"]

# The reserved L2 address a withdrawal is sent to: "b1d6e", a bridge. No key is known for it and
# it never takes a ledger slot.
WITHDRAWAL_ADDRESS = bytes.fromhex("00000000000000000000000000000000000b1d6e")

# Row kinds of the ledger circuit's bridge part (is_deposit + 2·is_withdrawal), as
# circuits/ledger_air.py numbers them.
KIND_DEPOSIT, KIND_WITHDRAWAL, KIND_REFUND = 1, 2, 3

# The transaction type wallets know for a deposit from the L1 (OP Stack's deposited transaction).
DEPOSIT_TX_TYPE = 0x7E


class Deposit(NamedTuple):
    """A deposit of the L1 queue, as the L2 executes it. Laid out like node.transactions.Transfer
    where the two agree (sender, to, value, then the hash fifth), so that a block's transactions
    can be indexed by hash whichever kind they are."""

    sender: bytes       # the L1 account that paid
    to: bytes           # the L2 address credited (or refunded on the L1)
    value: int          # wei, in [1, 2^64)
    index: int          # its position in the contract's deposit queue
    hash: bytes         # deposit_hash(index)
    l1_block: int       # the L1 block of its Deposited event (informational)


def deposit_hash(index: int) -> bytes:
    """The L2 transaction hash of deposit `index`: keccak256("zkpipe-deposit" ‖ index, 32 bytes)."""
    return keccak(b"zkpipe-deposit" + index.to_bytes(32, "big"))


def make_deposit(index: int, l2_address: bytes, amount: int, l1_sender: bytes, l1_block: int = 0) -> Deposit:
    """A Deposit from the fields of a Deposited event, checked as the contract checks them."""
    if type(index) is not int or index < 0:
        raise InvalidInput(f"deposit index must be a non-negative integer, got {index!r}")
    if len(l2_address) != 20 or l2_address == bytes(20):
        raise InvalidInput(f"deposit {index}: the L2 address must be 20 non-zero bytes")
    if len(l1_sender) != 20:
        raise InvalidInput(f"deposit {index}: the L1 sender must be 20 bytes")
    if type(amount) is not int or not 1 <= amount <= MAX_VALUE:
        raise InvalidInput(f"deposit {index}: amount {amount!r} outside [1, 2^64)")
    return Deposit(bytes(l1_sender), bytes(l2_address), amount, index, deposit_hash(index), l1_block)


class WithdrawalLeaf(NamedTuple):
    """One leaf of a batch's withdrawal tree: pay `amount` to `recipient` on the L1."""

    recipient: bytes
    amount: int
    tx_hash: bytes      # the withdrawal transfer, or the refunded deposit

