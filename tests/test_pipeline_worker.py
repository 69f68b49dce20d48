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
