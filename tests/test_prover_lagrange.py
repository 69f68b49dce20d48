"""Lagrange bases (prover/lagrange.py): committing groups from their values gives the very
proofs that committing coefficients gives."""

import numpy as np
import pytest
from py_ecc import optimized_bn128 as ref

from kernels import get_backend
from kernels.params import R_MODULUS, root_of_unity
from prover.errors import InvalidSetup
from prover.keys import ProvingKey, dev_keys, setup
from prover.lagrange import basis_from_powers, basis_from_trapdoor, basis_scalars
from prover.prove import prove
from prover.srs import SRS, dev_setup
from prover.verify import verify

be = get_backend("cpu")


def lagrange_at(j: int, y: int, n: int) -> int:
    """L_j(y) over H of size n as the product Π_{m≠j} (y − ω^m)/(ω^j − ω^m)."""
    omega = root_of_unity(n.bit_length() - 1)
    wj = pow(omega, j, R_MODULUS)
    num = den = 1
    for m in range(n):
        if m != j:
            wm = pow(omega, m, R_MODULUS)
            num = num * (y - wm) % R_MODULUS
            den = den * (wj - wm) % R_MODULUS
    return num * pow(den, -1, R_MODULUS) % R_MODULUS


def test_basis_matches_its_definition_from_tau_and_from_the_powers_alone():
    n, width, shift = 8, 3, 5
    srs = dev_setup(shift + width * n, b"lagrange test", insecure=True, be=be)
    tau = srs.trapdoor
    expected = [tau ** (shift + i) * lagrange_at(j, pow(tau, width, R_MODULUS), n) % R_MODULUS
                for i in range(width) for j in range(n)]
    assert basis_scalars(tau, width, n, shift) == expected
    from_tau = basis_from_trapdoor(be, tau, width, n, shift)
    for i, j in ((0, 0), (1, 5), (2, 7)):
        want = ref.normalize(ref.multiply(ref.G1, expected[i * n + j]))
        assert be.g1.to_ints(from_tau[i, j][None])[0] == (int(want[0]), int(want[1]))
    # A ceremony's SRS carries no τ: the DFT over its powers gives the same points.
    assert np.array_equal(basis_from_powers(be, srs.g1_powers, width, n, shift), from_tau)
    with pytest.raises(InvalidSetup, match="powers"):
        basis_from_powers(be, srs.g1_powers[:-1], width, n, shift)


def test_basis_when_tau_to_the_width_lies_in_h():
    # τ = ω: τ^1 ∈ H, where L_j(τ) is 1 at one root and 0 at the others.
    n = 8
    omega = root_of_unity(3)
    assert basis_scalars(omega, 1, n, 0) == [int(j == 1) for j in range(n)]


def ledger_trace(log2_rows):
    from bench.ledger import batch_job
    from circuits.ledger import build_trace

    return build_trace(batch_job(log2_rows))


def test_ledger_proof_is_the_same_with_and_without_bases(tmp_path):
    """Every group the ledger commits from values (the state, its degree bound, the batch data,
    the witness packs with their blinding) gives the commitment of the coefficients: the same
    randomness makes the same proof bytes, and the verifier accepts them."""
    from circuits.ledger import Ledger

    air = Ledger(4)
    pk, vk = dev_keys(air, 4, b"lagrange ledger", be)
    assert {name.split("_", 2)[2] for name in pk.lagrange} >= {"0"} and len(pk.lagrange) >= 4
    trace, pub = ledger_trace(4)
    with_bases = prove(air, pk, trace, pub, be, rng=np.random.default_rng(7))
    plain = prove(air, ProvingKey(pk.vk, pk.srs_g1, pk.fixed_coeffs), trace, pub, be, rng=np.random.default_rng(7))
    assert with_bases.to_bytes() == plain.to_bytes()
    verify(air, vk, pub, with_bases.to_bytes())

    # The bases travel with the key file and are checked when it is read.
    path = str(tmp_path / "pk.npz")
    pk.save(path)
    loaded = ProvingKey.load(path, be)
    assert loaded.lagrange.keys() == pk.lagrange.keys()
    assert all(np.array_equal(loaded.lagrange[k], pk.lagrange[k]) for k in pk.lagrange)
    name = sorted(pk.lagrange)[0]
    broken = dict(pk.lagrange)
    broken[name] = broken[name].copy()
    broken[name][0, 1, 1, 0] ^= np.uint64(1)   # a point off the curve
    ProvingKey(pk.vk, pk.srs_g1, pk.fixed_coeffs, broken).save(path)
    with pytest.raises(InvalidSetup, match=name):
        ProvingKey.load(path, be)


def test_setup_from_a_ceremony_srs_derives_the_same_bases():
    """A key made from an SRS without τ (as a .ptau gives) holds the bases the development
    setup computes from τ."""
    from circuits.examples import RangeCheck

    air = RangeCheck(3)
    srs = dev_setup(1 << 9, b"lagrange ceremony", insecure=True, be=be)
    with_tau, _ = setup(air, 3, srs, be)
    without_tau, _ = setup(air, 3, SRS(srs.g1_powers, srs.g2_tau, "no trapdoor"), be)
    assert with_tau.lagrange.keys() == without_tau.lagrange.keys() and with_tau.lagrange
    assert all(np.array_equal(with_tau.lagrange[k], without_tau.lagrange[k]) for k in with_tau.lagrange)
    assert not setup(air, 3, srs, be, lagrange=False)[0].lagrange
