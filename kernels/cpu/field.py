"""Prime fields on the CPU: vectorized Montgomery arithmetic over `(..., 4)` uint64 arrays.

The kernels take the modulus as a runtime 5-tuple, so one compiled kernel serves Fr and Fq; the
hot loops of NTT and MSM use their own kernels with the modulus as a compile-time constant.
"""

from __future__ import annotations

import types

import numpy as np
from numba import njit, prange

from ..backend import Field
from ..convert import check_limb_array, ints_to_limbs, limbs_to_ints
from ..errors import InvalidInput
from ..params import LIMBS, MONTGOMERY_R
from . import mont

# ---------------------------------------------------------------------------------------------
# Kernels. `b` may have one row, which is then broadcast (multiplying a column by a constant).

# Rows up to which an element-wise kernel runs on the calling thread: about 0.3 ms of products,
# where waking the pool (and, on a busy machine, waiting for a descheduled thread) costs more.
SERIAL_MAX_ROWS = 1 << 14


def serial_twin(fn):
    """`fn` (a loop over prange) compiled without parallel=True: prange is then range, and the
    call starts no parallel region. A distinct name keeps this compilation apart from the
    parallel one in numba's on-disk cache."""
    twin = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + "_serial", fn.__defaults__, fn.__closure__)
    twin.__qualname__ = fn.__qualname__ + "_serial"
    return njit(cache=True)(twin)


def read_only(a: np.ndarray) -> np.ndarray:
    """`a` as a read-only view (no copy). numba compiles a kernel once per argument type, and
    writability is part of the type: arrays a kernel only reads go in read-only, so that a proving
    key's (read-only) and computed arrays share one compiled kernel, and a warm-up compiles
    what every caller then uses."""
    if not a.flags.writeable:
        return a
    view = a.view()
    view.flags.writeable = False
    return view


class _Sized:
    """One element-wise kernel compiled twice, serial and parallel over rows, and called as the
    one that suits the row count of its first argument."""

    def __init__(self, fn, serial_max_rows=SERIAL_MAX_ROWS):
        self.serial_max_rows = serial_max_rows
        self.parallel = njit(parallel=True, cache=True)(fn)
        self.serial = serial_twin(fn)

    def __call__(self, a, *args):
        kernel = self.serial if a.shape[0] <= self.serial_max_rows else self.parallel
        return kernel(a, *args)



def _add(a, b, out, m):
    bb = b.shape[0] > 1
    for i in prange(a.shape[0]):
        mont.store(out, i, mont.add(mont.load(a, i), mont.load(b, np.int64(i) if bb else np.int64(0)), m))


def _sub(a, b, out, m):
    bb = b.shape[0] > 1
    for i in prange(a.shape[0]):
        mont.store(out, i, mont.sub(mont.load(a, i), mont.load(b, np.int64(i) if bb else np.int64(0)), m))


def _mul(a, b, out, m):
    bb = b.shape[0] > 1
    for i in prange(a.shape[0]):
        mont.store(out, i, mont.mul(mont.load(a, i), mont.load(b, np.int64(i) if bb else np.int64(0)), m))


def _neg(a, out, m):
    for i in prange(a.shape[0]):
        mont.store(out, i, mont.neg(mont.load(a, i), m))


def _pow(a, e, one, out, m):
    ev = (e[0], e[1], e[2], e[3])
    o = (one[0], one[1], one[2], one[3])
    for i in prange(a.shape[0]):
        mont.store(out, i, mont.pow_limbs(mont.load(a, i), ev, o, m))


@njit(cache=True)
def _batch_inv(a, out, one, e_inv, m):
    """Montgomery's trick: prefix products, one Fermat inversion, then walk back."""
    n = a.shape[0]
    acc = (one[0], one[1], one[2], one[3])
    for i in range(n):
        mont.store(out, i, acc)
        acc = mont.mul(acc, mont.load(a, i), m)
    inv = mont.pow_limbs(acc, (e_inv[0], e_inv[1], e_inv[2], e_inv[3]), (one[0], one[1], one[2], one[3]), m)
    for i in range(n - 1, -1, -1):
        ai = mont.load(a, i)
        mont.store(out, i, mont.mul(inv, mont.load(out, i), m))
        inv = mont.mul(inv, ai, m)


@njit(cache=True)
def _prefix_sum(a, out, m):
    acc = (np.uint64(0), np.uint64(0), np.uint64(0), np.uint64(0))
    for i in range(a.shape[0]):
        acc = mont.add(acc, mont.load(a, i), m)
        mont.store(out, i, acc)


@njit(parallel=True, cache=True)
def _batch_inv_chunked(a, out, one, e_inv, m, chunks):
    """Batch inversion split into independent chunks so that both cores work."""
    n = a.shape[0]
    size = (n + chunks - 1) // chunks
    for c in prange(chunks):
        lo = c * size
        hi = min(n, lo + size)
        if lo < hi:
            _batch_inv(a[lo:hi], out[lo:hi], one, e_inv, m)


def _all_below(a, m):
    """Every row read as a 256-bit integer is < the modulus."""
    bad = 0
    for i in prange(a.shape[0]):
        _, borrow = mont.sbb(a[i, 0], m[0], a[i, 0] ^ a[i, 0])
        _, borrow = mont.sbb(a[i, 1], m[1], borrow)
        _, borrow = mont.sbb(a[i, 2], m[2], borrow)
        _, borrow = mont.sbb(a[i, 3], m[3], borrow)
        if borrow == 0:
            bad += 1
    return bad == 0


def _is_zero(a, out):
    for i in prange(a.shape[0]):
        out[i] = mont.is_zero(mont.load(a, i))


_add, _sub, _mul, _neg, _pow, _all_below, _is_zero = map(_Sized, (_add, _sub, _mul, _neg, _pow, _all_below, _is_zero))

# ---------------------------------------------------------------------------------------------


def _exponent_limbs(e: int) -> np.ndarray:
    return np.array([(e >> (64 * i)) & (2**64 - 1) for i in range(LIMBS)], dtype=np.uint64)


class PrimeField(Field):
    """A BN254 prime field (Fr or Fq) on the CPU. Arrays are numpy `(..., 4)` uint64 in
    Montgomery form."""

    def __init__(self, modulus: int, name: str):
        self.modulus = modulus
        self.name = name
        self.mod = mont.modulus_tuple(modulus)
        self._one = ints_to_limbs([MONTGOMERY_R % modulus], modulus)[0]
        self._r2 = ints_to_limbs([MONTGOMERY_R * MONTGOMERY_R % modulus], modulus)
        self._plain_one = ints_to_limbs([1], modulus)
        self._inv_exp = _exponent_limbs(modulus - 2)

    # -- shape handling: kernels see flat (N, 4) arrays ------------------------------------

    def _flat(self, a, name="array"):
        a = check_limb_array(a, name)
        return a.reshape(-1, LIMBS), a.shape

    def _binary(self, kernel, a, b):
        fa, shape = self._flat(a, "a")
        fb, bshape = self._flat(b, "b")
        if fb.shape[0] != 1 and bshape != shape:
            raise InvalidInput(f"{self.name}: shapes {shape} and {bshape} do not match (nor is b one element)")
        out = np.empty_like(fa)
        kernel(read_only(fa), read_only(fb), out, self.mod)
        return out.reshape(shape)

    # -- conversions ----------------------------------------------------------------------

    def from_ints(self, values, reduce: bool = False):
        canonical = ints_to_limbs(values, self.modulus, reduce)
        return self.to_montgomery(canonical)

    def to_ints(self, a) -> list[int]:
        return limbs_to_ints(self.from_montgomery(a))

    def to_montgomery(self, canonical):
        """Canonical limbs → Montgomery limbs (multiply by R² and reduce once)."""
        return self._binary(_mul, canonical, self._r2)

    def from_montgomery(self, a):
        """Montgomery limbs → canonical limbs (multiply by 1 and reduce once)."""
        return self._binary(_mul, a, self._plain_one)

    def zeros(self, n: int):
        return np.zeros((n, LIMBS), dtype=np.uint64)

    def ones(self, n: int):
        return np.tile(self._one, (n, 1))

    def constant(self, value: int):
        """One element as a `(1, 4)` array, for broadcasting in add/sub/mul."""
        return self.from_ints([value], reduce=True)

    def random(self, n: int, rng=None):
        rng = rng if rng is not None else np.random.default_rng()
        out = np.empty((n, LIMBS), dtype=np.uint64)
        top_mask = np.uint64((1 << (self.modulus.bit_length() - 192)) - 1)
        filled = 0
        while filled < n:
            cand = rng.integers(0, 2**64, size=(n - filled, LIMBS), dtype=np.uint64, endpoint=False)
            cand[:, 3] &= top_mask
            ok = self._below_rows(cand)
            good = cand[ok]
            out[filled:filled + len(good)] = good
            filled += len(good)
        return out  # uniform in [0, q), so uniform read as Montgomery residues too

    def _below_rows(self, a):
        limbs = [int(x) for x in self.mod[:4]]
        ok = np.zeros(a.shape[0], dtype=bool)
        undecided = np.ones(a.shape[0], dtype=bool)
        for li in range(3, -1, -1):
            lt = a[:, li] < np.uint64(limbs[li])
            gt = a[:, li] > np.uint64(limbs[li])
            ok |= undecided & lt
            undecided &= ~(lt | gt)
        return ok

    # -- arithmetic -------------------------------------------------------------------------

    def add(self, a, b):
        return self._binary(_add, a, b)

    def sub(self, a, b):
        return self._binary(_sub, a, b)

    def mul(self, a, b):
        return self._binary(_mul, a, b)

    def square(self, a):
        return self._binary(_mul, a, a)

    def neg(self, a):
        fa, shape = self._flat(a)
        out = np.empty_like(fa)
        _neg(fa, out, self.mod)
        return out.reshape(shape)

    def pow(self, a, exponent: int):
        if not isinstance(exponent, (int, np.integer)) or exponent < 0:
            raise InvalidInput(f"{self.name}.pow: exponent must be a non-negative int, got {exponent!r}")
        fa, shape = self._flat(a)
        # a^e = a^(e mod (q−1)) for a ≠ 0; keep e ≥ 1 when e > 0 so that 0^e stays 0.
        e = int(exponent)
        if e >= self.modulus - 1:
            e = (e - 1) % (self.modulus - 1) + 1
        out = np.empty_like(fa)
        _pow(fa, _exponent_limbs(e), self._one, out, self.mod)
        return out.reshape(shape)

    def is_zero(self, a):
        fa, shape = self._flat(a)
        out = np.empty(fa.shape[0], dtype=np.bool_)
        _is_zero(fa, out)
        return out.reshape(shape[:-1])

    def _check_invertible(self, fa):
        zero = np.empty(fa.shape[0], dtype=np.bool_)
        _is_zero(fa, zero)
        if zero.any():
            raise InvalidInput(f"{self.name}: cannot invert zero (first at index {int(np.argmax(zero))})")

    def inv(self, a):
        fa, shape = self._flat(a)
        self._check_invertible(fa)
        out = np.empty_like(fa)
        _pow(fa, self._inv_exp, self._one, out, self.mod)
        return out.reshape(shape)

    def batch_inv(self, a):
        fa, shape = self._flat(a)
        self._check_invertible(fa)
        out = np.empty_like(fa)
        if fa.shape[0] >= 4096:
            _batch_inv_chunked(fa, out, self._one, self._inv_exp, self.mod, 16)
        else:
            _batch_inv(fa, out, self._one, self._inv_exp, self.mod)
        return out.reshape(shape)

    def prefix_sum(self, a):
        """See `kernels.backend.Field.prefix_sum`: one serial pass (an addition a row; at 2^16
        rows 0.5 ms, less than the scan's 16 parallel passes cost)."""
        fa = check_limb_array(a, "prefix_sum input")
        if fa.ndim != 2:
            raise InvalidInput(f"prefix_sum: expected shape (n, 4), got {fa.shape}")
        out = np.empty_like(fa)
        _prefix_sum(np.ascontiguousarray(fa), out, self.mod)
        return out

    def validate(self, a, name: str = "array"):
        a = check_limb_array(a, name)
        if not _all_below(a.reshape(-1, LIMBS), self.mod):
            raise InvalidInput(f"{name}: holds a value ≥ the {self.name} modulus")
        return a
