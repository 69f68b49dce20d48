// Multi-scalar multiplication Σ k_i·P_i over G1: Pippenger's bucket method with signed digits,
// organised around a sort so that no two threads ever add into the same bucket.
//
//   1. prepare   scalars → canonical limbs (leaving Montgomery form) and their bit lengths, so
//                the host can pick the window count from the widest scalar actually present.
//   2. digits    each scalar → W signed c-bit digits d ∈ (−2^(c−1), 2^(c−1)]; pair (w, i) gets the
//                key w·B + |d|−1 (B = 2^(c−1) buckets per window) or EMPTY for d = 0.
//   3. sort      (host side: a device radix sort of the keys) groups every bucket's points into
//                one contiguous run.
//   4. accumulate the sorted sequence is cut into equal chunks, one per thread, so a bucket with a
//                million points (a column of ones) costs the same as a million buckets of one.
//                A run that lies inside one chunk is a finished bucket and is written directly;
//                a run cut by a chunk border becomes a partial sum, and the partial sums, still
//                in key order, are reduced by the same kernel again until none are left.
//   5. reduce    per window Σ_b (b+1)·S_b: each thread takes L consecutive buckets, forms the
//                running sums over them, and adds (its first digit − 1)·(its total) by a short
//                double-and-add; the segment results are summed pairwise.
//   6. combine   Σ_w 2^(c·w)·R_w by Horner's rule, then to affine.
//
// As in ntt.cu, the bodies are `__host__ __device__` so that the host test runs this same code.

#include "curve.cuh"

namespace zk {

#define ZK_MSM_EMPTY 0xffffffffu

// XYZZ points travel as rows of 16 limbs (X, Y, ZZ, ZZZ); affine points as rows of 8.

// Number of significant bits of a canonical 4-limb integer.
ZK_HD u32 bit_length(const Fr& k) {
    for (int li = 3; li >= 0; --li) {
        u64 w = k.l[li];
        if (w) {
            u32 b = 0;
            while (w) { ++b; w >>= 1; }
            return 64u * (u32)li + b;
        }
    }
    return 0;
}

ZK_HD void msm_prepare_scalar(u64 i, const u64* scalars, int montgomery, u64* canonical, u32* bits) {
    Fr k = Fr::load(scalars + 4 * i);
    if (montgomery) k = from_montgomery(k);
    k.store(canonical + 4 * i);
    bits[i] = bit_length(k);
}

// Bits [offset, offset + c) of a canonical scalar (c ≤ 32), zero beyond bit 255.
ZK_HD u32 scalar_window(const u64* k, u32 offset, u32 c) {
    if (offset >= 256) return 0;
    u32 limb = offset >> 6, shift = offset & 63;
    u64 v = k[limb] >> shift;
    if (shift + c > 64 && limb + 1 < 4) v |= k[limb + 1] << (64 - shift);
    return (u32)(v & ((1ull << c) - 1));
}

// Signed digits of scalar i for windows 0..W−1 (pair index w·n + i). A digit above 2^(c−1)
// becomes d − 2^c with a carry into the next window; the host picks W so the top window never
// carries out.
ZK_HD void msm_digits_scalar(u64 i, const u64* canonical, u64 n, u32 c, u32 windows, u32* keys,
                             i32* digits) {
    const u64* k = canonical + 4 * i;
    const u32 half = 1u << (c - 1);
    u32 carry = 0;
    for (u32 w = 0; w < windows; ++w) {
        i32 d = (i32)(scalar_window(k, w * c, c) + carry);
        carry = 0;
        if (d > (i32)half) { d -= (i32)(1u << c); carry = 1; }
        u64 pair = (u64)w * n + i;
        digits[pair] = d;
        u32 mag = (u32)(d < 0 ? -d : d);
        keys[pair] = d == 0 ? ZK_MSM_EMPTY : w * half + (mag - 1);
    }
}

// One chunk of the key-sorted sequence (see step 4). Level 0 (AFFINE) reads the affine point of
// pair perm[k], negated for a negative digit; later levels read the previous level's partial
// XYZZ sums. Finished buckets go to `buckets`; the chunk's at most two cut runs (its first and
// its last) go to out slots 2·chunk_id and 2·chunk_id + 1. An unused slot takes the key of the
// other slot (with the zero point) so that all pieces of one bucket stay adjacent for the next
// level, or EMPTY when the chunk has no cut run at all (then no bucket crosses its borders).
template <bool AFFINE>
ZK_HD void msm_accumulate_chunk(u64 chunk_id, u32 chunk, u64 m, const u32* keys, const i64* perm,
                                const i32* digits, const u64* points, u64 n, const u64* values,
                                u64* buckets, u32* out_keys, u64* out_values) {
    const u64 begin = chunk_id * chunk;
    if (begin >= m) return;
    const u64 end = begin + chunk < m ? begin + chunk : m;
    // The two cut-run slots live in named registers rather than an indexed array, which would
    // go to local memory.
    u32 first_key = ZK_MSM_EMPTY, last_key = ZK_MSM_EMPTY;
    G1Xyzz first_value = G1Xyzz::infinity(), last_value = G1Xyzz::infinity();
    u64 k = begin;
    while (k < end) {
        const u32 key = keys[k];
        G1Xyzz acc = G1Xyzz::infinity();
        u64 r = k;
        for (; r < end && keys[r] == key; ++r) {
            if (key == ZK_MSM_EMPTY) continue;
            if (AFFINE) {
                const i64 pair = perm[r];
                G1Affine p = G1Affine::load(points + 8 * ((u64)pair % n));
                acc = add_mixed(acc, digits[pair] < 0 ? p.neg() : p);
            } else {
                acc = add(acc, G1Xyzz::load(values + 16 * r));
            }
        }
        if (key != ZK_MSM_EMPTY) {
            const bool cut_before = k == begin && begin > 0 && keys[begin - 1] == key;
            const bool cut_after = r == end && end < m && keys[end] == key;
            if (!cut_before && !cut_after) {
                acc.store(buckets + 16 * (u64)key);
            } else if (k == begin) {
                first_key = key;
                first_value = acc;
            } else {
                last_key = key;
                last_value = acc;
            }
        }
        k = r;
    }
    if (first_key == ZK_MSM_EMPTY) first_key = last_key;
    if (last_key == ZK_MSM_EMPTY) last_key = first_key;
    out_keys[2 * chunk_id] = first_key;
    out_keys[2 * chunk_id + 1] = last_key;
    first_value.store(out_values + 16 * (2 * chunk_id));
    last_value.store(out_values + 16 * (2 * chunk_id + 1));
}

// Segment `tid` of window tid / (B/L): Σ over its L buckets of digit·S. Bucket b holds digit
// b + 1; with running sums from the top, acc = Σ_j (j+1)·S_j over the segment, and the segment's
// first digit offset s·L is added as (s·L)·Σ_j S_j.
ZK_HD void msm_bucket_segment(u64 tid, const u64* buckets, u32 buckets_per_window, u32 seg_len,
                              u64* out) {
    const u32 segs = buckets_per_window / seg_len;
    const u64 w = tid / segs;
    const u32 s = (u32)(tid % segs);
    const u64* base = buckets + 16 * (w * buckets_per_window + (u64)s * seg_len);
    G1Xyzz run = G1Xyzz::infinity(), acc = G1Xyzz::infinity();
    for (int j = (int)seg_len - 1; j >= 0; --j) {
        run = add(run, G1Xyzz::load(base + 16 * (u64)j));
        acc = add(acc, run);
    }
    acc = add(acc, scalar_mul_small(run, s * seg_len));
    acc.store(out + 16 * tid);
}

// Row r of a (rows, m) XYZZ array summed pairwise into (rows, ceil(m/2)).
ZK_HD void xyzz_sum_pair(u64 tid, const u64* in, u64* out, u64 m) {
    const u64 m_out = (m + 1) / 2;
    const u64 r = tid / m_out, i = tid % m_out;
    G1Xyzz a = G1Xyzz::load(in + 16 * (r * m + 2 * i));
    if (2 * i + 1 < m) a = add(a, G1Xyzz::load(in + 16 * (r * m + 2 * i + 1)));
    a.store(out + 16 * tid);
}

// Σ_w 2^(c·w)·R_w as an affine point (Horner's rule from the top window).
ZK_HD void msm_combine_windows(const u64* windows, u32 count, u32 c, u64* out) {
    G1Xyzz acc = G1Xyzz::infinity();
    for (int w = (int)count - 1; w >= 0; --w) {
        for (u32 b = 0; b < c; ++b) acc = dbl(acc);
        acc = add(acc, G1Xyzz::load(windows + 16 * (u64)w));
    }
    to_affine(acc).store(out);
}

}  // namespace zk

#ifdef __CUDACC__

using namespace zk;

#define ZK_TID() ((u64)blockIdx.x * blockDim.x + threadIdx.x)

extern "C" __global__ void msm_prepare_scalars(const u64* scalars, u64 n, int montgomery,
                                               u64* canonical, u32* bits) {
    u64 i = ZK_TID();
    if (i < n) msm_prepare_scalar(i, scalars, montgomery, canonical, bits);
}

extern "C" __global__ void msm_digits(const u64* canonical, u64 n, u32 c, u32 windows, u32* keys,
                                      i32* digits) {
    u64 i = ZK_TID();
    if (i < n) msm_digits_scalar(i, canonical, n, c, windows, keys, digits);
}

extern "C" __global__ void msm_accumulate_affine(u32 chunk, u64 m, const u32* keys, const i64* perm,
                                                 const i32* digits, const u64* points, u64 n,
                                                 u64* buckets, u32* out_keys, u64* out_values) {
    msm_accumulate_chunk<true>(ZK_TID(), chunk, m, keys, perm, digits, points, n, nullptr, buckets,
                               out_keys, out_values);
}

extern "C" __global__ void msm_accumulate_xyzz(u32 chunk, u64 m, const u32* keys, const u64* values,
                                               u64* buckets, u32* out_keys, u64* out_values) {
    msm_accumulate_chunk<false>(ZK_TID(), chunk, m, keys, nullptr, nullptr, nullptr, 1, values,
                                buckets, out_keys, out_values);
}

extern "C" __global__ void msm_bucket_segments(const u64* buckets, u32 buckets_per_window,
                                               u32 seg_len, u64 total, u64* out) {
    u64 tid = ZK_TID();
    if (tid < total) msm_bucket_segment(tid, buckets, buckets_per_window, seg_len, out);
}

extern "C" __global__ void xyzz_sum_pairs(const u64* in, u64* out, u64 m, u64 total) {
    u64 tid = ZK_TID();
    if (tid < total) xyzz_sum_pair(tid, in, out, m);
}

extern "C" __global__ void msm_combine(const u64* windows, u32 count, u32 c, u64* out) {
    if (ZK_TID() == 0) msm_combine_windows(windows, count, c, out);
}

#endif  // __CUDACC__
