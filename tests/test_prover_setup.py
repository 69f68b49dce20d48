"""Setup hygiene: MSM points checked at the public boundary, a proving key whose SRS holds a
point off the curve refused on load, development keys in one call, and the typed circuit
boundary (enums whose values are the digest's words)."""

import numpy as np
import pytest

from kernels import MSMConfig, get_backend
from kernels.errors import InvalidInput
from kernels.params import R_MODULUS
from prover.air import compile_air
from prover.errors import InvalidSetup
from prover.keys import MAX_LOG2_N, MIN_LOG2_N, ProvingKey, dev_keys
from prover.prove import prove
from prover.types import ColumnKind, Selector
from prover.verify import verify

from circuits.examples import Fibonacci

BE = get_backend("cpu")


def points_with_one_off_the_curve(count: int = 8, bad: int = 3):
    pts = np.array(BE.g1.random(count, np.random.default_rng(1)))
    pts[bad, 1, 0] ^= np.uint64(1)  # y changed: (x, y) no longer on y² = x³ + 3
    return pts


def test_msm_refuses_points_off_the_curve_by_default():
    pts = points_with_one_off_the_curve()
    scalars = BE.fr.random(8, np.random.default_rng(2))
    with pytest.raises(InvalidInput, match=r"points\[3\]"):
        BE.msm(pts, scalars)
    # Turned off, the sum is computed (and is garbage): the caller vouches for its points.
    BE.msm(pts, scalars, MSMConfig(check_points=False))


def test_proving_key_with_a_corrupted_srs_point_is_refused(tmp_path):
    air = Fibonacci(2)
    pk, vk = dev_keys(air, 3, b"setup test", BE)
    path = str(tmp_path / "key.npz")
    pk.save(path)
    loaded = ProvingKey.load(path, BE)
    assert loaded.vk.digest == vk.digest
    assert not any(a.flags.writeable for a in (loaded.srs_g1, loaded.fixed_coeffs, *loaded.lagrange.values()))
    with pytest.raises(ValueError, match="read-only"):
        pk.srs_g1[5, 0, 0] ^= np.uint64(1)          # a key is never changed in place
    srs = pk.srs_g1.copy()
    srs[5, 0, 0] ^= np.uint64(1)
    ProvingKey(pk.vk, srs, pk.fixed_coeffs, pk.lagrange).save(path)
    with pytest.raises(InvalidSetup, match="SRS"):
        ProvingKey.load(path, BE)


def test_dev_keys_prove_and_verify_and_check_the_size():
    air = Fibonacci(2)
    pk, vk = dev_keys(air, 3, b"setup test", BE)
    trace, pub = air.trace(8)
    assert verify(air, vk, pub, prove(air, pk, trace, pub, BE).to_bytes())
    for log2_n in (MIN_LOG2_N - 1, MAX_LOG2_N + 1):
        with pytest.raises(InvalidInput, match="log2_n"):
            dev_keys(air, log2_n, b"setup test", BE)


def test_selectors_and_column_kinds_are_enums_with_the_digest_words():
    cs = compile_air(Fibonacci(2))
    assert {c.selector for c in cs.constraints} <= set(Selector)
    assert all(isinstance(c.selector, Selector) for c in cs.constraints)
    assert f"{Selector.TRANSITION}" == "transition" == Selector.TRANSITION
    assert (ColumnKind.QUOTIENT, 0) == ("quotient", 0)


def test_a_contribution_multiplies_tau_and_every_power_and_is_checked():
    from prover.srs import check_srs, dev_setup
    srs = dev_setup(16, b"contribution", insecure=True, be=BE)
    x = 0x1234567
    new = srs.contribute(BE, secret=x)
    tau2 = srs.trapdoor * x % R_MODULUS
    assert new.trapdoor == tau2
    expected = BE.g1.scalar_mul(BE.g1.generator(1)[0], BE.fr.from_ints([pow(tau2, i, R_MODULUS) for i in range(16)]))
    assert BE.g1.to_ints(BE.asarray(new.g1_powers)) == BE.g1.to_ints(expected)
    assert new.g2_tau != srs.g2_tau
    check_srs(new, BE)           # consecutive powers of the new τ in [τ']₂
    with pytest.raises(InvalidSetup):
        srs.contribute(BE, secret=0)


def test_keys_from_a_larger_srs_get_one_more_contribution_when_a_degree_bound_relies_on_it():
    from circuits.ledger import Ledger, build_trace
    from circuits.ledger_job import LedgerJob
    from prover.groups import srs_size
    from prover.keys import setup
    from prover.srs import dev_setup
    air = Ledger(6)
    needed = srs_size(compile_air(air), 64)
    big = dev_setup(needed + 64, b"ceremony", insecure=True, be=BE)
    pk, vk = setup(air, 6, big, BE)
    assert pk.srs_g1.shape[0] == needed and vk.g2_tau != big.g2_tau
    # The powers kept are no longer the ceremony's: [τ^D] from the file fits nothing.
    assert BE.g1.to_ints(BE.asarray(pk.srs_g1[1:2])) != BE.g1.to_ints(BE.asarray(big.g1_powers[1:2]))
    job = LedgerJob(1, 6, [0xA1, 0xB2], [100, 50], [(0, 1, 30)])
    trace, pub = build_trace(job)
    assert verify(air, vk, pub, prove(air, pk, trace, pub, BE).to_bytes())
    # A circuit without a degree bound keeps the ceremony's τ (nothing relies on the SRS's end).
    fib = Fibonacci(2)
    _, fvk = setup(fib, 3, dev_setup(srs_size(compile_air(fib), 8) + 8, b"ceremony", insecure=True, be=BE), BE,
                   lagrange=False)
    assert fvk.g2_tau == big.g2_tau
