"""The ledger's shape at a size with two witness packs and three logUp terms per interaction
column (circuits/ledger_air.py: pack_width, logup_arity): both verifiers accept its proofs
and refuse a cheating one alike."""

import pytest

from bench.ledger import batch_job
from circuits.ledger import Ledger, build_trace
from kernels.params import R_MODULUS
from prover.air import compile_air
from prover.groups import commitment_groups
from prover.keys import dev_keys
from prover.prove import prove
from prover.types import GroupKind

from .l1_util import BE

pytest.importorskip("pyrevm")
from .test_l1_verifier import assert_agree, ecmul_calls  # noqa: E402


def test_two_packs_no_wider_than_the_interaction_group():
    air = Ledger(10)
    groups = commitment_groups(compile_air(air), air.n)
    widths = {g.name: g.width for g in groups}
    packs = [g.width for g in groups if g.kind == GroupKind.WITNESS]
    assert packs == [8, 7] and widths["interaction"] == 8 and widths["quotient"] == 3
    assert max(g.width for g in groups if g.kind != GroupKind.BOUND) == 8
    assert [g.width for g in commitment_groups(compile_air(Ledger(9)), 1 << 9) if g.kind == GroupKind.WITNESS] == [17]


def test_ledger_at_two_packs_proves_and_cheats_are_refused_by_both_verifiers():
    air = Ledger(10)
    pk, vk = dev_keys(air, 10, b"two packs", BE)
    trace, pub = build_trace(batch_job(10))
    assert_agree(air, vk, pub, prove(air, pk, trace, pub, BE).to_bytes(), expect=True)
    assert ecmul_calls(air, vk) == len(vk.groups) + 2 == 11
    bad = {c: [int(x) for x in v] for c, v in trace.items()}
    limb = air.limbs.limb_columns("amount")[0]
    bad["amount"][3] = (bad["amount"][3] + 1) % R_MODULUS      # moves value from nowhere
    bad[limb][3] = (bad[limb][3] + 1) % R_MODULUS
    assert_agree(air, vk, pub, prove(air, pk, bad, pub, BE, refuse_invalid=False).to_bytes(), expect=False)


def test_bench_ledger_measures_the_other_side_of_the_pack_knob():
    from bench import ledger

    default, = ledger.measure(8, BE, 1, print_rows=False)
    split, = ledger.measure(8, BE, 1, print_rows=False, packs=2)
    assert len(default["witness_packs"]) == 1 and len(split["witness_packs"]) == 2
    assert sum(split["witness_packs"]) == sum(default["witness_packs"]) and split["groups"] == default["groups"] + 1
    assert split["proof_bytes"] == default["proof_bytes"] + 64
