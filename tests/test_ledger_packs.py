"""The ledger's shape at a size with two witness packs (circuits/ledger_air.py: pack_width) and
with three logUp terms per interaction column (Air.logup_arity): both verifiers accept its
proofs and refuse a cheating one alike."""

import pytest

from bench.ledger import batch_job
from circuits.ledger import Ledger, build_trace
from kernels.params import R_MODULUS
from prover.air import compile_air
from prover.errors import InvalidCircuit
from prover.groups import commitment_groups
from prover.keys import dev_keys
from prover.prove import prove
from prover.types import GroupKind

from .l1_util import BE

pytest.importorskip("pyrevm")
from .test_l1_verifier import assert_agree, ecmul_calls  # noqa: E402


@pytest.mark.parametrize("log2_rows", [6, 9, 10, 12, 16, 18, 20])
def test_two_packs_only_where_one_would_be_the_widest_group(log2_rows):
    air = Ledger(log2_rows)
    cs = compile_air(air)
    assert air.interaction_width() == cs.num_interaction
    groups = commitment_groups(cs, air.n)
    packs = [g.width for g in groups if g.kind == GroupKind.WITNESS]
    blinded = sum(packs)
    if log2_rows >= 10 and blinded > cs.num_interaction:
        assert packs == [-(-blinded // 2), blinded // 2]
        assert max(g.width for g in groups if g.kind != GroupKind.BOUND) == cs.num_interaction
    else:
        assert packs == [blinded]
    assert (log2_rows, len(packs)) not in ((9, 2), (10, 1), (16, 1), (18, 2))


class LedgerOfTriples(Ledger):
    """The ledger with three logUp terms per interaction column."""

    logup_arity = 3


def test_three_logup_terms_per_column():
    air = LedgerOfTriples(6)
    cs = compile_air(air)
    assert cs.num_interaction == air.interaction_width() == 11 and cs.max_degree() == 4
    assert cs.quotient_chunks(air.n) == 3 and cs.extension(air.n) == 4
    assert cs.digest != compile_air(Ledger(6)).digest
    pk, vk = dev_keys(air, 6, b"triples", BE)
    trace, pub = build_trace(batch_job(6))
    assert_agree(air, vk, pub, prove(air, pk, trace, pub, BE).to_bytes(), expect=True)
    bad = {c: [int(x) for x in v] for c, v in trace.items()}
    bad["bal_new"][1] = (bad["bal_new"][1] + 1) % R_MODULUS
    assert_agree(air, vk, pub, prove(air, pk, bad, pub, BE, refuse_invalid=False).to_bytes(), expect=False)
    air.logup_arity = 1
    with pytest.raises(InvalidCircuit, match="logup_arity"):
        compile_air(air)


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
