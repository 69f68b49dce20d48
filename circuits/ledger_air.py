"""The ledger circuit's constraints: one batch of transfers, deposits, withdrawals and refunds
applied to the account state.

One table of n = 2^k rows. Row a is account slot a (its address and balance before and after
the batch) and also holds the batch's a-th entry (unused rows hold the inert transfer 0 → 0
of amount 0). An entry is (from, to, amount) and its kind: is_deposit, is_withdrawal and
bridge_addr say whether it is a transfer (0, 0), a deposit from the L1 (1, 0: `to` gains
`amount`, minted from the L1 escrow; bridge_addr is to's address), a withdrawal to the L1
(0, 1: `from` loses `amount`, paid on the L1 to bridge_addr) or a refund (1, 1: nothing moves
on the L2; the L1 returns a deposit to bridge_addr). docs/ledger.md states what a proof means;
this module writes the constraints:

- a claimed slot keeps its address:      addr_old·(addr_new − addr_old) = 0
- an empty slot holds nothing:           bal_new·(1 − addr_new·addr_inv) = 0
- the kind flags are bits:               is_deposit·(1 − is_deposit) = 0 (and is_withdrawal)
- a transfer publishes no address:       (1 − is_deposit)·(1 − is_withdrawal)·bridge_addr = 0
- one logUp sum, the circuit's only one, with three parts that λ keeps apart:
      Σ_rows  (amount·(1 − is_withdrawal) + λ)/(β − to) + (λ − amount·(1 − is_deposit))/(β − from)
              + Σ_limbs λ/(β − limb) − (bal_new − bal_old + λ·slot_uses)/(β − slot)
              + λ²·is_deposit·(1 − is_withdrawal)/(β − (to + γ·bridge_addr))
              − λ²·addr_uses/(β − (slot + γ·addr_new))  = 0
  Its λ⁰ part says every slot's balance changes by exactly what the entries move in and out of
  it (a deposit only credits, a withdrawal only debits, a refund does neither); its λ¹ part is
  a lookup of from, to and every 64-bit limb into the fixed column `slot` = 0 … n−1, so slots
  exist and bal_new, amount lie in [0, 2^64); its λ² part is a lookup of each deposit's
  (to, bridge_addr) into the pairs (slot, addr_new), so a deposit credits the slot its L1
  address holds after the batch. Sharing denominators saves the helper columns that separate
  arguments (scaled by powers of λ anyway) would need.

Limbs have k bits, so the lookup table is the slot column itself. A 64-bit value v has
L = ⌈64/k⌉ limbs; the L − 1 low ones are witness columns and the top one is the expression
(v − Σ low·2^{ki})·2^{−k(L−1)}. When the top limb has t < k bits it is looked up a second time
scaled by 2^{k−t}, which bounds it to [0, 2^t).
"""

from __future__ import annotations

from dataclasses import dataclass

from kernels.params import R_MODULUS
from prover.air import Air, AirBuilder
from prover.errors import InvalidCircuit
from prover.keys import MAX_LOG2_N, MIN_LOG2_N
from prover.publication import Publication, PublishedField, PublishedPart
from prover.state_layout import StateLayout

VALUE_BITS = 64          # balances and amounts lie in [0, 2^64)
ADDRESS_BITS = 160       # an Ethereum address; 0 marks an empty slot
MIN_LOG2_ROWS = MIN_LOG2_N    # the prover's smallest domain
MAX_LOG2_ROWS = MAX_LOG2_N    # the largest domain a verification key may describe

# The ten public columns: (old state, new state) share one layout, so that one batch's new
# state commitment is the next batch's old state commitment; the batch data follows.
OLD_STATE = ("addr_old", "bal_old")
NEW_STATE = ("addr_new", "bal_new")
DATA = ("from_slot", "to_slot", "amount", "is_deposit", "is_withdrawal", "bridge_addr")

# An entry's kind as LedgerJob.bridge and the published `bridge` part write it:
# is_deposit + 2·is_withdrawal (a plain transfer is 0 and is not listed).
KIND_DEPOSIT = 1
KIND_WITHDRAWAL = 2
KIND_REFUND = 3

# What each batch publishes on the L1 (docs/ledger.md §5): its entries, rows 0, 1, … up to the
# last one that moves or names anything; each newly claimed slot with its address
# (addr_new − addr_old is the address on a claimed slot and 0 elsewhere); and each bridge entry's
# row, kind and address (its amount is its row's in `transfers`). 16 bytes per entry, 24 per
# claim, 25 per bridge entry: slots fit 4 bytes (n ≤ 2^26), amounts 8, addresses 20, kinds 1.
PUBLICATION = Publication((
    PublishedPart("transfers", (PublishedField("from_slot", 4, (("from_slot", 1),)),
                                PublishedField("to_slot", 4, (("to_slot", 1),)),
                                PublishedField("amount", 8, (("amount", 1),)))),
    PublishedPart("claims", (PublishedField("address", ADDRESS_BITS // 8,
                                            (("addr_new", 1), ("addr_old", R_MODULUS - 1))),), row_bytes=4),
    PublishedPart("bridge", (PublishedField("kind", 1, (("is_deposit", 1), ("is_withdrawal", 2))),
                             PublishedField("address", ADDRESS_BITS // 8, (("bridge_addr", 1),))), row_bytes=4),
))


@dataclass(frozen=True)
class LimbLayout:
    """How a 64-bit value splits into k-bit limbs at n = 2^k rows."""

    log2_rows: int

    @property
    def bits(self) -> int:
        return self.log2_rows

    @property
    def count(self) -> int:
        """L = ⌈64/k⌉ limbs per value."""
        return -(-VALUE_BITS // self.bits)

    @property
    def top_bits(self) -> int:
        """t: the bits left for the top limb, 1 ≤ t ≤ k."""
        return VALUE_BITS - self.bits * (self.count - 1)

    @property
    def top_is_short(self) -> bool:
        return self.top_bits < self.bits

    @property
    def top_shift(self) -> int:
        """The top limb's weight 2^{k(L−1)}."""
        return self.bits * (self.count - 1)

    def limb_columns(self, value: str) -> tuple[str, ...]:
        return tuple(f"{value}_limb{i}" for i in range(self.count - 1))

    def lookups_per_value(self) -> int:
        return self.count + int(self.top_is_short)


# From this size on the blinded witness columns go into two packs when one pack of them would
# be wider than the interaction group (docs/protocol.md §7): the opening MSMs (W, W') are as
# long as the widest group. The extra group costs the L1 about 6 400 gas a batch, under one gas
# a transfer from 2^13 on; below 2^10 a proof's MSMs are small and one pack is kept.
TWO_PACKS_FROM_LOG2_ROWS = 10


def pack_width(log2_rows: int, blinded: int, interaction: int) -> int | None:
    """The ledger's `max_pack_width` at 2^log2_rows rows, with `blinded` blinded witness columns
    beside `interaction` interaction columns."""
    if log2_rows >= TWO_PACKS_FROM_LOG2_ROWS and blinded > interaction:
        return -(-blinded // 2)
    return None


class Ledger(Air):
    """The ledger circuit at n = 2^log2_rows rows (the limb width, and so the circuit, depends on n)."""

    name = "ledger"
    sized_by_rows = True     # constructed for one trace size: circuits.load_circuit passes it
    public_inputs = ("batch_index",)
    fixed_columns = ("slot",)
    # What the rollup contract reads: the proof is accepted only as batch `batch_index`.
    state_layout = StateLayout(old_state="old_state", new_state="new_state", data="data",
                               batch_index="batch_index")
    publication = PUBLICATION

    def __init__(self, log2_rows: int):
        if not isinstance(log2_rows, int) or not MIN_LOG2_ROWS <= log2_rows <= MAX_LOG2_ROWS:
            raise InvalidCircuit(f"the ledger circuit takes log2_rows in [{MIN_LOG2_ROWS}, {MAX_LOG2_ROWS}], "
                                 f"got {log2_rows!r}")
        self.log2_rows = log2_rows
        self.limbs = LimbLayout(log2_rows)
        self.public_columns = OLD_STATE + NEW_STATE + DATA
        # Protocol v2 commits each group as one packed, unblinded commitment. old_state and
        # new_state list their columns in the same order, so equal states commit equally.
        self.public_groups = {"old_state": OLD_STATE, "new_state": NEW_STATE, "data": DATA}
        self.witness_columns = (self.public_columns + ("addr_inv",)
                                + self.limbs.limb_columns("bal_new") + self.limbs.limb_columns("amount")
                                + ("slot_uses", "addr_uses"))
        self.max_pack_width = pack_width(log2_rows, len(self.witness_columns) - len(self.public_columns),
                                         self.interaction_width())

    @property
    def n(self) -> int:
        return 1 << self.log2_rows

    def parameters(self) -> str:
        return f"log2_rows={self.log2_rows}"

    def min_rows(self) -> int:
        return self.n

    def fixed_values(self, n: int):
        # The slot column is also the limbs' lookup table, which is sound only at n = 2^k.
        if n != self.n:
            raise InvalidCircuit(f"this ledger circuit has 2^{self.log2_rows} rows, not {n}")
        return {"slot": list(range(n))}

    def eval(self, b: AirBuilder) -> None:
        c = b.cur
        addr_old, addr_new = c("addr_old"), c("addr_new")
        bal_old, bal_new = c("bal_old"), c("bal_new")
        src, dst, amount = c("from_slot"), c("to_slot"), c("amount")
        deposit, withdrawal = c("is_deposit"), c("is_withdrawal")
        b.assert_zero(addr_old * (addr_new - addr_old), "claimed_slot_keeps_its_address")
        b.assert_zero(bal_new * (1 - addr_new * c("addr_inv")), "empty_slot_holds_nothing")
        b.assert_zero(deposit * (1 - deposit), "is_deposit_is_a_bit")
        b.assert_zero(withdrawal * (1 - withdrawal), "is_withdrawal_is_a_bit")
        b.assert_zero((1 - deposit) * (1 - withdrawal) * c("bridge_addr"), "transfer_has_no_bridge_address")

        lam = b.logup_lambda()
        lam2 = lam * lam
        terms = [(amount * (1 - withdrawal) + lam, dst), (lam - amount * (1 - deposit), src)]
        for value in ("bal_new", "amount"):
            terms += [(lam, limb) for limb in self.looked_up_limbs(b, value)]
        terms.append((-(bal_new - bal_old) - lam * c("slot_uses"), c("slot")))
        # A single value v is the pair (v, 0): both fingerprint to v, so the parts share β.
        terms.append((lam2 * deposit * (1 - withdrawal), (dst, c("bridge_addr"))))
        terms.append((-lam2 * c("addr_uses"), (c("slot"), addr_new)))
        b.multiset_sum(terms, "ledger")

    def interaction_width(self) -> int:
        """The interaction columns `eval`'s one logUp sum compiles to: its terms (to, from, the
        looked-up limbs of two values, the slot, the two address pairs) in helper columns of
        `logup_arity` terms, and the running sum."""
        terms = 2 + 2 * self.limbs.lookups_per_value() + 1 + 2
        return -(-terms // self.logup_arity) + 1

    def looked_up_limbs(self, b: AirBuilder, value: str) -> list:
        """The expressions whose lookup bounds `value` to [0, 2^64): the low limbs, the top
        limb, and (when it is short) the top limb scaled up to the table's width."""
        lay = self.limbs
        low = [b.cur(name) for name in lay.limb_columns(value)]
        rest = b.cur(value)
        for i, limb in enumerate(low):
            rest = rest - limb * (1 << (lay.bits * i))
        top = rest * pow(1 << lay.top_shift, -1, R_MODULUS)
        out = low + [top]
        if lay.top_is_short:
            out.append(top * (1 << (lay.bits - lay.top_bits)))
        return out
