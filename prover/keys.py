"""Proving and verification keys: what `setup` derives from a circuit, a trace size and an SRS.

The verification key is small and has one canonical byte encoding (docs/protocol.md §2); its
Keccak-256 digest is the first thing the transcript absorbs, and a Solidity verifier carries it
as a constant. The proving key adds the SRS powers and the fixed columns' coefficients.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kernels.params import P_MODULUS, R_MODULUS

from .air import Air, ConstraintSystem, compile_air
from .errors import InvalidCircuit, InvalidInput
from .keccak import keccak256
from .srs import SRS, G2Point
from .transcript import encode_point

VK_VERSION = 1
MAX_LOG2_N = 26


@dataclass
class VerificationKey:
    log2_n: int
    num_witness: int
    num_fixed: int
    num_interaction: int
    num_chunks: int
    num_public_inputs: int
    num_zeta_omega: int
    circuit_digest: bytes
    fixed_commitments: list[tuple[int, int]]
    g2_tau: G2Point

    @property
    def n(self) -> int:
        return 1 << self.log2_n

    def to_bytes(self) -> bytes:
        """Eight 32-byte words (version, log2_n, #witness, #fixed, #interaction, #chunks,
        #public inputs, #columns opened at ζω), the circuit digest, the fixed commitments
        (64 bytes each) and [τ]₂ in the EVM pairing precompile's order (x.c1, x.c0, y.c1, y.c0)."""
        words = [VK_VERSION, self.log2_n, self.num_witness, self.num_fixed, self.num_interaction,
                 self.num_chunks, self.num_public_inputs, self.num_zeta_omega]
        out = b"".join(w.to_bytes(32, "big") for w in words) + self.circuit_digest
        out += b"".join(encode_point(p) for p in self.fixed_commitments)
        (x0, x1), (y0, y1) = self.g2_tau
        out += b"".join(v.to_bytes(32, "big") for v in (x1, x0, y1, y0))
        return out

    @classmethod
    def from_bytes(cls, data: bytes) -> "VerificationKey":
        if len(data) < 8 * 32 + 32 + 128:
            raise InvalidInput("verification key too short")
        words = [int.from_bytes(data[32 * i:32 * i + 32], "big") for i in range(8)]
        version, log2_n, nw, nf, ni, nc, npub, nzo = words
        if version != VK_VERSION:
            raise InvalidInput(f"verification key version {version}; expected {VK_VERSION}")
        if not 3 <= log2_n <= MAX_LOG2_N:
            raise InvalidInput(f"verification key for 2^{log2_n} rows is out of range")
        expected = 8 * 32 + 32 + 64 * nf + 128
        if len(data) != expected:
            raise InvalidInput(f"verification key is {len(data)} bytes; its header says {expected}")
        digest = data[256:288]
        off = 288
        fixed = []
        for _ in range(nf):
            x = int.from_bytes(data[off:off + 32], "big")
            y = int.from_bytes(data[off + 32:off + 64], "big")
            if x >= P_MODULUS or y >= P_MODULUS:
                raise InvalidInput("verification key holds a coordinate not below p")
            fixed.append((x, y))
            off += 64
        x1, x0, y1, y0 = (int.from_bytes(data[off + 32 * i:off + 32 * i + 32], "big") for i in range(4))
        return cls(log2_n, nw, nf, ni, nc, npub, nzo, digest, fixed, ((x0, x1), (y0, y1)))

    @property
    def digest(self) -> bytes:
        return keccak256(self.to_bytes())

    def save(self, path: str) -> None:
        with open(path, "wb") as f:
            f.write(self.to_bytes())

    @classmethod
    def load(cls, path: str) -> "VerificationKey":
        with open(path, "rb") as f:
            return cls.from_bytes(f.read())


@dataclass
class ProvingKey:
    vk: VerificationKey
    srs_g1: np.ndarray           # (D, 2, 4) host array: [τ^i]₁
    fixed_coeffs: np.ndarray     # (F, n, 4) host array: the fixed columns' coefficients

    def save(self, path: str) -> None:
        np.savez(path, vk=np.frombuffer(self.vk.to_bytes(), dtype=np.uint8),
                 srs_g1=self.srs_g1, fixed_coeffs=self.fixed_coeffs)

    @classmethod
    def load(cls, path: str) -> "ProvingKey":
        with np.load(path, allow_pickle=False) as z:
            vk = VerificationKey.from_bytes(z["vk"].tobytes())
            return cls(vk, z["srs_g1"].astype(np.uint64), z["fixed_coeffs"].astype(np.uint64))


def check_circuit(cs: ConstraintSystem, vk: VerificationKey) -> None:
    """The circuit in hand is the one the key was made for."""
    if cs.digest != vk.circuit_digest:
        raise InvalidCircuit(f"circuit {cs.air.name!r} does not match the key's circuit digest")


def setup(air: Air, log2_n: int, srs: SRS, backend=None) -> tuple[ProvingKey, VerificationKey]:
    """Derive the keys of `air` at n = 2^log2_n rows from an SRS: commit the fixed columns
    (unblinded: they are public) and record the circuit's shape."""
    from kernels import get_backend
    from .polynomials import Domain
    be = backend or get_backend("auto")
    cs = compile_air(air)
    if not 3 <= log2_n <= MAX_LOG2_N:
        raise InvalidInput(f"log2_n must lie in [3, {MAX_LOG2_N}], got {log2_n}")
    n = 1 << log2_n
    if n < air.min_rows():
        raise InvalidCircuit(f"{air.name} needs at least {air.min_rows()} rows, got {n}")
    if cs.extension(n) * n > 1 << 28:
        raise InvalidCircuit("the quotient's coset exceeds Fr's 2^28 roots of unity")
    size = cs.srs_size(n)
    srs = srs.truncate(size)
    Domain(log2_n)
    values = air.fixed_values(n)
    if set(values) != set(air.fixed_columns):
        raise InvalidCircuit(f"{air.name}.fixed_values must give exactly the fixed columns")
    fr = be.fr
    if air.fixed_columns:
        evals = []
        for name in air.fixed_columns:
            col = list(values[name])
            if len(col) != n:
                raise InvalidCircuit(f"fixed column {name!r} has {len(col)} rows, expected {n}")
            evals.append(fr.from_ints([int(v) % R_MODULUS for v in col]))
        stacked = be.asarray(np.stack([be.to_host(e) for e in evals]))
        coeffs = be.ntt(stacked, inverse=True)
        points = be.asarray(srs.g1_powers)
        commitments = [be.g1.to_ints(be.msm(points[:n], coeffs[i]))[0] for i in range(len(evals))]
        fixed_coeffs = be.to_host(coeffs)
    else:
        commitments, fixed_coeffs = [], np.zeros((0, n, 4), dtype=np.uint64)
    vk = VerificationKey(log2_n, cs.num_witness, cs.num_fixed, cs.num_interaction,
                         cs.quotient_chunks(n), len(air.public_inputs), len(cs.opened_at_zeta_omega()),
                         cs.digest, commitments, srs.g2_tau)
    return ProvingKey(vk, srs.g1_powers, fixed_coeffs), vk
