// BN254 prime fields Fr (scalars) and Fq (base field of G1) in Montgomery form.
//
// Layout: an element is 4 little-endian 64-bit limbs holding x·2^256 mod m, exactly the
// `(n, 4)` uint64 rows of kernels/convert.py, so arrays move between the CPU and GPU backends
// with one copy and no conversion.
//
// Everything here is `__host__ __device__` and uses no headers, so the same code compiles under
// NVRTC (CuPy's RawModule), nvcc, and a plain host C++ compiler (the host arithmetic test).

#pragma once

#ifdef __CUDACC__
#define ZK_HD __host__ __device__ __forceinline__
#else
#define ZK_HD inline
#endif

namespace zk {

typedef unsigned long long u64;
typedef unsigned int u32;
typedef long long i64;
typedef int i32;

// High half of the 128-bit product a·b.
ZK_HD u64 mul_hi(u64 a, u64 b) {
#ifdef __CUDA_ARCH__
    return __umul64hi(a, b);
#else
    return (u64)(((unsigned __int128)a * b) >> 64);
#endif
}

// Low limb of a·b + c + carry; carry receives the high limb. Never overflows 128 bits:
// (2^64−1)^2 + 2(2^64−1) = 2^128 − 1.
ZK_HD u64 mac(u64 a, u64 b, u64 c, u64& carry) {
    u64 lo = a * b;
    u64 hi = mul_hi(a, b);
    lo += c;
    hi += (lo < c);
    lo += carry;
    hi += (lo < carry);
    carry = hi;
    return lo;
}

// a + b + carry; carry (0 or 1) receives the carry out.
ZK_HD u64 adc(u64 a, u64 b, u64& carry) {
    u64 s = a + b;
    u64 c1 = (s < a);
    u64 t = s + carry;
    u64 c2 = (t < s);
    carry = c1 | c2;
    return t;
}

// a − b − borrow; borrow (0 or 1) receives the borrow out.
ZK_HD u64 sbb(u64 a, u64 b, u64& borrow) {
    u64 d = a - b;
    u64 b1 = (a < b);
    u64 t = d - borrow;
    u64 b2 = (d < borrow);
    borrow = b1 | b2;
    return t;
}

// Modulus descriptions. M: the modulus; INV: −M^−1 mod 2^64; ONE: 2^256 mod M (1 in Montgomery
// form); R2: 2^512 mod M (multiplying by it enters Montgomery form). Scalars rather than arrays,
// so that device code sees compile-time constants without any global memory.
struct FrParams {
    static constexpr u64 M0 = 0x43e1f593f0000001ULL, M1 = 0x2833e84879b97091ULL,
                         M2 = 0xb85045b68181585dULL, M3 = 0x30644e72e131a029ULL;
    static constexpr u64 INV = 0xc2e1f593efffffffULL;
    static constexpr u64 ONE0 = 0xac96341c4ffffffbULL, ONE1 = 0x36fc76959f60cd29ULL,
                         ONE2 = 0x666ea36f7879462eULL, ONE3 = 0x0e0a77c19a07df2fULL;
    static constexpr u64 R20 = 0x1bb8e645ae216da7ULL, R21 = 0x53fe3ab1e35c59e3ULL,
                         R22 = 0x8c49833d53bb8085ULL, R23 = 0x0216d0b17f4e44a5ULL;
};

struct FqParams {
    static constexpr u64 M0 = 0x3c208c16d87cfd47ULL, M1 = 0x97816a916871ca8dULL,
                         M2 = 0xb85045b68181585dULL, M3 = 0x30644e72e131a029ULL;
    static constexpr u64 INV = 0x87d20782e4866389ULL;
    static constexpr u64 ONE0 = 0xd35d438dc58f0d9dULL, ONE1 = 0x0a78eb28f5c70b3dULL,
                         ONE2 = 0x666ea36f7879462cULL, ONE3 = 0x0e0a77c19a07df2fULL;
    static constexpr u64 R20 = 0xf32cfc5b538afa89ULL, R21 = 0xb5e71911d44501fbULL,
                         R22 = 0x47ab1eff0a417ff6ULL, R23 = 0x06d89f71cab8351fULL;
};

// An element of the field described by P. Both BN254 moduli are below 2^254, so a sum of two
// reduced values fits in 256 bits and the Montgomery loop needs no extra carry word.
template <class P>
struct Fp {
    u64 l[4];

    static ZK_HD Fp zero() { Fp r; r.l[0] = 0; r.l[1] = 0; r.l[2] = 0; r.l[3] = 0; return r; }
    static ZK_HD Fp one() { Fp r; r.l[0] = P::ONE0; r.l[1] = P::ONE1; r.l[2] = P::ONE2; r.l[3] = P::ONE3; return r; }
    static ZK_HD Fp modulus() { Fp r; r.l[0] = P::M0; r.l[1] = P::M1; r.l[2] = P::M2; r.l[3] = P::M3; return r; }
    static ZK_HD Fp r2() { Fp r; r.l[0] = P::R20; r.l[1] = P::R21; r.l[2] = P::R22; r.l[3] = P::R23; return r; }

    // A raw limb value (no Montgomery conversion): for small constants and canonical scalars.
    static ZK_HD Fp raw(u64 a0, u64 a1 = 0, u64 a2 = 0, u64 a3 = 0) {
        Fp r; r.l[0] = a0; r.l[1] = a1; r.l[2] = a2; r.l[3] = a3; return r;
    }

    static ZK_HD Fp load(const u64* p) { Fp r; r.l[0] = p[0]; r.l[1] = p[1]; r.l[2] = p[2]; r.l[3] = p[3]; return r; }
    ZK_HD void store(u64* p) const { p[0] = l[0]; p[1] = l[1]; p[2] = l[2]; p[3] = l[3]; }

    ZK_HD bool is_zero() const { return (l[0] | l[1] | l[2] | l[3]) == 0; }

    // True when the limbs, read as an integer, are below the modulus (a valid representation).
    ZK_HD bool is_reduced() const {
        u64 borrow = 0;
        sbb(l[0], P::M0, borrow);
        sbb(l[1], P::M1, borrow);
        sbb(l[2], P::M2, borrow);
        sbb(l[3], P::M3, borrow);
        return borrow != 0;
    }
};

template <class P>
ZK_HD bool operator==(const Fp<P>& a, const Fp<P>& b) {
    return ((a.l[0] ^ b.l[0]) | (a.l[1] ^ b.l[1]) | (a.l[2] ^ b.l[2]) | (a.l[3] ^ b.l[3])) == 0;
}

template <class P>
ZK_HD bool operator!=(const Fp<P>& a, const Fp<P>& b) { return !(a == b); }

// t − M when t ≥ M, else t; valid for t < 2M.
template <class P>
ZK_HD Fp<P> reduce_once(const Fp<P>& t) {
    Fp<P> d;
    u64 borrow = 0;
    d.l[0] = sbb(t.l[0], P::M0, borrow);
    d.l[1] = sbb(t.l[1], P::M1, borrow);
    d.l[2] = sbb(t.l[2], P::M2, borrow);
    d.l[3] = sbb(t.l[3], P::M3, borrow);
    return borrow ? t : d;
}

template <class P>
ZK_HD Fp<P> operator+(const Fp<P>& a, const Fp<P>& b) {
    Fp<P> s;
    u64 carry = 0;
    s.l[0] = adc(a.l[0], b.l[0], carry);
    s.l[1] = adc(a.l[1], b.l[1], carry);
    s.l[2] = adc(a.l[2], b.l[2], carry);
    s.l[3] = adc(a.l[3], b.l[3], carry);
    return reduce_once(s);
}

template <class P>
ZK_HD Fp<P> operator-(const Fp<P>& a, const Fp<P>& b) {
    Fp<P> d;
    u64 borrow = 0;
    d.l[0] = sbb(a.l[0], b.l[0], borrow);
    d.l[1] = sbb(a.l[1], b.l[1], borrow);
    d.l[2] = sbb(a.l[2], b.l[2], borrow);
    d.l[3] = sbb(a.l[3], b.l[3], borrow);
    // Add M back when the difference went negative; the mask keeps the code branch-free.
    u64 mask = 0 - borrow;
    u64 carry = 0;
    d.l[0] = adc(d.l[0], P::M0 & mask, carry);
    d.l[1] = adc(d.l[1], P::M1 & mask, carry);
    d.l[2] = adc(d.l[2], P::M2 & mask, carry);
    d.l[3] = adc(d.l[3], P::M3 & mask, carry);
    return d;
}

template <class P>
ZK_HD Fp<P> operator-(const Fp<P>& a) { return Fp<P>::zero() - a; }

template <class P>
ZK_HD Fp<P> dbl(const Fp<P>& a) { return a + a; }

// Montgomery product a·b·2^−256 mod M.
//
// Device builds (ZK_CARRY_CHAIN) run the 32-bit-limb product below, whose carries ride the
// hardware carry flag; host builds run the portable 64-bit CIOS loop. Both compute the same value.
#if defined(__CUDA_ARCH__) || defined(ZK_EMULATE_CARRY)
#define ZK_CARRY_CHAIN 1
#endif

#if defined(ZK_CARRY_CHAIN)

// Carry-chain primitives, one PTX instruction each (the names are the PTX mnemonics). On the
// device the carry flag lives in the hardware and `cf` is never read: the chains below are written
// so that nothing but these primitives runs between the first `.cc` and the last consumer of the
// flag. The emulated build (ZK_EMULATE_CARRY, host C++) keeps the flag in `cf`, so the very same
// chain sequence runs, and is tested, on the CPU.
struct CarryFlag {
#ifdef ZK_EMULATE_CARRY
    u32 cf = 0;
#endif
};

#ifdef ZK_EMULATE_CARRY
#define ZK_CC_OP(name, expr, sets)                                                               \
    ZK_HD u32 name(u32 a, u32 b, u32 c, CarryFlag& f) {                                         \
        u64 full = (expr);                                                                       \
        if (sets) f.cf = (u32)(full >> 32);                                                      \
        return (u32)full;                                                                        \
    }
#define ZK_CF f.cf
#else
#define ZK_CC_OP(name, expr, sets)                                                               \
    ZK_HD u32 name(u32 a, u32 b, u32 c, CarryFlag&) {                                           \
        u32 d;                                                                                   \
        asm volatile(ZK_PTX_##name " %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));       \
        return d;                                                                                \
    }
#define ZK_CF 0
#define ZK_PTX_mad_lo_cc "mad.lo.cc.u32"
#define ZK_PTX_madc_lo_cc "madc.lo.cc.u32"
#define ZK_PTX_madc_hi_cc "madc.hi.cc.u32"
#define ZK_PTX_madc_hi "madc.hi.u32"
#define ZK_PTX_addc_cc3 "addc.cc.u32"
#endif

// d = lo(a·b) + c, and the variants with carry in (madc) and/or carry out (.cc). The host
// expressions are the PTX definitions: the carry out is bit 32 of the exact 33-bit sum.
ZK_CC_OP(mad_lo_cc, (u64)(u32)((u64)a * b) + c, true)
ZK_CC_OP(madc_lo_cc, (u64)(u32)((u64)a * b) + c + ZK_CF, true)
ZK_CC_OP(madc_hi_cc, (((u64)a * b) >> 32) + c + ZK_CF, true)
ZK_CC_OP(madc_hi, (((u64)a * b) >> 32) + c + ZK_CF, false)
#undef ZK_CC_OP
#undef ZK_CF

// Two-operand additions on the flag: add.cc, addc.cc, addc.
ZK_HD u32 add_cc(u32 a, u32 b, CarryFlag& f) {
#ifdef ZK_EMULATE_CARRY
    u64 s = (u64)a + b; f.cf = (u32)(s >> 32); return (u32)s;
#else
    u32 d; asm volatile("add.cc.u32 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b)); return d;
#endif
}
ZK_HD u32 addc_cc(u32 a, u32 b, CarryFlag& f) {
#ifdef ZK_EMULATE_CARRY
    u64 s = (u64)a + b + f.cf; f.cf = (u32)(s >> 32); return (u32)s;
#else
    u32 d; asm volatile("addc.cc.u32 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b)); return d;
#endif
}
ZK_HD u32 addc(u32 a, u32 b, CarryFlag& f) {
#ifdef ZK_EMULATE_CARRY
    return (u32)((u64)a + b + f.cf);
#else
    u32 d; asm volatile("addc.u32 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b)); return d;
#endif
}

ZK_HD u32 mul_hi32(u32 a, u32 b) {
#if defined(__CUDA_ARCH__) && !defined(ZK_EMULATE_CARRY)
    return __umulhi(a, b);
#else
    return (u32)(((u64)a * b) >> 32);
#endif
}

// 32-bit limbs of a 64-bit limb array.
ZK_HD void split_limbs(const u64* x, u32* w) {
#pragma unroll
    for (int i = 0; i < 4; ++i) { w[2 * i] = (u32)x[i]; w[2 * i + 1] = (u32)(x[i] >> 32); }
}

// The product with 8 limbs of 32 bits, interleaving multiplication and reduction (CIOS), with the
// accumulator kept as two halves so that every chain adds whole 64-bit products at once: `ev`
// holds the products of the even limbs a_0, a_2, … (lo at limb 2k, hi at 2k + 1: one unbroken
// chain) and `od` those of the odd limbs, one limb up; `top` is ev's ninth limb. The state's value
// is ev + top·2^256 + od·2^32.
//
// Row i adds a·b_i, then q·M with q = ev_0·(−M^−1) mod 2^32, which makes the value divisible by
// 2^32; the shift down by one limb is folded into the next row instead of merging the halves:
// the shifted od becomes the new even half's addend, and ev shifted by two limbs (plus top) the
// new odd half's, while the one limb left over, ev_1, is added at limb 0 by `add.cc` whose carry
// (into limb 1) is the carry-in of the odd chain, which starts at limb 1. After the last row the
// halves merge once. Bounds (M < 2^254, inputs < M): the value stays below 2M after every row,
// and below 2^33·M + 2M < 2^288 within one, so od (times 2^32) never carries out of its 8 limbs
// and top stays below 3; ev + top, which can reach 2^288, is why top exists.
template <class P>
ZK_HD Fp<P> mont_mul_chain(const Fp<P>& x, const Fp<P>& y) {
    constexpr u64 M64[4] = {P::M0, P::M1, P::M2, P::M3};
    constexpr u32 INV = (u32)P::INV;  // −M^−1 mod 2^32 is the low half of −M^−1 mod 2^64
    u32 a[8], b[8], ev[8], od[8], top;
    split_limbs(x.l, a);
    split_limbs(y.l, b);
    CarryFlag f;
    // Row 0: plain products (lo and hi land in different limbs: nothing to add).
#pragma unroll
    for (int k = 0; k < 4; ++k) {
        ev[2 * k] = a[2 * k] * b[0];
        ev[2 * k + 1] = mul_hi32(a[2 * k], b[0]);
        od[2 * k] = a[2 * k + 1] * b[0];
        od[2 * k + 1] = mul_hi32(a[2 * k + 1], b[0]);
    }
    top = 0;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
        if (i > 0) {
            const u32 bi = b[i];
            // Shift down by one limb while adding a·b_i: new ev = od + a_even·b_i (+ ev_1 at
            // limb 0), new od = (ev >> 64) + a_odd·b_i.
            const u32 e0 = add_cc(od[0], ev[1], f);
            u32 o[8];
            o[0] = madc_lo_cc(a[1], bi, ev[2], f);
            o[1] = madc_hi_cc(a[1], bi, ev[3], f);
            o[2] = madc_lo_cc(a[3], bi, ev[4], f);
            o[3] = madc_hi_cc(a[3], bi, ev[5], f);
            o[4] = madc_lo_cc(a[5], bi, ev[6], f);
            o[5] = madc_hi_cc(a[5], bi, ev[7], f);
            o[6] = madc_lo_cc(a[7], bi, top, f);
            o[7] = madc_hi(a[7], bi, 0, f);
            ev[0] = mad_lo_cc(a[0], bi, e0, f);
            ev[1] = madc_hi_cc(a[0], bi, od[1], f);
#pragma unroll
            for (int k = 1; k < 4; ++k) {
                ev[2 * k] = madc_lo_cc(a[2 * k], bi, od[2 * k], f);
                ev[2 * k + 1] = madc_hi_cc(a[2 * k], bi, od[2 * k + 1], f);
            }
            top = addc(0, 0, f);
#pragma unroll
            for (int j = 0; j < 8; ++j) od[j] = o[j];
        }
        const u32 q = ev[0] * INV;
        ev[0] = mad_lo_cc(q, (u32)M64[0], ev[0], f);  // ≡ 0: only its carry matters
        ev[1] = madc_hi_cc(q, (u32)M64[0], ev[1], f);
#pragma unroll
        for (int k = 1; k < 4; ++k) {
            ev[2 * k] = madc_lo_cc(q, (u32)M64[k], ev[2 * k], f);
            ev[2 * k + 1] = madc_hi_cc(q, (u32)M64[k], ev[2 * k + 1], f);
        }
        top = addc(top, 0, f);
        od[0] = mad_lo_cc(q, (u32)(M64[0] >> 32), od[0], f);
        od[1] = madc_hi_cc(q, (u32)(M64[0] >> 32), od[1], f);
#pragma unroll
        for (int k = 1; k < 3; ++k) {
            od[2 * k] = madc_lo_cc(q, (u32)(M64[k] >> 32), od[2 * k], f);
            od[2 * k + 1] = madc_hi_cc(q, (u32)(M64[k] >> 32), od[2 * k + 1], f);
        }
        od[6] = madc_lo_cc(q, (u32)(M64[3] >> 32), od[6], f);
        od[7] = madc_hi(q, (u32)(M64[3] >> 32), od[7], f);
    }
    // The last shift, merging the halves: (ev >> 32) + top·2^224 + od.
    u32 r[8];
    r[0] = add_cc(od[0], ev[1], f);
#pragma unroll
    for (int j = 1; j < 7; ++j) r[j] = addc_cc(od[j], ev[j + 1], f);
    r[7] = addc(od[7], top, f);
    Fp<P> out;
#pragma unroll
    for (int i = 0; i < 4; ++i) out.l[i] = (u64)r[2 * i] | ((u64)r[2 * i + 1] << 32);
    return reduce_once(out);
}

#endif  // ZK_CARRY_CHAIN

// Montgomery product, portable form: coarsely integrated operand scanning (CIOS) on 64-bit limbs;
// each row adds a·b_i and then cancels the lowest limb with a multiple of M, shifting one limb down.
template <class P>
ZK_HD Fp<P> mont_mul_portable(const Fp<P>& a, const Fp<P>& b) {
    u64 t0 = 0, t1 = 0, t2 = 0, t3 = 0;
    for (int i = 0; i < 4; ++i) {
        u64 bi = b.l[i];
        u64 c = 0;
        t0 = mac(a.l[0], bi, t0, c);
        t1 = mac(a.l[1], bi, t1, c);
        t2 = mac(a.l[2], bi, t2, c);
        t3 = mac(a.l[3], bi, t3, c);
        u64 t4 = c;
        u64 k = t0 * P::INV;
        c = 0;
        mac(k, P::M0, t0, c);
        t0 = mac(k, P::M1, t1, c);
        t1 = mac(k, P::M2, t2, c);
        t2 = mac(k, P::M3, t3, c);
        t3 = t4 + c;
    }
    return reduce_once(Fp<P>::raw(t0, t1, t2, t3));
}

template <class P>
ZK_HD Fp<P> operator*(const Fp<P>& a, const Fp<P>& b) {
#if defined(ZK_CARRY_CHAIN)
    return mont_mul_chain(a, b);
#else
    return mont_mul_portable(a, b);
#endif
}

template <class P>
ZK_HD Fp<P> sqr(const Fp<P>& a) { return a * a; }

template <class P>
ZK_HD Fp<P> to_montgomery(const Fp<P>& canonical) { return canonical * Fp<P>::r2(); }

template <class P>
ZK_HD Fp<P> from_montgomery(const Fp<P>& a) { return a * Fp<P>::raw(1); }

// base^e for an exponent of 4 little-endian limbs, square-and-multiply from the top bit.
template <class P>
ZK_HD Fp<P> pow_limbs(const Fp<P>& base, const u64* e, int nlimbs) {
    Fp<P> acc = Fp<P>::one();
    for (int li = nlimbs - 1; li >= 0; --li) {
        u64 w = e[li];
        for (int bit = 63; bit >= 0; --bit) {
            acc = sqr(acc);
            if ((w >> bit) & 1) acc = acc * base;
        }
    }
    return acc;
}

// Inverse by Fermat's little theorem, a^(M−2); zero maps to zero (callers reject zero first).
template <class P>
ZK_HD Fp<P> inverse(const Fp<P>& a) {
    u64 e[4] = {P::M0 - 2, P::M1, P::M2, P::M3};  // M0 is odd and > 2: no borrow
    return pow_limbs(a, e, 4);
}

typedef Fp<FrParams> Fr;
typedef Fp<FqParams> Fq;

}  // namespace zk
