"""A batch of transfers over account slots, with the commitment shape of the ledger circuit:
three public groups (old state, new state, batch data), blinded limb columns, a lookup and a
weighted multiset sum. Small enough to test at 8 rows; the L1 gas benchmark measures it.

Rows are both account slots (slot = row index, a fixed column) and transfers:
- old_state = (addr_old, bal_old), new_state = (addr_new, bal_new), data = (src, dst, amount);
- value moves as the transfers say: Σ amount/(β − dst) − amount/(β − src) = Σ (bal_new − bal_old)/(β − slot);
- bal_new and amount are sums of `LIMBS` limbs of `bits` bits, each looked up in a fixed table
  of 0 … 2^bits − 1 (so neither goes negative nor wraps the field);
- the sender of each transfer owns its source slot: (src, sender) is a row of (slot, addr_new);
- a claimed slot keeps its address: (addr_new − addr_old)·addr_old = 0.
Signatures and nonces are not checked here (the sequencer checks them).
"""

from __future__ import annotations

from kernels.params import R_MODULUS
from prover.air import Air, AirBuilder, lookup_multiplicities

LIMBS = 4


class StateTransition(Air):
    name = "state_transition"
    witness_columns = (("addr_old", "bal_old", "addr_new", "bal_new", "src", "dst", "amount", "sender")
                       + tuple(f"bal_limb{i}" for i in range(LIMBS))
                       + tuple(f"amount_limb{i}" for i in range(LIMBS))
                       + ("limb_mult", "sender_mult"))
    public_groups = {"old_state": ("addr_old", "bal_old"),
                     "new_state": ("addr_new", "bal_new"),
                     "data": ("src", "dst", "amount")}
    fixed_columns = ("slot", "limb_table")

    def __init__(self, bits: int = 3):
        self.bits = bits

    def parameters(self) -> str:
        return f"bits={self.bits}"

    def min_rows(self) -> int:
        return max(8, 1 << self.bits)

    def fixed_values(self, n: int):
        top = (1 << self.bits) - 1
        return {"slot": list(range(n)), "limb_table": [min(i, top) for i in range(n)]}

    def eval(self, b: AirBuilder) -> None:
        c = b.cur
        for whole, part in (("bal_new", "bal_limb"), ("amount", "amount_limb")):
            total = 0
            for i in range(LIMBS):
                total = total + c(f"{part}{i}") * (1 << (self.bits * i))
            b.assert_eq(c(whole), total, f"{whole}_limbs")
        b.assert_zero((c("addr_new") - c("addr_old")) * c("addr_old"), "claimed_slot_keeps_address")
        limbs = [c(f"bal_limb{i}") for i in range(LIMBS)] + [c(f"amount_limb{i}") for i in range(LIMBS)]
        b.multiset_sum([(1, limb) for limb in limbs] + [(-c("limb_mult"), c("limb_table"))], "limbs_in_range")
        b.lookup((c("src"), c("sender")), (c("slot"), c("addr_new")), c("sender_mult"), "sender_owns_src")
        b.multiset_sum([(c("amount"), c("dst")), (-c("amount"), c("src")),
                        (-(c("bal_new") - c("bal_old")), c("slot"))], "value_moves")

    def trace(self, addrs, balances, transfers, n: int, claims=None):
        """(trace, public inputs) for slots holding `addrs`/`balances` (padded with empty slots,
        address 0), the transfers [(src, dst, amount)] (padded with empty ones) and `claims`
        {slot: address} of empty slots taken in this batch."""
        addrs = list(addrs) + [0] * (n - len(addrs))
        bal_old = list(balances) + [0] * (n - len(balances))
        transfers = list(transfers) + [(0, 0, 0)] * (n - len(transfers))
        bal_new = list(bal_old)
        for s, d, a in transfers:
            bal_new[s] -= a
            bal_new[d] += a
        limit = 1 << (self.bits * LIMBS)
        if any(not 0 <= v < limit for v in bal_new) or any(not 0 <= a < limit for _, _, a in transfers):
            raise ValueError(f"balances and amounts must lie in [0, 2^{self.bits * LIMBS})")
        mask = (1 << self.bits) - 1
        addr_new = list(addrs)
        for slot, addr in (claims or {}).items():
            if addr_new[slot] != 0:
                raise ValueError(f"slot {slot} is already claimed")
            addr_new[slot] = addr
        trace = {"addr_old": addrs, "bal_old": bal_old, "addr_new": addr_new, "bal_new": bal_new,
                 "src": [t[0] for t in transfers], "dst": [t[1] for t in transfers],
                 "amount": [t[2] for t in transfers], "sender": [addr_new[t[0]] for t in transfers]}
        limbs = []
        for i in range(LIMBS):
            trace[f"bal_limb{i}"] = [(v >> (self.bits * i)) & mask for v in bal_new]
            trace[f"amount_limb{i}"] = [(t[2] >> (self.bits * i)) & mask for t in transfers]
            limbs += trace[f"bal_limb{i}"] + trace[f"amount_limb{i}"]
        table = self.fixed_values(n)["limb_table"]
        trace["limb_mult"] = lookup_multiplicities(limbs, table)
        # Each (src, sender) is row src of (slot, addr_new): slots are unique, so count by slot.
        mult = [0] * n
        for s, _, _ in transfers:
            mult[s] += 1
        trace["sender_mult"] = mult
        return {k: [v % R_MODULUS for v in col] for k, col in trace.items()}, {}
