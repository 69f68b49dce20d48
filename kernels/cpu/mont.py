"""Montgomery arithmetic on 4×64-bit limbs, for numba.

Elements travel as 4-tuples of uint64 (little-endian limbs) so that they live in registers.
A modulus travels as a 5-tuple `(m0, m1, m2, m3, minv)` where minv = −m⁻¹ mod 2^64; when it is a
module-level global it is a compile-time constant. The 64×64→128-bit products come from LLVM's
i128 type through a numba intrinsic: numba has no wide multiply of its own, and emulating one
with 32-bit halves costs about four times as many instructions.

Both BN254 moduli leave the top two bits of the top limb clear, so the CIOS loop needs no extra
carry word (the "no-carry" variant) and sums of two reduced values never overflow 256 bits.
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from ..params import LIMBS, MONTGOMERY_R

_U64 = ir.IntType(64)
_U128 = ir.IntType(128)
_PAIR = types.UniTuple(types.uint64, 2)


def _pair(context, builder, sig, wide):
    lo = builder.trunc(wide, _U64)
    hi = builder.trunc(builder.lshr(wide, ir.Constant(_U128, 64)), _U64)
    return context.make_tuple(builder, sig.return_type, (lo, hi))


@intrinsic
def mac(typingctx, a, b, c, d):
    """(lo, hi) of a·b + c + d; never overflows 128 bits."""
    sig = _PAIR(types.uint64, types.uint64, types.uint64, types.uint64)

    def codegen(context, builder, signature, args):
        a_, b_, c_, d_ = (builder.zext(x, _U128) for x in args)
        wide = builder.add(builder.add(builder.mul(a_, b_), c_), d_)
        return _pair(context, builder, signature, wide)

    return sig, codegen


@intrinsic
def adc(typingctx, a, b, carry):
    """(sum, carry_out) of a + b + carry."""
    sig = _PAIR(types.uint64, types.uint64, types.uint64)

    def codegen(context, builder, signature, args):
        a_, b_, c_ = (builder.zext(x, _U128) for x in args)
        return _pair(context, builder, signature, builder.add(builder.add(a_, b_), c_))

    return sig, codegen


@intrinsic
def sbb(typingctx, a, b, borrow):
    """(difference, borrow_out) of a − b − borrow; borrow_out is 0 or 1."""
    sig = _PAIR(types.uint64, types.uint64, types.uint64)

    def codegen(context, builder, signature, args):
        a_, b_, c_ = (builder.zext(x, _U128) for x in args)
        wide = builder.sub(builder.sub(a_, b_), c_)
        lo = builder.trunc(wide, _U64)
        out = builder.trunc(builder.lshr(wide, ir.Constant(_U128, 127)), _U64)
        return context.make_tuple(builder, signature.return_type, (lo, out))

    return sig, codegen


def modulus_tuple(modulus: int) -> tuple:
    """The 5-tuple of numpy uint64 that the kernels take for a modulus."""
    limbs = [(modulus >> (64 * i)) & (2**64 - 1) for i in range(LIMBS)]
    minv = (-pow(modulus, -1, 2**64)) % 2**64
    return tuple(np.uint64(x) for x in limbs + [minv])


def montgomery_tuple(value: int, modulus: int) -> tuple:
    """A constant field element, in Montgomery form, as a 4-tuple of numpy uint64."""
    v = (value * MONTGOMERY_R) % modulus
    return tuple(np.uint64((v >> (64 * i)) & (2**64 - 1)) for i in range(LIMBS))



@njit(inline="always")
def reduce_once(t0, t1, t2, t3, m):
    """t − m if t ≥ m else t, for t < 2m."""
    z = t0 ^ t0  # a uint64 zero (a literal 0 would promote the arithmetic to int64)
    d0, b = sbb(t0, m[0], z)
    d1, b = sbb(t1, m[1], b)
    d2, b = sbb(t2, m[2], b)
    d3, b = sbb(t3, m[3], b)
    if b:
        return (t0, t1, t2, t3)
    return (d0, d1, d2, d3)


@njit(inline="always")
def add(a, b, m):
    z = a[0] ^ a[0]
    s0, c = adc(a[0], b[0], z)
    s1, c = adc(a[1], b[1], c)
    s2, c = adc(a[2], b[2], c)
    s3, c = adc(a[3], b[3], c)
    return reduce_once(s0, s1, s2, s3, m)


@njit(inline="always")
def sub(a, b, m):
    z = a[0] ^ a[0]
    d0, w = sbb(a[0], b[0], z)
    d1, w = sbb(a[1], b[1], w)
    d2, w = sbb(a[2], b[2], w)
    d3, w = sbb(a[3], b[3], w)
    if w:
        d0, c = adc(d0, m[0], z)
        d1, c = adc(d1, m[1], c)
        d2, c = adc(d2, m[2], c)
        d3, c = adc(d3, m[3], c)
    return (d0, d1, d2, d3)


@njit(inline="always")
def neg(a, m):
    z = a[0] ^ a[0]
    if (a[0] | a[1] | a[2] | a[3]) == z:
        return a
    d0, w = sbb(m[0], a[0], z)
    d1, w = sbb(m[1], a[1], w)
    d2, w = sbb(m[2], a[2], w)
    d3, w = sbb(m[3], a[3], w)
    return (d0, d1, d2, d3)


@njit(inline="always")
def double(a, m):
    return add(a, a, m)


@njit(inline="always")
def _cios_row(t0, t1, t2, t3, a, bi, m):
    """One row of CIOS: t += a·bi, then one Montgomery reduction step (shift by one limb)."""
    z = bi ^ bi
    t0, c = mac(a[0], bi, t0, z)
    t1, c = mac(a[1], bi, t1, c)
    t2, c = mac(a[2], bi, t2, c)
    t3, c = mac(a[3], bi, t3, c)
    t4 = c
    k = t0 * m[4]
    _, c = mac(k, m[0], t0, z)
    t0, c = mac(k, m[1], t1, c)
    t1, c = mac(k, m[2], t2, c)
    t2, c = mac(k, m[3], t3, c)
    t3 = t4 + c
    return t0, t1, t2, t3


@njit(inline="always")
def mul(a, b, m):
    """Montgomery product a·b·2^-256 mod m."""
    z = a[0] ^ a[0]
    t0, t1, t2, t3 = _cios_row(z, z, z, z, a, b[0], m)
    t0, t1, t2, t3 = _cios_row(t0, t1, t2, t3, a, b[1], m)
    t0, t1, t2, t3 = _cios_row(t0, t1, t2, t3, a, b[2], m)
    t0, t1, t2, t3 = _cios_row(t0, t1, t2, t3, a, b[3], m)
    return reduce_once(t0, t1, t2, t3, m)


@njit(inline="always")
def square(a, m):
    return mul(a, a, m)


@njit(inline="always")
def is_zero(a):
    return (a[0] | a[1] | a[2] | a[3]) == (a[0] ^ a[0])


@njit(inline="always")
def equal(a, b):
    return a[0] == b[0] and a[1] == b[1] and a[2] == b[2] and a[3] == b[3]


@njit(inline="always")
def load(arr, i):
    return (arr[i, 0], arr[i, 1], arr[i, 2], arr[i, 3])


@njit(inline="always")
def store(arr, i, v):
    arr[i, 0] = v[0]
    arr[i, 1] = v[1]
    arr[i, 2] = v[2]
    arr[i, 3] = v[3]


@njit(inline="always")
def pow_limbs(base, e, one, m):
    """base^e for an exponent given as 4 little-endian uint64 limbs (square-and-multiply)."""
    acc = one
    for li in range(3, -1, -1):
        w = e[li]
        for bit in range(63, -1, -1):
            acc = mul(acc, acc, m)
            if (w >> np.uint64(bit)) & np.uint64(1):
                acc = mul(acc, base, m)
    return acc
