"""The ledger state: accounts in slots, as the ledger circuit's state part lays them out.

Slot i is row i of the circuit's state part. An address takes the next free slot the first time it
is credited (at genesis or by a transfer) and keeps it for ever; a slot is never reused. Balances
stay in [0, 2^64), the range the circuit checks. The capacity, the number of slots, is a circuit
parameter (2^log2_rows); crediting a new address when every slot is taken is refused.

Two users, two entry points:

- the sequencer admits one transfer at a time against its pending state (`admit`), with the full
  order-by-order checks and a client-facing error for each refusal;
- the executor applies whole mini-batches of admitted transfers (`execute`), a tight loop over
  slot-indexed lists that only guards the invariants (so that a bug upstream cannot corrupt the
  state) and returns the (from_slot, to_slot, amount) rows for the proof batch.

Both treat a transfer to `WITHDRAWAL_ADDRESS` (node/bridge.py) as a withdrawal: the sender is
debited, nobody is credited, and its row is (sender's slot, sender's slot, value). Deposits from
the L1 are applied one at a time (`apply_deposit`), by both, in the same order.
"""

from __future__ import annotations

from typing import Optional, Sequence

from .bridge import KIND_DEPOSIT, KIND_REFUND, WITHDRAWAL_ADDRESS, Deposit
from .errors import InvalidInput, InvalidTransaction, StateFull
from .genesis import Genesis
from .transactions import MAX_VALUE, Transfer

__all__ = ["LedgerState"]


class LedgerState:
    """Balances and nonces of up to `capacity` accounts, indexed by slot."""

    def __init__(self, capacity: int):
        if type(capacity) is not int or capacity < 1:
            raise InvalidInput(f"capacity must be a positive integer, got {capacity!r}")
        self.capacity = capacity
        self.slot_of: dict[bytes, int] = {}
        self.addresses: list[bytes] = []      # slot → address, for the claimed slots
        self.balances: list[int] = [0] * capacity
        self.nonces: list[int] = [0] * capacity

    @classmethod
    def from_genesis(cls, genesis: Genesis, capacity: int) -> "LedgerState":
        state = cls(capacity)
        accounts = genesis.accounts()
        if len(accounts) > capacity:
            raise StateFull(f"genesis funds {len(accounts)} accounts but the ledger has "
                            f"{capacity} slots")
        for address, balance in accounts:
            state.balances[state.claim(address)] = balance
        return state

    @classmethod
    def restore(cls, capacity: int, addresses: Sequence[bytes], balances: Sequence[int],
                nonces: Sequence[int]) -> "LedgerState":
        """The state whose claimed slots hold these addresses, balances and nonces (a snapshot's)."""
        if not len(addresses) == len(balances) == len(nonces) <= capacity:
            raise InvalidInput(f"a state of {len(addresses)} addresses, {len(balances)} balances "
                               f"and {len(nonces)} nonces does not fit {capacity} slots")
        state = cls(capacity)
        state.addresses = list(addresses)
        state.slot_of = {a: i for i, a in enumerate(state.addresses)}
        if len(state.slot_of) != len(state.addresses):
            raise InvalidInput("an address holds two slots")
        n = len(addresses)
        state.balances[:n] = balances
        state.nonces[:n] = nonces
        return state

    def copy(self) -> "LedgerState":
        other = LedgerState.__new__(LedgerState)
        other.capacity = self.capacity
        other.slot_of = dict(self.slot_of)
        other.addresses = list(self.addresses)
        other.balances = list(self.balances)
        other.nonces = list(self.nonces)
        return other

    # -- reading ----------------------------------------------------------------------------

    @property
    def claimed(self) -> int:
        """How many slots are taken (they are slots 0 .. claimed-1)."""
        return len(self.addresses)

    def balance(self, address: bytes) -> int:
        slot = self.slot_of.get(address)
        return 0 if slot is None else self.balances[slot]

    def nonce(self, address: bytes) -> int:
        slot = self.slot_of.get(address)
        return 0 if slot is None else self.nonces[slot]

    def address_column(self) -> list[int]:
        """The circuit's address column: the address of each slot as an integer, 0 if empty."""
        column = [int.from_bytes(a, "big") for a in self.addresses]
        return column + [0] * (self.capacity - len(column))

    # -- writing ----------------------------------------------------------------------------

    def claim(self, address: bytes) -> int:
        """The slot of `address`, taking the next free one if it has none."""
        slot = self.slot_of.get(address)
        if slot is not None:
            return slot
        slot = len(self.addresses)
        if slot == self.capacity:
            raise StateFull(f"ledger full: all {self.capacity} account slots are claimed")
        self.slot_of[address] = slot
        self.addresses.append(address)
        return slot

    def admit(self, t: Transfer) -> None:
        """Apply one transfer after the sequencer's checks (nonce in order, balance covers the
        value, recipient stays in range, a slot for a new recipient). On refusal nothing
        changes and the error says why, in geth's words where geth has them."""
        f = self.slot_of.get(t.sender)
        nonce = 0 if f is None else self.nonces[f]
        if t.nonce < nonce:
            raise InvalidTransaction(f"nonce too low: next nonce {nonce}, tx nonce {t.nonce}")
        if t.nonce > nonce:
            # No queue for future nonces: a gap would stall the sender's later transfers.
            raise InvalidTransaction(f"nonce too high: next nonce {nonce}, tx nonce {t.nonce}")
        balance = 0 if f is None else self.balances[f]
        if balance < t.value:
            raise InvalidTransaction(f"insufficient funds for gas * price + value: address "
                                     f"0x{t.sender.hex()} have {balance} want {t.value}")
        if t.to == WITHDRAWAL_ADDRESS:
            self.balances[f] -= t.value
            self.nonces[f] = nonce + 1
            return
        d = self.slot_of.get(t.to)
        if d is None:
            if len(self.addresses) == self.capacity:
                raise InvalidTransaction(f"ledger full: all {self.capacity} account slots are "
                                         f"claimed, cannot credit a new address")
            d = self.claim(t.to)
        if d != f and self.balances[d] + t.value > MAX_VALUE:
            raise InvalidTransaction("recipient balance would exceed the ledger's range (2^64 - 1)")
        self.balances[f] -= t.value
        self.balances[d] += t.value
        self.nonces[f] = nonce + 1

    def execute(self, transfers: Sequence[Transfer],
                withdrawals: Optional[list] = None) -> list[tuple[int, int, int]]:
        """Apply admitted transfers in order; returns their (from_slot, to_slot, amount) rows,
        and appends the position of each withdrawal among them to `withdrawals`.

        All or nothing: a transfer that breaks an invariant (unknown sender, nonce out of order,
        balance below zero or above 2^64 - 1, no free slot) undoes the ones before it and raises,
        since it means the transfers were not admitted against this state."""
        slot_of = self.slot_of
        balances = self.balances
        nonces = self.nonces
        rows: list[tuple[int, int, int]] = []
        append = rows.append
        burnt: list[int] = []
        claimed_before = len(self.addresses)
        i = 0
        try:
            for sender, to, value, nonce, _, _ in transfers:
                f = slot_of[sender]
                d = slot_of.get(to)
                if d is None:
                    # Looked at only for addresses without a slot, so the common case pays nothing.
                    d = -1 if to == WITHDRAWAL_ADDRESS else self.claim(to)
                left = balances[f] - value
                if nonces[f] != nonce or left < 0 or value <= 0:
                    raise InvalidTransaction(f"transfer {i} does not apply: nonce {nonce} (next "
                                             f"{nonces[f]}), value {value}, balance {balances[f]}")
                balances[f] = left
                if d < 0:            # a withdrawal: the value leaves the L2
                    burnt.append(i)
                    nonces[f] = nonce + 1
                    append((f, f, value))
                    i += 1
                    continue
                credited = balances[d] + value
                if credited > MAX_VALUE:
                    balances[f] += value
                    raise InvalidTransaction(f"transfer {i} does not apply: recipient balance "
                                             f"would exceed 2^64 - 1")
                balances[d] = credited
                nonces[f] = nonce + 1
                append((f, d, value))
                i += 1
        except (KeyError, InvalidTransaction, StateFull) as e:
            self._undo(rows, burnt, claimed_before)
            if isinstance(e, KeyError):
                raise InvalidTransaction(f"transfer {i} does not apply: its sender has no "
                                         f"account") from None
            raise
        if withdrawals is not None:
            withdrawals.extend(burnt)
        return rows

    def _undo(self, rows: Sequence[tuple[int, int, int]], burnt: Sequence[int],
              claimed_before: int) -> None:
        burnt = set(burnt)
        for i in range(len(rows) - 1, -1, -1):
            f, d, value = rows[i]
            if i not in burnt:
                self.balances[d] -= value
            self.balances[f] += value
            self.nonces[f] -= 1
        while len(self.addresses) > claimed_before:
            del self.slot_of[self.addresses.pop()]

    def apply_deposit(self, deposit: Deposit) -> tuple[tuple[int, int, int], int]:
        """Credit a deposit from the L1, or refund it when it cannot be credited (its address is
        WITHDRAWAL_ADDRESS, new with no free slot, or its balance would pass 2^64 - 1). Returns
        its row and kind: ((slot, slot, amount), KIND_DEPOSIT) or ((0, 0, amount), KIND_REFUND).
        The sequencer and the executor apply the same deposits to the same states in the same
        order, so they reach the same outcome."""
        to, value = deposit.to, deposit.value
        slot = self.slot_of.get(to)
        if to == WITHDRAWAL_ADDRESS or (slot is None and len(self.addresses) == self.capacity):
            return (0, 0, value), KIND_REFUND
        if slot is not None and self.balances[slot] + value > MAX_VALUE:
            return (0, 0, value), KIND_REFUND
        if slot is None:
            slot = self.claim(to)
        self.balances[slot] += value
        return (slot, slot, value), KIND_DEPOSIT
