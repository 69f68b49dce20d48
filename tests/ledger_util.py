"""Shared by the ledger's soundness tests: keys per size, the circuit's rules checked directly
over the field, and the check that a cheating trace is refused by the honest prover and its
proof by both verifiers (Python, and the generated Solidity verifier on the embedded L1)."""

from __future__ import annotations

import functools
from collections import Counter

import pytest

from circuits.ledger import Ledger, LedgerJob, build_trace, complete_trace
from kernels import get_backend
from kernels.params import R_MODULUS
from node.l1.abi import decode_error
from node.l1.rollup import VerifierContract
from prover.errors import InvalidProof, InvalidTrace
from prover.proof import proof_length
from prover.prove import prove
from prover.verify import verify

from .prover_util import keys_for

BE = get_backend("cpu")


@functools.lru_cache(maxsize=None)
def keys(k: int):
    return keys_for(Ledger(k), k)


def broken_rules(k: int, trace) -> set[str]:
    """Which of the circuit's rules a trace breaks, checked directly over the field: "claim"
    (a claimed slot changed address), "empty" (an empty slot holds value), "kind" (a kind flag
    is not a bit, or a plain transfer names a bridge address), "value" (some slot value's
    change differs from its entries' net flow, deposits only crediting and withdrawals only
    debiting), "lookup" (the looked-up values — slots, limbs, top limbs — are not the multiset
    slot_uses says) and "address" (the deposits' (to, bridge_addr) pairs are not the multiset
    of (slot, addr_new) that addr_uses says)."""
    r, n = R_MODULUS, 1 << k
    lay = Ledger(k).limbs
    col = {c: [int(v) % r for v in trace[c]] for c in trace}
    ao, an, bo, bn, inv = col["addr_old"], col["addr_new"], col["bal_old"], col["bal_new"], col["addr_inv"]
    src, dst, amount = col["from_slot"], col["to_slot"], col["amount"]
    dep, wd, baddr = col["is_deposit"], col["is_withdrawal"], col["bridge_addr"]
    out = set()
    if any(ao[i] * (an[i] - ao[i]) % r for i in range(n)):
        out.add("claim")
    if any(bn[i] * (1 - an[i] * inv[i]) % r for i in range(n)):
        out.add("empty")
    if any(x % r for d, w, a in zip(dep, wd, baddr) for x in (d * (1 - d), w * (1 - w), (1 - d) * (1 - w) * a)):
        out.add("kind")
    flow = Counter()
    for s, d, a, is_d, is_w in zip(src, dst, amount, dep, wd):
        flow[d] += a * (1 - is_w)
        flow[s] -= a * (1 - is_d)
    for i in range(n):
        flow[i] -= bn[i] - bo[i]
    if any(v % r for v in flow.values()):
        out.add("value")
    looked_up = Counter(src) + Counter(dst)
    for value in ("bal_new", "amount"):
        limbs = lay.limb_columns(value)
        for row in range(n):
            low = [col[c][row] for c in limbs]
            top = (col[value][row] - sum(x << (k * i) for i, x in enumerate(low))) * pow(1 << lay.top_shift, -1, r) % r
            looked_up.update(low + [top] + ([(top << (k - lay.top_bits)) % r] if lay.top_is_short else []))
    if looked_up != Counter({a: m for a, m in enumerate(col["slot_uses"]) if m}):
        out.add("lookup")
    pairs = Counter()
    for d, w, to, a in zip(dep, wd, dst, baddr):
        pairs[(to, a)] += d * (1 - w)
    for a in range(n):
        pairs[(a, an[a])] -= col["addr_uses"][a]
    if any(v % r for v in pairs.values()):
        out.add("address")
    return out


def honest_public(job: LedgerJob) -> dict:
    """The job's public columns as lists of ints, for a test to change."""
    trace, _ = build_trace(job)
    return {c: [int(v) for v in trace[c]] for c in Ledger(job.log2_rows).public_columns}


def solidity_verifiers(l1):
    """verifier(k): the generated Solidity verifier of the 2^k-row key, deployed once on `l1`.
    Each is first shown to accept an honest proof, so that its rejections are verdicts on the
    proofs, not a contract that refuses everything."""
    deployed = {}

    def verifier(k: int) -> VerifierContract:
        if k not in deployed:
            pk, vk = keys(k)
            contract = VerifierContract.deploy(l1, Ledger(k), vk)
            job = LedgerJob(1, k, [0xA1, 0xB2], [5, 5], [(0, 1, 3)])
            trace, pub = build_trace(job)
            assert contract.accepts(prove(Ledger(k), pk, trace, pub, BE).to_bytes(), [job.batch_index])
            deployed[k] = contract
        return deployed[k]

    return verifier


def assert_solidity_rejects(verifier: VerifierContract, proof: bytes, batch_index: int):
    """The verifier contract reverts with InvalidProof (not out of gas, not anything else)."""
    receipt = verifier.verify(proof, [batch_index])
    assert not receipt.status, "the Solidity verifier accepted a proof it must reject"
    decoded = decode_error(verifier.artifact.abi, receipt.revert_data)
    assert decoded is not None and decoded[0] == "InvalidProof", f"reverted with {receipt.revert_reason!r}"


def assert_rejected(job: LedgerJob, public: dict, breaks: str, solidity):
    """The trace breaks exactly the rule `breaks`; the honest prover refuses it, and a cheating
    prover's proof of it fails verification, in Python and on the L1."""
    air = Ledger(job.log2_rows)
    pk, vk = keys(job.log2_rows)
    bad = complete_trace(job.log2_rows, public)
    assert broken_rules(job.log2_rows, bad) == {breaks}
    pub = {"batch_index": job.batch_index}
    with pytest.raises(InvalidTrace):
        prove(air, pk, bad, pub, BE)
    proof = prove(air, pk, bad, pub, BE, refuse_invalid=False).to_bytes()
    with pytest.raises(InvalidProof):
        verify(air, vk, pub, proof)
    assert_solidity_rejects(solidity(job.log2_rows), proof, job.batch_index)


def verdicts(air, vk, pub, contract: VerifierContract, proof: bytes, data: bytes) -> tuple[bool, bool]:
    """(Python, Solidity) verdicts on `proof` (bytes) carrying `data` as its published tail."""
    proof = proof[:proof_length(vk)] + data
    try:
        py = verify(air, vk, pub, proof)
    except InvalidProof:
        py = False
    return py, contract.accepts(proof, [pub["batch_index"]])
