"""G1 of BN254 on the CPU: numba kernels over Fq, and the `CpuG1` group object.

Points cross the interface in the shared affine layout `(..., 2, 4)` uint64 (x then y, each in
Fq Montgomery form; (0, 0) is the point at infinity). Inside the kernels a point lives in XYZZ
coordinates (X, Y, ZZ, ZZZ), standing for the affine point (X/ZZ, Y/ZZZ) with ZZ³ = ZZZ²; the
point at infinity is any tuple with ZZ = 0. XYZZ needs no inversion per addition, and its mixed
addition (XYZZ + affine, the inner step of Pippenger's buckets) costs 8 multiplications and 2
squarings, fewer than Jacobian's 7M + 4S once the cheaper squaring of a CIOS multiplier is taken
into account (here a squaring costs the same as a multiplication).

Formulas: the Explicit-Formulas Database's "xyzz" family for y² = x³ + b (a = 0):
madd-2008-s, add-2008-s, dbl-2008-s-1 and mdbl-2008-s-1, with every special case (an operand at
infinity, P + P, P + (−P)) branched on explicitly, since the formulas themselves do not handle them.

Field inversion in Fq is Fermat's x^(p−2) (`mont.pow_limbs`): about 380 multiplications, constant
in shape, with no new code to get wrong; it is only ever called once per batch (Montgomery's
batch-inversion trick), so a faster binary extended Euclid would not show in any timing.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from numba import get_num_threads, njit, prange

from .. import convert
from ..backend import G1
from ..errors import InvalidInput
from ..params import CURVE_B, G1_GENERATOR, LIMBS, P_MODULUS, R_MODULUS
from . import mont
from .field import _Sized, read_only

# Module globals become compile-time constants in the kernels.
FQ = mont.modulus_tuple(P_MODULUS)
FR = mont.modulus_tuple(R_MODULUS)
ONE = mont.montgomery_tuple(1, P_MODULUS)
CURVE_B_MONT = mont.montgomery_tuple(CURVE_B, P_MODULUS)
ZERO = (np.uint64(0),) * LIMBS
# 1 as plain limbs: a Montgomery product with it divides by 2^256, i.e. leaves Montgomery form.
PLAIN_ONE = (np.uint64(1), np.uint64(0), np.uint64(0), np.uint64(0))
P_MINUS_2 = tuple(np.uint64(((P_MODULUS - 2) >> (64 * i)) & (2**64 - 1)) for i in range(LIMBS))
INFINITY = (ZERO, ZERO, ZERO, ZERO)

SCALAR_BITS = R_MODULUS.bit_length()  # 254


# --------------------------------------------------------------------------------------------
# Field helpers over Fq
# --------------------------------------------------------------------------------------------

@njit(inline="always")
def below(a, m):
    """True when the 4-limb value a is strictly below the modulus m (limbs compared from the top)."""
    for i in range(3, -1, -1):
        if a[i] < m[i]:
            return True
        if a[i] > m[i]:
            return False
    return False


@njit(cache=True)
def fq_inv(a):
    """a⁻¹ in Fq (Montgomery in, Montgomery out) by Fermat; the inverse of 0 comes out as 0."""
    return mont.pow_limbs(a, P_MINUS_2, ONE, FQ)


@njit(inline="always")
def fq_mul(a, b):
    return mont.mul(a, b, FQ)


@njit(inline="always")
def fq_add(a, b):
    return mont.add(a, b, FQ)


@njit(inline="always")
def fq_sub(a, b):
    return mont.sub(a, b, FQ)


# --------------------------------------------------------------------------------------------
# Point arithmetic (XYZZ and affine tuples)
# --------------------------------------------------------------------------------------------

@njit
def is_affine_infinity(x, y):
    return mont.is_zero(x) and mont.is_zero(y)


@njit
def is_infinity(p):
    return mont.is_zero(p[2])


@njit
def from_affine(x, y):
    """The XYZZ form of an affine point, (0, 0) mapping to infinity."""
    if is_affine_infinity(x, y):
        return INFINITY
    return (x, y, ONE, ONE)


@njit
def neg(p):
    return (p[0], mont.neg(p[1], FQ), p[2], p[3])


@njit
def double_affine(x, y):
    """2·(x, y) for an affine point that is not infinity (mdbl-2008-s-1)."""
    u = fq_add(y, y)
    v = fq_mul(u, u)
    w = fq_mul(u, v)
    s = fq_mul(x, v)
    xx = fq_mul(x, x)
    m = fq_add(fq_add(xx, xx), xx)
    x3 = fq_sub(fq_sub(fq_mul(m, m), s), s)
    y3 = fq_sub(fq_mul(m, fq_sub(s, x3)), fq_mul(w, y))
    return (x3, y3, v, w)


@njit
def double(p):
    """2·P in XYZZ (dbl-2008-s-1). G1 has odd order, so no point has y = 0 and the formula never
    meets a 2-torsion point; infinity is the one special case."""
    if is_infinity(p):
        return p
    x1, y1, zz1, zzz1 = p
    u = fq_add(y1, y1)
    v = fq_mul(u, u)
    w = fq_mul(u, v)
    s = fq_mul(x1, v)
    xx = fq_mul(x1, x1)
    m = fq_add(fq_add(xx, xx), xx)
    x3 = fq_sub(fq_sub(fq_mul(m, m), s), s)
    y3 = fq_sub(fq_mul(m, fq_sub(s, x3)), fq_mul(w, y1))
    return (x3, y3, fq_mul(v, zz1), fq_mul(w, zzz1))


@njit
def add_affine(p, x2, y2):
    """P + (x2, y2) for an XYZZ P and an affine point that is not infinity (madd-2008-s)."""
    if is_infinity(p):
        return (x2, y2, ONE, ONE)
    x1, y1, zz1, zzz1 = p
    u2 = fq_mul(x2, zz1)
    s2 = fq_mul(y2, zzz1)
    pp_ = fq_sub(u2, x1)
    r = fq_sub(s2, y1)
    if mont.is_zero(pp_):
        # Same x: either the same point (double it) or its negation (the sum is infinity).
        if mont.is_zero(r):
            return double_affine(x2, y2)
        return INFINITY
    pp = fq_mul(pp_, pp_)
    ppp = fq_mul(pp_, pp)
    q = fq_mul(x1, pp)
    x3 = fq_sub(fq_sub(fq_sub(fq_mul(r, r), ppp), q), q)
    y3 = fq_sub(fq_mul(r, fq_sub(q, x3)), fq_mul(y1, ppp))
    return (x3, y3, fq_mul(zz1, pp), fq_mul(zzz1, ppp))


@njit
def add(p, q):
    """P + Q for XYZZ points, every case (add-2008-s plus the special cases)."""
    if is_infinity(p):
        return q
    if is_infinity(q):
        return p
    x1, y1, zz1, zzz1 = p
    x2, y2, zz2, zzz2 = q
    u1 = fq_mul(x1, zz2)
    u2 = fq_mul(x2, zz1)
    s1 = fq_mul(y1, zzz2)
    s2 = fq_mul(y2, zzz1)
    pp_ = fq_sub(u2, u1)
    r = fq_sub(s2, s1)
    if mont.is_zero(pp_):
        if mont.is_zero(r):
            return double(p)
        return INFINITY
    pp = fq_mul(pp_, pp_)
    ppp = fq_mul(pp_, pp)
    qq = fq_mul(u1, pp)
    x3 = fq_sub(fq_sub(fq_sub(fq_mul(r, r), ppp), qq), qq)
    y3 = fq_sub(fq_mul(r, fq_sub(qq, x3)), fq_mul(s1, ppp))
    zz3 = fq_mul(fq_mul(zz1, zz2), pp)
    zzz3 = fq_mul(fq_mul(zzz1, zzz2), ppp)
    return (x3, y3, zz3, zzz3)


@njit
def on_curve(x, y):
    """(x, y) is reduced and satisfies y² = x³ + b, or is (0, 0)."""
    if not (below(x, FQ) and below(y, FQ)):
        return False
    if is_affine_infinity(x, y):
        return True
    lhs = fq_mul(y, y)
    rhs = fq_add(fq_mul(fq_mul(x, x), x), CURVE_B_MONT)
    return mont.equal(lhs, rhs)


# --------------------------------------------------------------------------------------------
# Array access: affine (n, 2, 4) and XYZZ (n, 4, 4)
# --------------------------------------------------------------------------------------------

@njit
def load_affine(arr, i):
    return ((arr[i, 0, 0], arr[i, 0, 1], arr[i, 0, 2], arr[i, 0, 3]),
            (arr[i, 1, 0], arr[i, 1, 1], arr[i, 1, 2], arr[i, 1, 3]))


@njit
def store_affine(arr, i, x, y):
    for k in range(4):
        arr[i, 0, k] = x[k]
        arr[i, 1, k] = y[k]


@njit
def load_xyzz(arr, i):
    return ((arr[i, 0, 0], arr[i, 0, 1], arr[i, 0, 2], arr[i, 0, 3]),
            (arr[i, 1, 0], arr[i, 1, 1], arr[i, 1, 2], arr[i, 1, 3]),
            (arr[i, 2, 0], arr[i, 2, 1], arr[i, 2, 2], arr[i, 2, 3]),
            (arr[i, 3, 0], arr[i, 3, 1], arr[i, 3, 2], arr[i, 3, 3]))


@njit
def store_xyzz(arr, i, p):
    for k in range(4):
        arr[i, 0, k] = p[0][k]
        arr[i, 1, k] = p[1][k]
        arr[i, 2, k] = p[2][k]
        arr[i, 3, k] = p[3][k]


# --------------------------------------------------------------------------------------------
# Array kernels
# --------------------------------------------------------------------------------------------

@njit(cache=True, parallel=True)
def xyzz_to_affine_kernel(pts, chunks):
    """(n, 4, 4) XYZZ → (n, 2, 4) affine with one Fq inversion per thread (Montgomery's trick).

    1/ZZ = ZZZ/(ZZ·ZZZ) and 1/ZZZ = ZZ/(ZZ·ZZZ), so inverting the single product ZZ·ZZZ of each
    point gives both denominators; the products of all points are inverted together, one chunk
    per thread."""
    n = pts.shape[0]
    out = np.zeros((n, 2, 4), dtype=np.uint64)
    prefix = np.empty((n, 4), dtype=np.uint64)
    chunks = max(1, min(n, chunks))
    for c in prange(chunks):
        lo = c * n // chunks
        hi = (c + 1) * n // chunks
        # Forward sweep: prefix[i] = product of the denominators before i in this chunk.
        acc = ONE
        for i in range(lo, hi):
            mont.store(prefix, i, acc)
            p = load_xyzz(pts, i)
            if not is_infinity(p):
                acc = fq_mul(acc, fq_mul(p[2], p[3]))
        inv = fq_inv(acc)
        # Backward sweep: peel one denominator off the running inverse at a time.
        for i in range(hi - 1, lo - 1, -1):
            p = load_xyzz(pts, i)
            if is_infinity(p):
                continue  # stays (0, 0)
            d = fq_mul(p[2], p[3])
            inv_d = fq_mul(inv, mont.load(prefix, i))
            inv = fq_mul(inv, d)
            x = fq_mul(fq_mul(p[0], p[3]), inv_d)
            y = fq_mul(fq_mul(p[1], p[2]), inv_d)
            store_affine(out, i, x, y)
    return out


def xyzz_to_affine(pts: np.ndarray) -> np.ndarray:
    """(n, 4, 4) XYZZ → (n, 2, 4) affine (see `xyzz_to_affine_kernel`)."""
    # The thread count is read here: inside a kernel it would be a dynamic global, which
    # numba refuses to cache.
    return xyzz_to_affine_kernel(pts, get_num_threads())


@njit(cache=True, parallel=True)
def on_curve_mask(points):
    """Boolean mask over (n, 2, 4): reduced coordinates on the curve, or (0, 0)."""
    n = points.shape[0]
    ok = np.empty(n, dtype=np.bool_)
    for i in prange(n):
        x, y = load_affine(points, i)
        ok[i] = on_curve(x, y)
    return ok


@njit(cache=True, parallel=True)
def add_kernel(a, b):
    """Element-wise a + b of (n, 2, 4) affine arrays, as XYZZ (n, 4, 4)."""
    n = a.shape[0]
    out = np.empty((n, 4, 4), dtype=np.uint64)
    for i in prange(n):
        x1, y1 = load_affine(a, i)
        x2, y2 = load_affine(b, i)
        p = from_affine(x1, y1)
        if not is_affine_infinity(x2, y2):
            p = add_affine(p, x2, y2)
        store_xyzz(out, i, p)
    return out


@njit(cache=True, parallel=True)
def double_kernel(a):
    """Element-wise 2·a of an (n, 2, 4) affine array, as XYZZ (n, 4, 4)."""
    n = a.shape[0]
    out = np.empty((n, 4, 4), dtype=np.uint64)
    for i in prange(n):
        x, y = load_affine(a, i)
        if is_affine_infinity(x, y):
            store_xyzz(out, i, INFINITY)
        else:
            store_xyzz(out, i, double_affine(x, y))
    return out


@njit(cache=True, parallel=True)
def neg_kernel(a):
    """Element-wise −a of an (n, 2, 4) affine array (infinity stays (0, 0))."""
    n = a.shape[0]
    out = np.empty_like(a)
    for i in prange(n):
        x, y = load_affine(a, i)
        store_affine(out, i, x, mont.neg(y, FQ))
    return out


def _fr_from_montgomery(scalars):
    n = scalars.shape[0]
    out = np.empty_like(scalars)
    for i in prange(n):
        mont.store(out, i, mont.mul(mont.load(scalars, i), PLAIN_ONE, FR))
    return out


# (n, 4) Fr Montgomery limbs → canonical limbs (a Montgomery product with plain 1); up to 2^16
# rows on the calling thread (about a millisecond of products; on a shared machine a parallel
# region's end costs as much).
fr_from_montgomery = _Sized(_fr_from_montgomery, serial_max_rows=1 << 16)


@njit(cache=True)
def first_not_below(values, m):
    """Index of the first (n, 4) row whose value is ≥ the modulus m, or −1 when all are below."""
    for i in range(values.shape[0]):
        if not below(mont.load(values, i), m):
            return i
    return -1


@njit(cache=True)
def first_off_curve(points):
    """Index of the first (n, 2, 4) point that fails `on_curve`, or −1."""
    for i in range(points.shape[0]):
        x, y = load_affine(points, i)
        if not on_curve(x, y):
            return i
    return -1


@njit(cache=True, parallel=True)
def scalar_mul_kernel(points, scalars):
    """Element-wise [k_i]P_i for affine points and canonical scalar limbs, as XYZZ (n, 4, 4).

    Left-to-right double-and-add from the top set bit: not the fast path (MSM is), but short
    enough to check by eye, which is what a reference for the MSM needs to be."""
    n = points.shape[0]
    out = np.empty((n, 4, 4), dtype=np.uint64)
    for i in prange(n):
        x, y = load_affine(points, i)
        acc = INFINITY
        if not is_affine_infinity(x, y):
            for li in range(3, -1, -1):
                w = scalars[i, li]
                for bit in range(63, -1, -1):
                    acc = double(acc)
                    if (w >> np.uint64(bit)) & np.uint64(1):
                        acc = add_affine(acc, x, y)
        store_xyzz(out, i, acc)
    return out


@njit(cache=True)
def fixed_base_table(gx, gy, window_bits, windows):
    """Table T[j, v−1] = [v·2^(j·window_bits)]G for v in [1, 2^window_bits), as XYZZ
    (windows·(2^window_bits − 1), 4, 4); turned affine once, it makes [k]G cost one mixed
    addition per window."""
    per = (1 << window_bits) - 1
    out = np.empty((windows * per, 4, 4), dtype=np.uint64)
    base = from_affine(gx, gy)
    for j in range(windows):
        acc = base
        for v in range(per):
            store_xyzz(out, j * per + v, acc)
            acc = add(acc, base)
        # acc is now [2^window_bits]·base: the next window's base.
        base = acc
    return out


@njit(cache=True, parallel=True)
def fixed_base_mul_kernel(table, window_bits, scalars):
    """[k_i]G for canonical scalars, from an affine `fixed_base_table`; as XYZZ (n, 4, 4)."""
    n = scalars.shape[0]
    per = (1 << window_bits) - 1
    windows = table.shape[0] // per
    mask = np.uint64(per)
    out = np.empty((n, 4, 4), dtype=np.uint64)
    for i in prange(n):
        acc = INFINITY
        for j in range(windows):
            off = j * window_bits
            limb = off // 64
            if limb >= 4:
                break
            v = (scalars[i, limb] >> np.uint64(off % 64)) & mask
            if v != 0:
                x, y = load_affine(table, j * per + np.int64(v) - 1)
                acc = add_affine(acc, x, y)
        store_xyzz(out, i, acc)
    return out


@njit(cache=True)
def draw_below(limbs, m):
    """Rejection step of uniform sampling: clears the top limb's bits above m's bit length and
    reports, per row, whether the value is then below m (rows that are not get drawn again)."""
    top_bits = 64
    while top_bits > 0 and not (m[3] >> np.uint64(top_bits - 1)) & np.uint64(1):
        top_bits -= 1
    mask = (np.uint64(1) << np.uint64(top_bits)) - np.uint64(1)
    ok = np.empty(limbs.shape[0], dtype=np.bool_)
    for i in range(limbs.shape[0]):
        limbs[i, 3] &= mask
        ok[i] = below(mont.load(limbs, i), m)
    return ok


def random_canonical(n: int, modulus_tuple, rng: Optional[np.random.Generator] = None) -> np.ndarray:
    """n uniform values in [0, m) as canonical (n, 4) limbs, by rejection (m > 2^253, so fewer
    than a third of the draws are redrawn)."""
    rng = np.random.default_rng() if rng is None else rng
    out = np.empty((n, LIMBS), dtype=np.uint64)
    todo = np.arange(n)
    while todo.size:
        draw = rng.integers(0, 2**64, size=(todo.size, LIMBS), dtype=np.uint64, endpoint=False)
        ok = draw_below(draw, modulus_tuple)
        out[todo[ok]] = draw[ok]
        todo = todo[~ok]
    return out


# --------------------------------------------------------------------------------------------
# The group object
# --------------------------------------------------------------------------------------------

def check_points(a, name: str = "points") -> np.ndarray:
    """dtype uint64, shape (..., 2, 4); returns a C-contiguous array."""
    return convert.check_limb_array(a, name, trailing=(2, LIMBS))


# 8-bit windows: a 2^8-entry row per byte of the scalar (32 rows, 0.5 MiB), and a window never
# straddles two limbs, which `fixed_base_mul_kernel` relies on.
_FIXED_BASE_WINDOW = 8
# From this many products of one base on, `scalar_mul` builds the base's table (about 8 000
# additions) instead of doubling and adding per scalar (about 380 operations each).
_FIXED_BASE_MIN = 64


def _coords(point) -> tuple:
    """An affine (2, 4) point as the two limb tuples the kernels take."""
    return (tuple(np.uint64(v) for v in point[0]), tuple(np.uint64(v) for v in point[1]))


class CpuG1(G1):
    """BN254 G1 on the CPU: affine `(..., 2, 4)` uint64 arrays, Fq Montgomery, (0, 0) = infinity.

    The element-wise operations check dtype and shape but not that points lie on the curve:
    points enter through `from_ints`, `validate` or the SRS loader, which do check."""

    def __init__(self):
        self._table: Optional[tuple[bytes, np.ndarray]] = None

    # -- conversions ------------------------------------------------------------------------

    def from_ints(self, points: Sequence[tuple[int, int]]) -> np.ndarray:
        flat = []
        for i, pt in enumerate(points):
            try:
                x, y = pt
            except (TypeError, ValueError):
                raise InvalidInput(f"point {i}: expected an (x, y) pair, got {pt!r}") from None
            for v in (x, y):
                if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or not 0 <= v < P_MODULUS:
                    raise InvalidInput(f"point {i}: coordinate {v!r} is not an int in [0, p)")
            flat.extend((x, y))
        limbs = convert.to_montgomery(flat, P_MODULUS).reshape(-1, 2, LIMBS)
        bad = first_off_curve(read_only(limbs))
        if bad >= 0:
            raise InvalidInput(f"point {bad}: {tuple(points[bad])} is not on y^2 = x^3 + {CURVE_B}")
        return limbs

    def to_ints(self, a) -> list[tuple[int, int]]:
        a = check_points(a)
        flat = convert.from_montgomery(a, P_MODULUS)
        return list(zip(flat[0::2], flat[1::2]))

    def generator(self, n: int = 1) -> np.ndarray:
        g = self.from_ints([G1_GENERATOR])
        return np.repeat(g, n, axis=0)

    # -- checks -----------------------------------------------------------------------------

    def is_on_curve(self, a) -> np.ndarray:
        a = check_points(a)
        return on_curve_mask(a.reshape(-1, 2, LIMBS)).reshape(a.shape[:-2])

    def validate(self, a, name: str = "points") -> np.ndarray:
        a = check_points(a, name)
        flat = a.reshape(-1, 2, LIMBS)
        bad = first_off_curve(read_only(flat))
        if bad >= 0:
            idx = np.unravel_index(bad, a.shape[:-2]) if a.ndim > 2 else ()
            raise InvalidInput(f"{name}: point at index {tuple(int(i) for i in idx)} has a coordinate "
                               f"not below p or is not on y^2 = x^3 + {CURVE_B}")
        return a

    # -- arithmetic -------------------------------------------------------------------------

    def add(self, a, b) -> np.ndarray:
        a = check_points(a, "a")
        b = check_points(b, "b")
        if a.shape != b.shape:
            raise InvalidInput(f"add: shapes differ, {a.shape} and {b.shape}")
        out = xyzz_to_affine(add_kernel(a.reshape(-1, 2, LIMBS), b.reshape(-1, 2, LIMBS)))
        return out.reshape(a.shape)

    def double(self, a) -> np.ndarray:
        a = check_points(a)
        return xyzz_to_affine(double_kernel(a.reshape(-1, 2, LIMBS))).reshape(a.shape)

    def neg(self, a) -> np.ndarray:
        a = check_points(a)
        return neg_kernel(a.reshape(-1, 2, LIMBS)).reshape(a.shape)

    def scalar_mul(self, points, scalars) -> np.ndarray:
        """Element-wise [k_i]P_i; a single point (2, 4) is broadcast against many scalars."""
        points = check_points(points)
        scalars = canonical_scalars(scalars, montgomery=True)
        lead = scalars.shape[:-1]
        if points.shape[:-2] != lead:
            if points.shape != (2, LIMBS):
                raise InvalidInput(f"scalar_mul: {points.shape[:-2]} points for {lead} scalars")
            count = int(np.prod(lead))
            if count >= _FIXED_BASE_MIN and points.any():
                # One base, many scalars (a setup's powers of τ): a table of the base's window
                # multiples makes each product one mixed addition per window.
                flat = np.ascontiguousarray(scalars.reshape(-1, LIMBS))
                out = xyzz_to_affine(fixed_base_mul_kernel(self._table_of(points), _FIXED_BASE_WINDOW, flat))
                return out.reshape(lead + (2, LIMBS))
            points = np.broadcast_to(points, lead + (2, LIMBS))
        p = np.ascontiguousarray(points.reshape(-1, 2, LIMBS))
        out = xyzz_to_affine(scalar_mul_kernel(p, scalars.reshape(-1, LIMBS)))
        return out.reshape(lead + (2, LIMBS))

    def random(self, n: int, rng=None) -> np.ndarray:
        """n points [k_i]G with k_i uniform in Fr, by a fixed-base table of G (built once)."""
        k = random_canonical(int(n), FR, rng)
        return xyzz_to_affine(fixed_base_mul_kernel(self._table_of(self.generator()[0]), _FIXED_BASE_WINDOW, k))

    def _table_of(self, base) -> np.ndarray:
        """The affine fixed-base table of one point; the last base's table is kept (setups
        multiply one base, the generator, many times)."""
        key = base.tobytes()
        if self._table is None or self._table[0] != key:
            windows = -(-SCALAR_BITS // _FIXED_BASE_WINDOW)
            gx, gy = _coords(base)
            self._table = (key, xyzz_to_affine(fixed_base_table(gx, gy, _FIXED_BASE_WINDOW, windows)))
        return self._table[1]


def canonical_scalars(scalars, montgomery: bool = True, name: str = "scalars") -> np.ndarray:
    """Fr scalars (…, 4) uint64 → canonical limbs, after checking every value is below r
    (Montgomery values are checked too: a limb pattern ≥ r is not an Fr element)."""
    scalars = convert.check_limb_array(scalars, name)
    flat = scalars.reshape(-1, LIMBS)
    bad = first_not_below(flat, FR)
    if bad >= 0:
        value = convert.limbs_to_ints(flat[bad])[0]
        form = "Montgomery limbs" if montgomery else "value"
        raise InvalidInput(f"{name}[{bad}]: {form} {value:#x} is not below the group order r "
                           f"(reduce scalars mod r before the call)")
    if montgomery:
        flat = fr_from_montgomery(flat)
    return flat.reshape(scalars.shape)
