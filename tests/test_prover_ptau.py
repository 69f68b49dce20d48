"""Import of a snarkjs `.ptau` (Perpetual Powers of Tau format): made here with snarkjs from npm,
one contribution, then used to prove and verify."""

import os
import shutil
import subprocess

import pytest

from kernels import get_backend
from prover.keys import setup
from prover.prove import prove
from prover.srs import load_ptau
from prover.verify import verify

from .prover_util import example

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NPM_DIR = os.path.join(ROOT, ".zkpipe", "npm")  # project-local, git-ignored
SNARKJS_VERSION = "0.7.5"
SNARKJS = os.path.join(NPM_DIR, "node_modules", ".bin", "snarkjs")


def _snarkjs() -> str:
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.skip("node and npm are needed to make a .ptau with snarkjs")
    if not os.path.exists(SNARKJS):
        os.makedirs(NPM_DIR, exist_ok=True)
        r = subprocess.run(["npm", "install", "--prefix", NPM_DIR, f"snarkjs@{SNARKJS_VERSION}"],
                           capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            pytest.skip(f"npm could not install snarkjs@{SNARKJS_VERSION}: {r.stderr[-300:]}")
    return SNARKJS


@pytest.fixture(scope="module")
def ptaus(tmp_path_factory):
    """(a fresh .ptau nobody contributed to, the same after one contribution)."""
    snarkjs = _snarkjs()
    d = tmp_path_factory.mktemp("ptau")
    p0, p1 = str(d / "pot8_0.ptau"), str(d / "pot8_1.ptau")
    subprocess.run([snarkjs, "powersoftau", "new", "bn128", "8", p0], check=True, capture_output=True)
    subprocess.run([snarkjs, "powersoftau", "contribute", p0, p1, "--name=zkpipe test",
                    "-e=zkpipe test entropy"], check=True, capture_output=True)
    return p0, p1


@pytest.fixture(scope="module")
def ptau(ptaus):
    return ptaus[1]


@pytest.mark.parametrize("name", ["fibonacci", "range_check", "multiset"])
def test_prove_and_verify_with_ptau(ptau, name):
    be = get_backend("cpu")
    srs = load_ptau(ptau, be=be)  # checks that the powers are consistent with [τ]₂
    assert srs.size == 2 ** 9 - 1
    air, trace, pub = example(name, 6)
    pk, vk = setup(air, 6, srs, be)
    proof = prove(air, pk, trace, pub, be)
    assert verify(air, vk, pub, proof.to_bytes())


def test_truncated_ptau_is_refused(ptau, tmp_path):
    from prover.errors import InvalidSetup
    data = open(ptau, "rb").read()
    bad = tmp_path / "bad.ptau"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidSetup):
        load_ptau(str(bad))


def test_ptau_without_contribution_is_refused_unless_asked_for(ptaus):
    from prover.errors import InvalidSetup
    fresh = ptaus[0]
    with pytest.raises(InvalidSetup, match="no contribution"):
        load_ptau(fresh)
    with pytest.warns(UserWarning, match="no contribution"):
        srs = load_ptau(fresh, allow_no_contribution=True)
    assert srs.size == 2 ** 9 - 1


def test_corrupted_g1_point_is_an_invalid_setup(ptau, tmp_path):
    import struct
    from prover.errors import InvalidSetup
    data = bytearray(open(ptau, "rb").read())
    off, count = 12, struct.unpack_from("<I", data, 8)[0]
    for _ in range(count):  # find section 2 (tauG1)
        kind, size = struct.unpack_from("<IQ", data, off)
        if kind == 2:
            break
        off += 12 + size
    data[off + 12 + 64 * 5] ^= 1  # the x of [τ^5]₁, still below p, now off the curve
    bad = tmp_path / "corrupt.ptau"
    bad.write_bytes(bytes(data))
    with pytest.raises(InvalidSetup, match="tauG1"):
        load_ptau(str(bad))
