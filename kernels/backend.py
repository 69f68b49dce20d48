"""The interface every arithmetic backend implements (CPU: NumPy + numba; GPU: CuPy + CUDA).

A backend is chosen once (`kernels.get_backend`) and handed to the prover, which then never asks
which one it has. Arrays are the backend's own (numpy or cupy) in the shared layout of
`kernels.convert`: Fr/Fq elements `(..., 4)` uint64 Montgomery limbs, G1 points `(..., 2, 4)`
affine with (0, 0) for infinity.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Optional, Sequence

from .division import synthetic_division_arrays
from .errors import InvalidInput
from .params import R_GENERATOR, R_MODULUS
from .program import RowProgram, run_with_arrays


def check_ragged(polys: Sequence, length: int) -> None:
    """Each poly a `(L, 4)` uint64 array (numpy or cupy) with L ≤ length, else InvalidInput."""
    for i, p in enumerate(polys):
        shape, dtype = getattr(p, "shape", None), getattr(p, "dtype", None)
        if dtype != "uint64" or shape is None or len(shape) != 2 or shape[1] != 4 or shape[0] > length:
            raise InvalidInput(f"polys[{i}]: expected uint64 limbs of shape (L, 4) with L ≤ {length}, "
                               f"got {dtype} {shape}")


@dataclass(frozen=True)
class MSMConfig:
    """Options of a multi-scalar multiplication.

    window_bits: Pippenger window width c; None picks one from the size and scalar width.
    scalar_bits: an upper bound on the scalars' bit length; None measures it from the data
        (a trace column of 16-bit values then costs about a sixteenth of a full-width MSM).
    scalars_montgomery: the scalars are Fr elements in Montgomery form (the backend's own Fr
        arrays, the default); False means they are canonical limbs already.
    check_points: every point is checked to be on the curve (coordinates below p) first, and
        InvalidInput names the first one that is not: without it, points off the curve give a
        meaningless sum. On by default; a caller whose points were validated once (an SRS in a
        key) turns it off.
    """

    window_bits: Optional[int] = None
    scalar_bits: Optional[int] = None
    scalars_montgomery: bool = True
    check_points: bool = True


class Field(ABC):
    """A prime field with vectorized operations over `(..., 4)` Montgomery limb arrays."""

    modulus: int
    name: str

    @abstractmethod
    def from_ints(self, values: Sequence[int], reduce: bool = False):
        """Ints in [0, modulus) → array. With `reduce`, any int is reduced mod the modulus;
        without it a value out of range raises InvalidInput."""

    @abstractmethod
    def to_ints(self, a) -> list[int]:
        """Array → flat list of canonical ints."""

    @abstractmethod
    def zeros(self, n: int): ...

    @abstractmethod
    def ones(self, n: int): ...

    @abstractmethod
    def random(self, n: int, rng=None):
        """n uniformly random elements (rng: a numpy Generator, or None for fresh entropy)."""

    @abstractmethod
    def add(self, a, b): ...

    @abstractmethod
    def sub(self, a, b): ...

    @abstractmethod
    def neg(self, a): ...

    @abstractmethod
    def mul(self, a, b): ...

    @abstractmethod
    def square(self, a): ...

    @abstractmethod
    def pow(self, a, exponent: int):
        """Every element raised to the same non-negative exponent."""

    @abstractmethod
    def inv(self, a):
        """Element-wise inverse; a zero element raises InvalidInput."""

    @abstractmethod
    def batch_inv(self, a):
        """The same result as `inv`, by Montgomery's trick (one inversion for the whole array)."""

    @abstractmethod
    def validate(self, a, name: str = "array"):
        """Check dtype, shape and that every limb value is below the modulus."""

    def prefix_sum(self, a):
        """out[i] = a[0] + … + a[i] along the first axis of `(n, 4)`. This default is a
        Hillis–Steele scan (log2 n whole-array additions, suited to a device); a backend that
        does better with one serial pass overrides it."""
        out = a.copy()
        step, n = 1, a.shape[0]
        while step < n:
            out[step:] = self.add(out[step:], out[:n - step])
            step *= 2
        return out


class G1(ABC):
    """The BN254 group G1 over Fq: y² = x³ + 3, affine arrays `(..., 2, 4)`."""

    @abstractmethod
    def from_ints(self, points: Sequence[tuple[int, int]]):
        """[(x, y), ...] → array; (0, 0) is infinity; a point off the curve raises InvalidInput."""

    @abstractmethod
    def to_ints(self, a) -> list[tuple[int, int]]: ...

    @abstractmethod
    def generator(self, n: int = 1): ...

    @abstractmethod
    def is_on_curve(self, a):
        """Boolean array: each point is on the curve or is (0, 0)."""

    @abstractmethod
    def validate(self, a, name: str = "points"): ...

    @abstractmethod
    def add(self, a, b):
        """Element-wise P + Q, every case: infinity, P + P, P + (−P)."""

    @abstractmethod
    def double(self, a): ...

    @abstractmethod
    def neg(self, a): ...

    @abstractmethod
    def scalar_mul(self, points, scalars):
        """Element-wise [k_i]P_i for Fr scalars (Montgomery arrays of the backend's Fr)."""

    @abstractmethod
    def random(self, n: int, rng=None):
        """n random points (random multiples of the generator)."""


class Backend(ABC):
    """The arithmetic engine: fields, G1, NTT and MSM on one kind of device. `xp` is the array
    module of its arrays (numpy or cupy), for shape-only operations (stack, concatenate, roll)."""

    name: str
    xp: object
    fr: Field
    fq: Field
    g1: G1

    @abstractmethod
    def ntt(self, a, inverse: bool = False, coset: bool = False, shift: int = R_GENERATOR):
        """Number-theoretic transform over Fr along axis −2 of a `(..., n, 4)` array, batched
        over the leading axes; n must be a power of two up to 2^28.

        forward: values[i] = Σ_j a[j]·ω^(ij)        (coefficients → evaluations on H)
        coset:   values[i] = Σ_j a[j]·(shift·ω^i)^j  (evaluations on the coset shift·H)
        inverse undoes the matching forward transform. Inputs and outputs in natural order."""

    @abstractmethod
    def msm(self, points, scalars, config: Optional[MSMConfig] = None):
        """Σ [k_i]P_i as one affine point `(2, 4)`, by Pippenger's bucket method. Points off the
        curve raise InvalidInput unless `config.check_points` is False."""

    def msm_sum(self, terms: Sequence[tuple]):
        """Σ over `terms` of [k_i]P_i, one affine point `(2, 4)`: each term is (points, scalars,
        config) as for `msm`. This default is one MSM per term; a backend whose MSM costs follow
        each scalar's width overrides it with one MSM over them all (fewer, larger calls)."""
        total = None
        for points, scalars, config in terms:
            p = self.msm(points, scalars, config)
            total = p if total is None else self.g1.add(total[None], p[None])[0]
        return total if total is not None else self.xp.zeros((2, 4), dtype=self.xp.uint64)

    def synthetic_division(self, coeffs, c: int):
        """(quotient `(M − 1, C, 4)`, remainder `(C, 4)`) of each of the C polynomials of the
        `(M, C, 4)` Fr coefficients (along axis 0) divided by (Y − c); the remainder is their
        value at c. This default is whole-array operations (kernels.division); a backend with
        a kernel of its own overrides it."""
        return synthetic_division_arrays(self, coeffs, c)

    def synthetic_divisions(self, items: Sequence[tuple]) -> list:
        """`synthetic_division` of each (coeffs, c) of `items`, in order. This default divides
        one after the other; a backend may run them all in one pass."""
        return [self.synthetic_division(coeffs, c) for coeffs, c in items]

    def linear_combination(self, polys: Sequence, scalars: Sequence[int], length: int):
        """Σ scalars[k]·polys[k] as `(length, 4)`: each poly `(L_k, 4)` Fr coefficients with
        L_k ≤ length (zero past its end), the scalars ints (reduced mod r). This default stacks
        the polys zero-padded and sums them with one row program; a backend with a kernel that
        reads them in place overrides it."""
        xp = self.xp
        if len(polys) != len(scalars):
            raise InvalidInput(f"linear_combination: {len(polys)} polynomials but {len(scalars)} scalars")
        check_ragged(polys, length)
        terms = [(p, s % R_MODULUS) for p, s in zip(polys, scalars) if s % R_MODULUS]
        if not terms:
            return self.fr.zeros(length)
        stacked = xp.zeros((len(terms), length, 4), dtype=xp.uint64)
        program = RowProgram()
        acc = None
        for i, (p, s) in enumerate(terms):
            stacked[i, :p.shape[0]] = p
            term = program.load(i)
            if acc is None:
                acc = term if s == 1 else program.mul(term, program.const(s))
            elif s == R_MODULUS - 1:
                acc = program.sub(acc, term)
            else:
                acc = program.add(acc, term if s == 1 else program.mul(term, program.const(s)))
        return self.run_program(program.compile([acc]), stacked)[0]

    def stack_padded(self, polys: Sequence, length: int, axis: int = 0):
        """The `(L_k, 4)` Fr polys (L_k ≤ length) zero-padded to `length` rows and stacked along
        `axis`: `(K, length, 4)` for axis 0, `(length, K, 4)` for axis 1 (row j of poly k at
        [j, k], the interleaving of a packed polynomial). This default fills zeros and copies;
        a backend may do it in one pass."""
        xp = self.xp
        if axis not in (0, 1):
            raise InvalidInput(f"stack_padded: axis must be 0 or 1, got {axis}")
        check_ragged(polys, length)
        out = xp.zeros((len(polys), length, 4) if axis == 0 else (length, len(polys), 4), dtype=xp.uint64)
        for k, p in enumerate(polys):
            if axis == 0:
                out[k, :p.shape[0]] = p
            else:
                out[:p.shape[0], k] = p
        return out

    def run_program(self, program, columns, aux=None):
        """`(outputs, L, 4)`: a row program (kernels.program) evaluated on every row of the
        `(C, L, 4)` Fr columns and the optional `(A, L, 4)` aux columns, which its loads index
        as one list, columns first. This default runs it as whole-array operations; a backend
        with a fused pass overrides it."""
        return run_with_arrays(self, program, columns, aux)

    @abstractmethod
    def asarray(self, host_array):
        """Move a numpy array onto this backend (identity on the CPU)."""

    @abstractmethod
    def to_host(self, a):
        """Move an array of this backend to a numpy array (identity on the CPU)."""
