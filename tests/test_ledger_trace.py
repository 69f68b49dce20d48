"""The ledger circuit's shape and its trace builder: what build_trace computes, and every kind
of invalid job it refuses (no proving here; tests/test_ledger_proofs.py proves)."""

import json
import random
import time

import numpy as np
import pytest

from circuits import load_circuit
from circuits.ledger import (DATA, KIND_DEPOSIT, KIND_REFUND, KIND_WITHDRAWAL, NEW_STATE, OLD_STATE, InvalidBatch,
                             Ledger, LedgerJob, LimbLayout, build_trace, complete_trace, load_job, save_job)
from kernels.params import R_MODULUS
from prover.air import compile_air
from prover.errors import InvalidCircuit

MAX = (1 << 64) - 1


def job(transfers=(), claims=(), k=6, balances=(100, 50, 7, 0), index=3, addresses=None, bridge=()):
    addresses = list(addresses if addresses is not None else [0xA1, 0xB2, 0xC3, 0xD4][:len(balances)])
    return LedgerJob(batch_index=index, log2_rows=k, old_addresses=addresses, old_balances=list(balances),
                     transfers=list(transfers), claims=list(claims), bridge=list(bridge))


# ---------------------------------------------------------------------------------------------
# The circuit


@pytest.mark.parametrize("k, count, top_bits", [(6, 11, 4), (8, 8, 8), (12, 6, 4), (16, 4, 16), (20, 4, 4), (22, 3, 20)])
def test_limb_layout_covers_exactly_64_bits(k, count, top_bits):
    lay = LimbLayout(k)
    assert (lay.count, lay.top_bits) == (count, top_bits)
    assert lay.bits * (lay.count - 1) + lay.top_bits == 64
    assert lay.top_is_short == (top_bits < k)


@pytest.mark.parametrize("k", [6, 8, 10, 16])
def test_circuit_shape(k):
    air = Ledger(k)
    cs = compile_air(air)
    lay = air.limbs
    assert cs.num_witness == 10 + 1 + 2 * (lay.count - 1) + 2
    assert air.fixed_columns == ("slot",)
    # One logUp argument: λ separates its balance, lookup and address parts only if no second
    # argument is scaled by λ or λ² as well.
    assert len(cs.arguments) == 1
    terms = 2 + 2 * lay.lookups_per_value() + 1 + 2
    assert len(cs.helpers) == (terms + 1) // 2
    assert cs.max_degree() == 3
    assert air.public_columns == OLD_STATE + NEW_STATE + DATA
    assert dict(air.public_groups) == {"old_state": OLD_STATE, "new_state": NEW_STATE, "data": DATA}
    # Equal states commit equally only if both state groups list address, then balance.
    assert [c.split("_")[0] for c in OLD_STATE] == [c.split("_")[0] for c in NEW_STATE]


def test_circuit_is_bound_to_its_size():
    with pytest.raises(InvalidCircuit):
        Ledger(8).fixed_values(1 << 9)
    assert compile_air(Ledger(8)).digest != compile_air(Ledger(9)).digest
    for bad in (2, 27, "8", 8.0):
        with pytest.raises(InvalidCircuit):
            Ledger(bad)


def test_registry_builds_the_ledger_for_a_size():
    assert load_circuit("ledger", 10).log2_rows == 10
    with pytest.raises(ValueError, match="log2_rows"):
        load_circuit("ledger")


# ---------------------------------------------------------------------------------------------
# Honest batches


def reference_balances(j: LedgerJob) -> list[int]:
    n = j.rows
    bal = list(j.old_balances) + [0] * (n - len(j.old_balances))
    for s, d, a in j.transfers:
        bal[s] -= a
        bal[d] += a
    return bal


def test_trace_applies_transfers_and_claims():
    j = job(transfers=[(0, 1, 30), (1, 4, 70), (2, 0, 7), (3, 3, 0)], claims=[(4, 0xE5)])
    trace, pub = build_trace(j)
    n = j.rows
    assert pub == {"batch_index": 3}
    assert [int(v) for v in trace["bal_new"][:6]] == [77, 10, 0, 0, 70, 0]
    assert trace["addr_new"][:6] == [0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0]
    assert trace["addr_old"][:6] == [0xA1, 0xB2, 0xC3, 0xD4, 0, 0]
    # Unused rows hold the inert transfer 0 → 0 of 0.
    assert not trace["amount"][4:].any() and not trace["from_slot"][4:].any() and not trace["to_slot"][4:].any()
    for a, inv in zip(trace["addr_new"], trace["addr_inv"]):
        assert (a * inv) % R_MODULUS == (1 if a else 0)
    assert set(trace) == set(Ledger(j.log2_rows).witness_columns)
    assert all(len(c) == n for c in trace.values())


def test_limbs_recompose_and_uses_count_every_lookup():
    rnd = random.Random(4)
    for k in (6, 8, 10):
        n = 1 << k
        bals = [rnd.choice([0, 1, MAX, rnd.randrange(MAX)]) for _ in range(n // 2)]
        transfers = [(i, i, rnd.choice([MAX, rnd.randrange(MAX)])) for i in range(n // 2)]
        j = job(transfers, k=k, balances=bals, addresses=range(1, n // 2 + 1))
        trace, _ = build_trace(j)
        air = Ledger(k)
        lay = air.limbs
        looked_up = [int(v) for v in trace["from_slot"]] + [int(v) for v in trace["to_slot"]]
        for value in ("bal_new", "amount"):
            limbs = [trace[c] for c in lay.limb_columns(value)]
            for row in range(n):
                v = int(trace[value][row])
                low = [int(limb[row]) for limb in limbs]
                assert all(0 <= x < n for x in low)
                top = (v - sum(x << (k * i) for i, x in enumerate(low))) >> lay.top_shift
                assert 0 <= top < 1 << lay.top_bits
                looked_up += low + [top] + ([top << (k - lay.top_bits)] if lay.top_is_short else [])
        assert [int(u) for u in trace["slot_uses"]] == [looked_up.count(a) for a in range(n)]


def test_netting_allows_overdrafts_within_the_batch():
    # Slot 2 sends 20 before it receives 30: only the final balance has to be non-negative.
    trace, _ = build_trace(job(transfers=[(2, 0, 20), (1, 2, 30)]))
    assert [int(v) for v in trace["bal_new"][:3]] == [120, 20, 17]


def test_net_flows_are_exact_near_2_64():
    rnd = random.Random(9)
    k = 8
    n = 1 << k
    m = 32
    for _ in range(20):
        bals = [rnd.randrange(MAX) for _ in range(m)]
        transfers = []
        cur = list(bals)
        for _ in range(n):
            s, d = rnd.randrange(m), rnd.randrange(m)
            a = rnd.randrange(min(cur[s], MAX - cur[d]) + 1) if s != d else rnd.randrange(MAX)
            cur[s] -= a
            cur[d] += a
            transfers.append((s, d, a))
        j = job(transfers, k=k, balances=bals, addresses=range(1, m + 1))
        trace, _ = build_trace(j)
        assert [int(v) for v in trace["bal_new"]] == reference_balances(j)


def test_empty_batch_leaves_the_state():
    j = job()
    trace, _ = build_trace(j)
    assert [int(v) for v in trace["bal_new"]] == [int(v) for v in trace["bal_old"]]
    assert trace["addr_new"] == trace["addr_old"]
    assert not trace["amount"].any()


def test_full_batch_fits():
    k = 6
    n = 1 << k
    trace, _ = build_trace(job([(0, 1, 1)] * n, k=k))
    assert int(trace["bal_new"][0]) == 100 - n


def test_trace_of_2_16_rows_builds_in_well_under_a_second():
    rnd = random.Random(2)
    k = 16
    n = 1 << k
    m = n - 64
    j = LedgerJob(batch_index=1, log2_rows=k, old_addresses=[rnd.getrandbits(160) | 1 for _ in range(m)],
                  old_balances=[rnd.randrange(1 << 40) for _ in range(m)],
                  transfers=[(rnd.randrange(m), rnd.randrange(m), rnd.randrange(1 << 20)) for _ in range(n - 8)]
                  + [(0, m + i, 1) for i in range(8)],
                  claims=[(m + i, (1 << 159) + i) for i in range(8)])
    build_trace(j)  # first call: imports and allocator warm-up
    # CPU time, not wall time: the development machine's cores are shared.
    t = time.process_time()
    build_trace(j)
    assert time.process_time() - t < 1.0


# ---------------------------------------------------------------------------------------------
# Invalid jobs


@pytest.mark.parametrize("change, message", [
    (dict(transfers=[(2, 0, 8)]), r"slot 2 would end the batch at balance -1 \(negative\)$"),
    (dict(transfers=[(0, 1, 1 << 64)]), r"transfers\[0\] amount = 18446744073709551616 is not in \[0, 2\^64\)"),
    (dict(transfers=[(0, 1, -1)]), r"transfers\[0\] amount = -1"),
    (dict(transfers=[(0, 64, 1)]), r"transfers\[0\]: to_slot 64 is not a slot"),
    (dict(transfers=[(70, 1, 1)]), r"transfers\[0\]: from_slot 70 is not a slot"),
    (dict(transfers=[(0, 1, 1)] * 65), "65 transfers do not fit in 64 rows"),
    (dict(transfers=[(0, 1)]), r"transfers\[0\] must be \(from_slot, to_slot, amount\)"),
    (dict(transfers=[(0, 1, 2.5)]), r"transfers\[0\] amount must be an integer"),
    (dict(transfers=[(0, 5, 1)]), "slot 5 would hold 1 but no address holds it"),
    (dict(balances=(MAX, 1, 0, 0), transfers=[(1, 0, 1)]), "slot 0 would end the batch at balance 18446744073709551616 "
                                                           r"\(not below 2\^64\)"),
    (dict(balances=(1, 2, 3, 4), addresses=[0xA1, 0xB2, 0, 0xD4]), "old state: empty slot 2 holds balance 3"),
    (dict(addresses=[0xA1, 0xB2, 0xA1, 0xD4]), "address 0x00000000000000000000000000000000000000a1 holds two slots"),
    (dict(addresses=[0xA1, 0xB2, 1 << 160, 0xD4]), r"old_addresses\[2\] must be a 160-bit address"),
    (dict(balances=(1, 2, -3, 4)), r"old_balances\[2\] = -3 is not in \[0, 2\^64\)"),
    (dict(balances=(1, 2, 3), addresses=[0xA1, 0xB2, 0xC3, 0xD4]), "4 old addresses but 3 old balances"),
    (dict(claims=[(1, 0xEE)]), r"claims\[0\]: slot 1 already belongs to"),
    (dict(claims=[(5, 0xB2)]), r"claims\[0\]: address 0x0+b2 already holds a slot"),
    (dict(claims=[(5, 0)]), r"claims\[0\]: 0 is not a nonzero 160-bit address"),
    (dict(claims=[(64, 0xEE)]), r"claims\[0\]: slot 64 is not in \[0, 64\)"),
    (dict(claims=[(5, 0xEE), (5, 0xEF)]), r"claims\[1\]: slot 5 already belongs to"),
    (dict(k=2), "log2_rows must be an integer in"),
    (dict(index=-1), "batch_index must be an integer in"),
    # Bridge entries (LedgerJob.bridge)
    (dict(transfers=[(1, 1, 5)], bridge=[(0, 4, 0xB2)]), r"bridge\[0\]: kind 4 is not 1 \(deposit\)"),
    (dict(transfers=[(1, 1, 5)], bridge=[(0, 0, 0xB2)]), r"bridge\[0\]: kind 0 is not"),
    (dict(transfers=[(1, 1, 5)], bridge=[(1, KIND_DEPOSIT, 0xB2)]), r"bridge\[0\]: index 1 is not an entry of transfers"),
    (dict(transfers=[(1, 1, 5), (2, 2, 1)], bridge=[(1, KIND_DEPOSIT, 0xC3), (0, KIND_DEPOSIT, 0xB2)]),
     r"bridge\[1\]: index 0 does not follow 1"),
    (dict(transfers=[(1, 1, 5)], bridge=[(0, KIND_DEPOSIT, 0xB2), (0, KIND_DEPOSIT, 0xB2)]),
     r"bridge\[1\]: index 0 does not follow 0"),
    (dict(transfers=[(1, 1, 5)], bridge=[(0, KIND_DEPOSIT)]), r"bridge\[0\] must be \(index, kind, address\)"),
    (dict(transfers=[(1, 1, 5)], bridge=[(0, KIND_DEPOSIT, 0)]), r"bridge\[0\]: 0 is not a nonzero 160-bit address"),
    (dict(transfers=[(1, 1, 0)], bridge=[(0, KIND_DEPOSIT, 0xB2)]),
     r"bridge\[0\] \(transfers\[0\] = \(1, 1, 0\)\): a deposit, withdrawal or refund moves a nonzero amount"),
    (dict(transfers=[(1, 1, 5)], bridge=[(0, KIND_DEPOSIT, 0xC3)]),
     r"the deposit is for 0x0+c3 but slot 1 belongs to 0x0+b2 after the claims"),
    (dict(transfers=[(5, 5, 5)], bridge=[(0, KIND_DEPOSIT, 0xEE)]), r"but slot 5 belongs to nobody"),
    (dict(transfers=[(0, 1, 5)], bridge=[(0, KIND_DEPOSIT, 0xB2)]), r"a deposit's entry names its slot twice"),
    (dict(transfers=[(0, 1, 5)], bridge=[(0, KIND_WITHDRAWAL, 0xEE)]), r"a withdrawal's entry names its slot twice"),
    (dict(transfers=[(1, 1, 51)], bridge=[(0, KIND_WITHDRAWAL, 0xEE)]),
     r"slot 1 would end the batch at balance -1 \(negative\) \(transfers\[0\] withdraws 51\)"),
    (dict(transfers=[(0, 1, 5)], bridge=[(0, KIND_REFUND, 0xEE)]), r"a refund's entry is \(0, 0, amount\)"),
    (dict(balances=(MAX, 1, 0, 0), transfers=[(0, 0, 1)], bridge=[(0, KIND_DEPOSIT, 0xA1)]),
     r"slot 0 would end the batch at balance 18446744073709551616"),
])
def test_invalid_jobs_are_refused_with_a_clear_message(change, message):
    with pytest.raises(InvalidBatch, match=message):
        build_trace(job(**change))


def test_bridge_entries_credit_debit_or_move_nothing():
    # A deposit to slot 1, one to slot 4 (claimed in the batch, then spent from), a withdrawal
    # from slot 0 and a refund.
    j = job(transfers=[(4, 4, 30), (0, 2, 100), (1, 1, 9), (0, 0, 40), (0, 0, 12), (4, 3, 5)],
            claims=[(4, 0xEE)], balances=(150, 50, 7, 0),
            bridge=[(0, KIND_DEPOSIT, 0xEE), (2, KIND_DEPOSIT, 0xB2), (3, KIND_WITHDRAWAL, 0xF00D),
                    (4, KIND_REFUND, 0xD0)])
    trace, _ = build_trace(j)
    assert [int(b) for b in trace["bal_new"][:5]] == [150 - 100 - 40, 59, 107, 5, 25]
    assert trace["is_deposit"][:6].tolist() == [1, 0, 1, 0, 1, 0]
    assert trace["is_withdrawal"][:6].tolist() == [0, 0, 0, 1, 1, 0]
    assert trace["bridge_addr"][:6] == [0xEE, 0, 0xB2, 0xF00D, 0xD0, 0]
    # Each deposit uses its (slot, address) pair once; the refund uses none.
    assert trace["addr_uses"][:5].tolist() == [0, 1, 0, 0, 1]


def test_a_job_without_bridge_entries_has_zero_bridge_columns():
    trace, _ = build_trace(job(transfers=[(0, 1, 5)]))
    assert not trace["is_deposit"].any() and not trace["is_withdrawal"].any() and not any(trace["bridge_addr"])
    assert not trace["addr_uses"].any()


# ---------------------------------------------------------------------------------------------
# Batch files


def test_batch_file_round_trip(tmp_path):
    j = job(transfers=[(0, 4, MAX - 200), (1, 0, 5)], claims=[(4, (1 << 160) - 1)], balances=(MAX, 5, 0, 0))
    j.transfers[0] = (0, 4, 1)
    path = tmp_path / "b.json"
    save_job(j, str(path))
    assert load_job(str(path)) == j
    # Numbers may be strings (decimal or hex): JSON tools lose integers above 2^53.
    data = json.loads(path.read_text())
    data["old_balances"] = [str(v) for v in data["old_balances"]]
    data["transfers"][0][2] = "0x1"
    path.write_text(json.dumps(data))
    assert load_job(str(path)) == j


def test_batch_file_with_bridge_entries_round_trips(tmp_path):
    j = job(transfers=[(1, 1, 5), (0, 0, 3)], bridge=[(0, KIND_DEPOSIT, 0xB2), (1, KIND_REFUND, (1 << 160) - 1)])
    path = tmp_path / "b.json"
    save_job(j, str(path))
    data = json.loads(path.read_text())
    assert data["bridge"] == [[0, 1, "0x" + "0" * 38 + "b2"], [1, 3, "0x" + "f" * 40]]
    assert load_job(str(path)) == j
    # "bridge" is optional: a batch file without it has none.
    del data["bridge"]
    path.write_text(json.dumps(data))
    assert load_job(str(path)).bridge == []


@pytest.mark.parametrize("content, message", [
    ("{not json", "is not valid JSON"),
    ("[1, 2]", "a batch is a JSON object"),
    ('{"batch_index": 1}', r"missing \['log2_rows', 'old_addresses', 'old_balances', 'transfers'\]"),
    ('{"batch_index": 1, "log2_rows": 6, "old_addresses": [], "old_balances": [], "transfers": [], "x": 1}',
     r"unknown \['x'\]"),
    ('{"batch_index": true, "log2_rows": 6, "old_addresses": [], "old_balances": [], "transfers": []}',
     "batch_index must be an integer, got true"),
    ('{"batch_index": 1, "log2_rows": 6, "old_addresses": [], "old_balances": [], "transfers": [[0, 1, "ten"]]}',
     r'transfers\[0\]\[2\] must be an integer, got "ten"'),
    ('{"batch_index": 1, "log2_rows": 6, "old_addresses": {}, "old_balances": [], "transfers": []}',
     "old_addresses must be a JSON array"),
    ('{"batch_index": 1, "log2_rows": 6, "old_addresses": [], "old_balances": [], "transfers": [], '
     '"bridge": [[0, 1]]}', r"bridge\[0\] must be an array of 3 numbers"),
])
def test_malformed_batch_files_are_refused(tmp_path, content, message):
    path = tmp_path / "b.json"
    path.write_text(content)
    with pytest.raises(InvalidBatch, match=message) as e:
        load_job(str(path))
    assert str(path) in str(e.value)
    with pytest.raises(InvalidBatch, match="cannot read batch file"):
        load_job(str(tmp_path / "missing.json"))


def test_complete_trace_accepts_any_field_elements():
    # A cheating prover's columns: a wrapped negative balance and an amount above 2^64. The
    # auxiliary columns still exist; the out-of-range top limbs are simply not in the table.
    trace, _ = build_trace(job(transfers=[(0, 1, 5)]))
    public = {c: [int(v) for v in trace[c]] for c in Ledger(6).public_columns}
    public["bal_new"][2] = R_MODULUS - 3
    public["amount"][1] = 1 << 64
    bad = complete_trace(6, public)
    assert bad["bal_new"][2] == R_MODULUS - 3
    uses = np.asarray(bad["slot_uses"], dtype=np.int64)
    assert uses.sum() < np.asarray(trace["slot_uses"], dtype=np.int64).sum()
