"""The ledger circuit's constraints: one batch of transfers applied to the account state.

One table of n = 2^k rows. Row a is account slot a (its address and balance before and after
the batch) and also holds the batch's a-th transfer (unused rows hold the inert transfer 0 → 0
of amount 0). docs/ledger.md states what a proof means; this module writes the constraints:

- a claimed slot keeps its address:      addr_old·(addr_new − addr_old) = 0
- an empty slot holds nothing:           bal_new·(1 − addr_new·addr_inv) = 0
- one logUp sum, the circuit's only one, with two parts that λ keeps apart:
      Σ_rows  (amount + λ)/(β − to) + (λ − amount)/(β − from) + Σ_limbs λ/(β − limb)
              − (bal_new − bal_old + λ·uses)/(β − slot)  = 0
  Its λ⁰ part says every slot's balance changes by exactly what the transfers move in and
  out of it; its λ¹ part is a lookup of from, to and every 64-bit limb into the fixed column
  `slot` = 0 … n−1, so slots exist and bal_new, amount lie in [0, 2^64). Sharing denominators
  saves the helper columns that a separate lookup argument (scaled by λ¹ anyway) would need.

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

# The seven public columns: (old state, new state) share one layout, so that one batch's new
# state commitment is the next batch's old state commitment; the batch data follows.
OLD_STATE = ("addr_old", "bal_old")
NEW_STATE = ("addr_new", "bal_new")
DATA = ("from_slot", "to_slot", "amount")

# What each batch publishes on the L1 (docs/ledger.md §5): its transfers, rows 0, 1, … up to the
# last one that moves or names anything, and each newly claimed slot with its address
# (addr_new − addr_old is the address on a claimed slot and 0 elsewhere). 16 bytes per transfer,
# 24 per claim: slots fit 4 bytes (n ≤ 2^26), amounts 8, addresses 20.
PUBLICATION = Publication((
    PublishedPart("transfers", (PublishedField("from_slot", 4, (("from_slot", 1),)),
                                PublishedField("to_slot", 4, (("to_slot", 1),)),
                                PublishedField("amount", 8, (("amount", 1),)))),
    PublishedPart("claims", (PublishedField("address", ADDRESS_BITS // 8,
                                            (("addr_new", 1), ("addr_old", R_MODULUS - 1))),), row_bytes=4),
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
                                + ("slot_uses",))

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
        b.assert_zero(addr_old * (addr_new - addr_old), "claimed_slot_keeps_its_address")
        b.assert_zero(bal_new * (1 - addr_new * c("addr_inv")), "empty_slot_holds_nothing")

        lam = b.logup_lambda()
        terms = [(amount + lam, dst), (lam - amount, src)]
        for value in ("bal_new", "amount"):
            terms += [(lam, limb) for limb in self.looked_up_limbs(b, value)]
        terms.append((-(bal_new - bal_old) - lam * c("slot_uses"), c("slot")))
        b.multiset_sum(terms, "ledger")

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
