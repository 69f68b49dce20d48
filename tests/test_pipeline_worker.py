"""The prover worker's resident key keeps everything the prover uses from the proving key."""

import numpy as np

from kernels import get_backend
from node.pipeline.circuit import LedgerCircuit
from node.pipeline.worker import ProverWorker, resident_key

from .prover_util import keys_for


def test_resident_key_keeps_the_lagrange_bases():
    circuit = LedgerCircuit(5)
    pk, _ = keys_for(circuit.air(), 5)
    assert pk.lagrange                     # the prover commits trace values with these
    kept = resident_key(pk, get_backend("cpu"))
    assert sorted(kept.lagrange) == sorted(pk.lagrange)
    assert all(np.array_equal(kept.lagrange[k], pk.lagrange[k]) for k in pk.lagrange)
    assert sorted(ProverWorker(circuit, pk, backend="cpu").pk.lagrange) == sorted(pk.lagrange)


def test_warm_up_proves_a_sample_batch_the_verifier_accepts():
    from prover.prove import prove
    from prover.verify import verify

    circuit = LedgerCircuit(5)
    pk, vk = keys_for(circuit.air(), 5)
    job = circuit.sample_job()
    assert len(job.transfers) == 4 and job.claims and len(job.bridge) == 2
    trace, pub = circuit.witness(job)
    proof = prove(circuit.air(), pk, trace, pub, get_backend("cpu"))
    assert verify(circuit.air(), vk, pub, proof.to_bytes())
    assert ProverWorker(circuit, pk, backend="cpu").warm_up() > 0
