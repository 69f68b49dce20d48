// G1 of BN254: y^2 = x^3 + 3 over Fq.
//
// Affine points are (x, y) in Fq Montgomery form, with (0, 0) the point at infinity as the EVM
// encodes it ((0, 0) is not on the curve, so the encoding is unambiguous). Arithmetic runs in
// XYZZ coordinates: (X, Y, ZZ, ZZZ) stands for (X/ZZ, Y/ZZZ) with ZZ^3 = ZZZ^2, and ZZ = 0 means
// infinity. XYZZ mixed addition costs 8 multiplications and needs no inversion, which is what
// bucket accumulation in the MSM spends nearly all its time on. Formulas: the "xyzz" family of
// the Explicit-Formulas Database (madd-2008-s, add-2008-s, dbl-2008-s-1, mdbl-2008-s-1), a = 0.

#pragma once

#include "field.cuh"

namespace zk {

// On the device the group operations are inlined into the kernels, so their operands stay in
// registers (a call passes points by reference through local memory); the loops around them
// (scalar multiplication, to-affine with its inversion) stay real calls, which keeps code size
// and compile time in bounds.
#ifdef __CUDACC__
#define ZK_HD_GROUP __host__ __device__ __forceinline__
#define ZK_HD_CALL __host__ __device__ __noinline__
#else
#define ZK_HD_GROUP inline
#define ZK_HD_CALL inline
#endif

struct G1Affine {
    Fq x, y;

    static ZK_HD G1Affine infinity() { G1Affine p; p.x = Fq::zero(); p.y = Fq::zero(); return p; }
    ZK_HD bool is_infinity() const { return x.is_zero() && y.is_zero(); }

    // Row layout (2, 4): x limbs then y limbs.
    static ZK_HD G1Affine load(const u64* p) { G1Affine a; a.x = Fq::load(p); a.y = Fq::load(p + 4); return a; }
    ZK_HD void store(u64* p) const { x.store(p); y.store(p + 4); }

    ZK_HD G1Affine neg() const {
        G1Affine r = *this;
        r.y = -y;  // −0 = 0, so infinity stays (0, 0)
        return r;
    }

    // On the curve, or the infinity encoding.
    ZK_HD bool on_curve() const {
        if (is_infinity()) return true;
        Fq three = to_montgomery(Fq::raw(3));
        return sqr(y) == sqr(x) * x + three;
    }
};

struct G1Xyzz {
    Fq X, Y, ZZ, ZZZ;

    static ZK_HD G1Xyzz infinity() {
        G1Xyzz p; p.X = Fq::one(); p.Y = Fq::one(); p.ZZ = Fq::zero(); p.ZZZ = Fq::zero(); return p;
    }
    ZK_HD bool is_infinity() const { return ZZ.is_zero(); }

    static ZK_HD G1Xyzz from_affine(const G1Affine& a) {
        if (a.is_infinity()) return infinity();
        G1Xyzz p; p.X = a.x; p.Y = a.y; p.ZZ = Fq::one(); p.ZZZ = Fq::one(); return p;
    }

    // Row layout (4, 4): X, Y, ZZ, ZZZ. An all-zero row is infinity, so zero-filled buffers
    // start out as empty buckets.
    static ZK_HD G1Xyzz load(const u64* p) {
        G1Xyzz r; r.X = Fq::load(p); r.Y = Fq::load(p + 4); r.ZZ = Fq::load(p + 8); r.ZZZ = Fq::load(p + 12); return r;
    }
    ZK_HD void store(u64* p) const { X.store(p); Y.store(p + 4); ZZ.store(p + 8); ZZZ.store(p + 12); }

    ZK_HD G1Xyzz neg() const { G1Xyzz r = *this; r.Y = -Y; return r; }
};

// 2·P for an affine P ≠ infinity (mdbl-2008-s-1).
ZK_HD_GROUP G1Xyzz dbl_affine(const G1Affine& p) {
    Fq U = dbl(p.y);
    Fq V = sqr(U);
    Fq W = U * V;
    Fq S = p.x * V;
    Fq xx = sqr(p.x);
    Fq M = dbl(xx) + xx;
    G1Xyzz r;
    r.X = sqr(M) - dbl(S);
    r.Y = M * (S - r.X) - W * p.y;
    r.ZZ = V;
    r.ZZZ = W;
    return r;
}

// 2·P (dbl-2008-s-1). y = 0 would give ZZ = 0, infinity; G1 has odd order so it never occurs.
ZK_HD_GROUP G1Xyzz dbl(const G1Xyzz& p) {
    if (p.is_infinity()) return p;
    Fq U = dbl(p.Y);
    Fq V = sqr(U);
    Fq W = U * V;
    Fq S = p.X * V;
    Fq xx = sqr(p.X);
    Fq M = dbl(xx) + xx;
    G1Xyzz r;
    r.X = sqr(M) - dbl(S);
    r.Y = M * (S - r.X) - W * p.Y;
    r.ZZ = V * p.ZZ;
    r.ZZZ = W * p.ZZZ;
    return r;
}

// The doublings that an addition falls back to when P = Q: rare, so real calls that keep the
// additions' inlined code small.
ZK_HD_CALL G1Xyzz dbl_affine_call(const G1Affine& p) { return dbl_affine(p); }
ZK_HD_CALL G1Xyzz dbl_call(const G1Xyzz& p) { return dbl(p); }

// P + Q for an affine Q (madd-2008-s), every case: either side infinity, P = Q, P = −Q.
ZK_HD_GROUP G1Xyzz add_mixed(const G1Xyzz& p, const G1Affine& q) {
    if (q.is_infinity()) return p;
    if (p.is_infinity()) return G1Xyzz::from_affine(q);
    Fq U2 = q.x * p.ZZ;
    Fq S2 = q.y * p.ZZZ;
    Fq P = U2 - p.X;
    Fq R = S2 - p.Y;
    if (P.is_zero()) {
        // Same x: Q = P (double) or Q = −P (sum is infinity).
        return R.is_zero() ? dbl_affine_call(q) : G1Xyzz::infinity();
    }
    Fq PP = sqr(P);
    Fq PPP = P * PP;
    Fq Q = p.X * PP;
    G1Xyzz r;
    r.X = sqr(R) - PPP - dbl(Q);
    r.Y = R * (Q - r.X) - p.Y * PPP;
    r.ZZ = p.ZZ * PP;
    r.ZZZ = p.ZZZ * PPP;
    return r;
}

// P + Q (add-2008-s), every case.
ZK_HD_GROUP G1Xyzz add(const G1Xyzz& p, const G1Xyzz& q) {
    if (q.is_infinity()) return p;
    if (p.is_infinity()) return q;
    Fq U1 = p.X * q.ZZ;
    Fq U2 = q.X * p.ZZ;
    Fq S1 = p.Y * q.ZZZ;
    Fq S2 = q.Y * p.ZZZ;
    Fq P = U2 - U1;
    Fq R = S2 - S1;
    if (P.is_zero()) {
        return R.is_zero() ? dbl_call(p) : G1Xyzz::infinity();
    }
    Fq PP = sqr(P);
    Fq PPP = P * PP;
    Fq Q = U1 * PP;
    G1Xyzz r;
    r.X = sqr(R) - PPP - dbl(Q);
    r.Y = R * (Q - r.X) - S1 * PPP;
    r.ZZ = p.ZZ * q.ZZ * PP;
    r.ZZZ = p.ZZZ * q.ZZZ * PPP;
    return r;
}

// P + Q as a real call, for the kernels outside the MSM's hot loop (bucket reduction): one copy
// of the formulas there instead of one per call site keeps compile time and code size down.
ZK_HD_CALL G1Xyzz add_call(const G1Xyzz& p, const G1Xyzz& q) { return add(p, q); }

// Affine form with one inversion: 1/(ZZ·ZZZ) gives both 1/ZZ = ZZZ/(ZZ·ZZZ) and 1/ZZZ.
ZK_HD_CALL G1Affine to_affine(const G1Xyzz& p) {
    if (p.is_infinity()) return G1Affine::infinity();
    Fq inv = inverse(p.ZZ * p.ZZZ);
    G1Affine a;
    a.x = p.X * (inv * p.ZZZ);
    a.y = p.Y * (inv * p.ZZ);
    return a;
}

// k·P for a canonical (not Montgomery) scalar of `nlimbs` little-endian limbs, double-and-add.
ZK_HD_CALL G1Xyzz scalar_mul(const G1Affine& p, const u64* k, int nlimbs) {
    G1Xyzz acc = G1Xyzz::infinity();
    for (int li = nlimbs - 1; li >= 0; --li) {
        u64 w = k[li];
        for (int bit = 63; bit >= 0; --bit) {
            acc = dbl(acc);
            if ((w >> bit) & 1) acc = add_mixed(acc, p);
        }
    }
    return acc;
}

// k·P for a small non-negative integer k, double-and-add on an XYZZ point from k's top bit.
ZK_HD_CALL G1Xyzz scalar_mul_small(const G1Xyzz& p, u32 k) {
    G1Xyzz acc = G1Xyzz::infinity();
    int top = 31;
    while (top >= 0 && !((k >> top) & 1)) --top;
    for (int bit = top; bit >= 0; --bit) {
        acc = dbl(acc);
        if ((k >> bit) & 1) acc = add(acc, p);
    }
    return acc;
}

}  // namespace zk
