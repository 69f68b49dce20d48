// Multi-scalar multiplication Σ k_i·P_i over G1: Pippenger's bucket method with signed digits,
// organised around a sort so that no two threads ever add into the same bucket.
//
//   1. prepare   scalars → canonical limbs (leaving Montgomery form) and their bit lengths,
//                whose maximum validates the scalars with the result (the window plan depends
//                only on n and the caller's bit width, so nothing is read back before it).
//   2. digits    each scalar → W signed c-bit digits d ∈ (−2^(c−1), 2^(c−1)]; pair (w, i) gets the
//                key w·B + |d|−1 (B = 2^(c−1) buckets per window) or EMPTY for d = 0.
//   3. sort      an LSD radix sort of our own (below: 32-bit keys, 32-bit pair indices, 8 bits a
//                pass over the key bits in use) groups every bucket's points into one run.
//   4. accumulate the sorted sequence is cut into equal chunks, one per thread, so a bucket with a
//                million points (a column of ones) costs the same as a million buckets of one.
//                A run that lies inside one chunk is a finished bucket and is written directly;
//                a run cut by a chunk border becomes a partial sum, and the partial sums, still
//                in key order, are reduced by the same kernel again until none are left.
//   5. reduce    per window Σ_b (b+1)·S_b: each thread takes L consecutive buckets, forms the
//                running sums over them, and adds (its first digit − 1)·(its total) by a short
//                double-and-add; the segment results are summed by a tree inside each thread
//                block (log2 of the block's width in dependent steps, one launch per 256-fold
//                reduction), so a window of 2048 segments takes two launches.
//   6. combine   Σ_w 2^(c·w)·R_w: on the host, from the W window sums that are the one copy
//                back to the host (kernels/gpu/msm.py).
//
// As in ntt.cu, the bodies are `__host__ __device__` so that the host test runs this same code.

#include "curve.cuh"

namespace zk {

#ifdef __CUDA_ARCH__
#define ZK_MSM_SYNC() __syncthreads()
#else
#define ZK_MSM_SYNC() ((void)0)
#endif

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

// Canonical limbs and bit length of scalar i; a scalar not below the modulus gets the bit length
// ZK_MSM_INVALID (the host rejects the whole MSM) and is zeroed so the pipeline stays in range.
#define ZK_MSM_INVALID 0xffffffffu
ZK_HD void msm_prepare_scalar(u64 i, const u64* scalars, int montgomery, u64* canonical, u32* bits) {
    Fr k = Fr::load(scalars + 4 * i);
    const bool valid = k.is_reduced();
    if (!valid) k = Fr::zero();
    if (montgomery) k = from_montgomery(k);
    k.store(canonical + 4 * i);
    bits[i] = valid ? bit_length(k) : ZK_MSM_INVALID;
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
ZK_HD void msm_accumulate_chunk(u64 chunk_id, u32 chunk, u64 m, const u32* keys, const u32* perm,
                                const i32* digits, const u64* points, u64 n, const u64* values,
                                u64* buckets, unsigned char* filled, u32* out_keys,
                                u64* out_values) {
    const u64 begin = chunk_id * chunk;
    if (begin >= m) return;
    const u64 end = begin + chunk < m ? begin + chunk : m;
    // Cut runs are stored as soon as they are complete; only their keys stay in registers, so
    // the loop holds one running sum and the kernel fits 256 threads without spilling.
    u32 first_key = ZK_MSM_EMPTY, last_key = ZK_MSM_EMPTY;
    u64* const first_slot = out_values + 16 * (2 * chunk_id);
    u64* const last_slot = out_values + 16 * (2 * chunk_id + 1);
    u64 k = begin;
    while (k < end) {
        const u32 key = keys[k];
        G1Xyzz acc = G1Xyzz::infinity();
        u64 r = k;
        for (; r < end && keys[r] == key; ++r) {
            if (key == ZK_MSM_EMPTY) continue;
            if (AFFINE) {
                const u32 pair = perm[r];
                G1Affine p = G1Affine::load(points + 8 * (pair % n));
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
                filled[key] = 1;
            } else if (k == begin) {
                first_key = key;
                acc.store(first_slot);
            } else {
                last_key = key;
                acc.store(last_slot);
            }
        }
        k = r;
    }
    if (first_key == ZK_MSM_EMPTY) {
        first_key = last_key;
        G1Xyzz::infinity().store(first_slot);
    }
    if (last_key == ZK_MSM_EMPTY) {
        last_key = first_key;
        G1Xyzz::infinity().store(last_slot);
    }
    out_keys[2 * chunk_id] = first_key;
    out_keys[2 * chunk_id + 1] = last_key;
}

// Segment `tid` of window tid / (B/L): Σ over its L buckets of digit·S. Bucket b holds digit
// b + 1; with running sums from the top, acc = Σ_j (j+1)·S_j over the segment, and the segment's
// first digit offset s·L is added as (s·L)·Σ_j S_j.
ZK_HD void msm_bucket_segment(u64 tid, const u64* buckets, const unsigned char* filled,
                              u32 buckets_per_window, u32 seg_len, u64* out) {
    const u32 segs = buckets_per_window / seg_len;
    const u64 w = tid / segs;
    const u32 s = (u32)(tid % segs);
    const u64 first = w * buckets_per_window + (u64)s * seg_len;
    const u64* base = buckets + 16 * first;
    G1Xyzz run = G1Xyzz::infinity(), acc = G1Xyzz::infinity();
    for (int j = (int)seg_len - 1; j >= 0; --j) {
        // A bucket no pair reached was never written: `filled` says which hold a sum, so the
        // bucket array needs no clearing (a byte per bucket is cleared instead of 128).
        if (filled[first + (u64)j]) run = add_call(run, G1Xyzz::load(base + 16 * (u64)j));
        acc = add_call(acc, run);
    }
    acc = add_call(acc, scalar_mul_small(run, s * seg_len));  // only the offset's significant bits
    acc.store(out + 16 * tid);
}

// Threads per block of the tree sum; each loads two points, so a block sums 2·ZK_SUM_THREADS.
#define ZK_SUM_THREADS 128

// One block's share of row blockIdx.y of a (rows, m) XYZZ array: the sum of its columns
// [2T·blockIdx.x, 2T·(blockIdx.x + 1)) into out[row, blockIdx.x], by a tree in shared memory
// (`sh`: 16·T limbs). Every thread reaches every barrier: the bounds only decide what it loads.
ZK_HD void xyzz_block_sum(u32 tid, u32 nthreads, u64 block, u64 row, const u64* in, u64* out, u64 m,
                          u64 m_out, u64* sh) {
    const u64 i = 2 * (block * nthreads + tid);
    const u64* base = in + 16 * row * m;
    G1Xyzz a = i < m ? G1Xyzz::load(base + 16 * i) : G1Xyzz::infinity();
    if (i + 1 < m) a = add_call(a, G1Xyzz::load(base + 16 * (i + 1)));
    a.store(sh + 16 * tid);
    ZK_MSM_SYNC();
    for (u32 half = nthreads / 2; half > 0; half /= 2) {
        if (tid < half) add_call(G1Xyzz::load(sh + 16 * tid), G1Xyzz::load(sh + 16 * (tid + half))).store(sh + 16 * tid);
        ZK_MSM_SYNC();
    }
    if (tid == 0) G1Xyzz::load(sh).store(out + 16 * (row * m_out + block));
}


// Radix sort of the (key, pair index) sequence, both 32-bit: LSD, 8 bits a pass, over only the
// key bits in use (the host passes the shifts). One pass:
//   tile     each block sorts its tile of ZK_SORT_TILE entries by the pass's digit, stably, in
//            shared memory (eight one-bit splits, each a block-wide prefix sum), writes the tile
//            back sorted and the count of each digit to counts[digit·tiles + tile];
//   scan     an exclusive prefix sum of `counts` (digit-major: every digit's tiles in order);
//   scatter  entry p of sorted tile b with digit d goes to offset[d·tiles + b] + (p − first
//            position of d in the tile): stable, since tiles and positions keep their order.
// Entries past the end of the last tile are padded with EMPTY keys, which stay behind the real
// ones with digit 255 (stability) and are neither counted nor written.
#define ZK_SORT_THREADS 256
#define ZK_SORT_ITEMS 8
#define ZK_SORT_TILE (ZK_SORT_THREADS * ZK_SORT_ITEMS)

ZK_HD u32 sort_digit(u32 key, u32 shift) { return (key >> shift) & 0xffu; }

// First position in [0, end) of the digit-sorted tile whose digit is ≥ d.
ZK_HD u32 sort_lower_bound(const u32* keys, u32 end, u32 shift, u32 d) {
    u32 lo = 0, hi = end;
    while (lo < hi) {
        const u32 mid = (lo + hi) / 2;
        if (sort_digit(keys[mid], shift) < d) lo = mid + 1; else hi = mid;
    }
    return lo;
}

// Exclusive prefix sum over the ZK_SORT_THREADS threads of a block (one value each) in `scan`
// (2·ZK_SORT_THREADS words): 16 threads each scan a group of 16 values, one thread scans the
// 16 group totals, and every thread adds its group's offset — four barriers. Returns the
// thread's prefix and sets *total. Every thread reaches every barrier.
#define ZK_SCAN_GROUP 16
ZK_HD u32 block_exclusive_scan(u32 tid, u32 value, u32* scan, u32* total) {
    u32* const groups = scan + ZK_SORT_THREADS;
    scan[tid] = value;
    ZK_MSM_SYNC();
    if (tid < ZK_SORT_THREADS / ZK_SCAN_GROUP) {
        u32 run = 0;
        for (u32 k = 0; k < ZK_SCAN_GROUP; ++k) {
            const u32 v = scan[tid * ZK_SCAN_GROUP + k];
            scan[tid * ZK_SCAN_GROUP + k] = run;
            run += v;
        }
        groups[tid] = run;
    }
    ZK_MSM_SYNC();
    if (tid == 0) {
        u32 run = 0;
        for (u32 g = 0; g < ZK_SORT_THREADS / ZK_SCAN_GROUP; ++g) {
            const u32 v = groups[g];
            groups[g] = run;
            run += v;
        }
        groups[ZK_SORT_THREADS / ZK_SCAN_GROUP] = run;
    }
    ZK_MSM_SYNC();
    const u32 prefix = scan[tid] + groups[tid / ZK_SCAN_GROUP];
    *total = groups[ZK_SORT_THREADS / ZK_SCAN_GROUP];
    ZK_MSM_SYNC();  // the buffer is reused by the next scan
    return prefix;
}

// The tile step of one pass (block `tile`, ZK_SORT_THREADS threads). `sk`, `si`: 2·ZK_SORT_TILE
// words each of shared memory; `scan`: 2·ZK_SORT_THREADS.
// `idx` null: the first pass, whose indices are the positions themselves.
ZK_HD void radix_tile(u32 tid, u64 tile, const u32* keys, const u32* idx, u64 m, u32 shift,
                      u64 tiles, u32* tile_keys, u32* tile_idx, u32* counts, u32* sk, u32* si,
                      u32* scan) {
    const u64 base = tile * ZK_SORT_TILE;
    const u32 valid = (u32)(m - base < ZK_SORT_TILE ? m - base : ZK_SORT_TILE);
    for (u32 p = tid; p < ZK_SORT_TILE; p += ZK_SORT_THREADS) {
        sk[p] = p < valid ? keys[base + p] : ZK_MSM_EMPTY;
        si[p] = p < valid ? (idx ? idx[base + p] : (u32)(base + p)) : 0u;
    }
    ZK_MSM_SYNC();
    u32 *ck = sk, *ci = si, *nk = sk + ZK_SORT_TILE, *ni = si + ZK_SORT_TILE;
    for (u32 b = 0; b < 8; ++b) {
        // Thread tid owns positions [tid·ITEMS, (tid+1)·ITEMS): zeros of bit b go first, in order.
        const u32 first = tid * ZK_SORT_ITEMS;
        u32 zeros = 0;
        for (u32 k = 0; k < ZK_SORT_ITEMS; ++k) zeros += ((ck[first + k] >> (shift + b)) & 1u) ^ 1u;
        u32 all_zeros;
        const u32 before = block_exclusive_scan(tid, zeros, scan, &all_zeros);
        u32 z = before, o = all_zeros + (first - before);
        for (u32 k = 0; k < ZK_SORT_ITEMS; ++k) {
            const u32 key = ck[first + k];
            const u32 to = ((key >> (shift + b)) & 1u) ? o++ : z++;
            nk[to] = key;
            ni[to] = ci[first + k];
        }
        ZK_MSM_SYNC();
        u32* t = ck; ck = nk; nk = t;
        t = ci; ci = ni; ni = t;
    }
    for (u32 p = tid; p < valid; p += ZK_SORT_THREADS) {
        tile_keys[base + p] = ck[p];
        tile_idx[base + p] = ci[p];
    }
    // One thread per digit (ZK_SORT_THREADS = 256 digits): its count among the valid entries.
    const u32 d = tid;
    const u32 lo = sort_lower_bound(ck, valid, shift, d);
    const u32 hi = d == 255 ? valid : sort_lower_bound(ck, valid, shift, d + 1);
    counts[(u64)d * tiles + tile] = hi - lo;
}

// Exclusive prefix sum of data[block·TILE, (block+1)·TILE) in place; the block's total to sums.
ZK_HD void scan_tile(u32 tid, u64 block, u32* data, u64 m, u32* sums, u32* scan) {
    const u64 first = block * ZK_SORT_TILE + (u64)tid * ZK_SORT_ITEMS;
    u32 v[ZK_SORT_ITEMS];
    u32 own = 0;
    for (u32 k = 0; k < ZK_SORT_ITEMS; ++k) {
        v[k] = first + k < m ? data[first + k] : 0u;
        own += v[k];
    }
    u32 total;
    u32 run = block_exclusive_scan(tid, own, scan, &total);
    for (u32 k = 0; k < ZK_SORT_ITEMS; ++k) {
        if (first + k < m) data[first + k] = run;
        run += v[k];
    }
    if (tid == 0) sums[block] = total;
}

// Entry p of sorted tile `tile` to its place in the pass's output.
ZK_HD void radix_scatter_entry(u64 i, const u32* tile_keys, const u32* tile_idx, u64 m, u32 shift,
                               u64 tiles, const u32* offsets, u32* keys_out, u32* idx_out) {
    const u64 tile = i / ZK_SORT_TILE;
    const u64 base = tile * ZK_SORT_TILE;
    const u32 valid = (u32)(m - base < ZK_SORT_TILE ? m - base : ZK_SORT_TILE);
    const u32 p = (u32)(i - base);
    const u32 key = tile_keys[i];
    const u32 d = sort_digit(key, shift);
    const u32 start = sort_lower_bound(tile_keys + base, valid, shift, d);
    const u64 to = (u64)offsets[(u64)d * tiles + tile] + (p - start);
    keys_out[to] = key;
    idx_out[to] = tile_idx[i];
}

}  // namespace zk

#ifdef __CUDACC__

using namespace zk;

#define ZK_TID() ((u64)blockIdx.x * blockDim.x + threadIdx.x)
// Threads per block of the one-thread-per-item MSM kernels (plan.ITEM_THREADS), and of the
// kernels that hold curve points (plan.MSM_POINT_THREADS): those are register-bound, and the
// bound (blocks of 128, 3 per SM: at most 168 registers) lets ptxas keep every operand in
// registers (no spills) while smaller blocks fill the register file better than 256.
#define ZK_MSM_THREADS 256
#define ZK_MSM_POINT_THREADS 128
#define ZK_MSM_POINT_BLOCKS 3

extern "C" __global__ void __launch_bounds__(ZK_MSM_THREADS) msm_prepare_scalars(const u64* scalars, u64 n, int montgomery,
                                               u64* canonical, u32* bits) {
    u64 i = ZK_TID();
    if (i < n) msm_prepare_scalar(i, scalars, montgomery, canonical, bits);
}

extern "C" __global__ void __launch_bounds__(ZK_MSM_THREADS) msm_digits(const u64* canonical, u64 n, u32 c, u32 windows, u32* keys,
                                      i32* digits) {
    u64 i = ZK_TID();
    if (i < n) msm_digits_scalar(i, canonical, n, c, windows, keys, digits);
}

extern "C" __global__ void __launch_bounds__(ZK_MSM_POINT_THREADS, ZK_MSM_POINT_BLOCKS) msm_accumulate_affine(u32 chunk, u64 m, const u32* keys, const u32* perm,
                                                 const i32* digits, const u64* points, u64 n,
                                                 u64* buckets, unsigned char* filled, u32* out_keys,
                                                 u64* out_values) {
    msm_accumulate_chunk<true>(ZK_TID(), chunk, m, keys, perm, digits, points, n, nullptr, buckets, filled,
                               out_keys, out_values);
}

extern "C" __global__ void __launch_bounds__(ZK_MSM_POINT_THREADS, ZK_MSM_POINT_BLOCKS) msm_accumulate_xyzz(u32 chunk, u64 m, const u32* keys, const u64* values,
                                               u64* buckets, unsigned char* filled, u32* out_keys,
                                               u64* out_values) {
    msm_accumulate_chunk<false>(ZK_TID(), chunk, m, keys, nullptr, nullptr, nullptr, 1, values,
                                buckets, filled, out_keys, out_values);
}

extern "C" __global__ void __launch_bounds__(ZK_MSM_POINT_THREADS, ZK_MSM_POINT_BLOCKS) msm_bucket_segments(
    const u64* buckets, const unsigned char* filled, u32 buckets_per_window, u32 seg_len, u64 total,
    u64* out) {
    u64 tid = ZK_TID();
    if (tid < total) msm_bucket_segment(tid, buckets, filled, buckets_per_window, seg_len, out);
}

// grid: (ceil(m / 2T), rows); block: T = ZK_SUM_THREADS (a power of two).
extern "C" __global__ void __launch_bounds__(ZK_SUM_THREADS, ZK_MSM_POINT_BLOCKS) xyzz_tree_sum(const u64* in, u64* out,
                                                                          u64 m, u64 m_out) {
    __shared__ u64 sh[16 * ZK_SUM_THREADS];
    xyzz_block_sum(threadIdx.x, blockDim.x, blockIdx.x, blockIdx.y, in, out, m, m_out, sh);
}

// Radix sort (see radix_tile): grid (tiles); block ZK_SORT_THREADS.
extern "C" __global__ void __launch_bounds__(ZK_SORT_THREADS) radix_sort_tiles(
    const u32* keys, const u32* idx, u64 m, u32 shift, u64 tiles, u32* tile_keys, u32* tile_idx,
    u32* counts) {  // idx: null on the first pass
    __shared__ u32 sk[2 * ZK_SORT_TILE];
    __shared__ u32 si[2 * ZK_SORT_TILE];
    __shared__ u32 scan[2 * ZK_SORT_THREADS];
    radix_tile(threadIdx.x, blockIdx.x, keys, idx, m, shift, tiles, tile_keys, tile_idx, counts, sk,
               si, scan);
}

// Exclusive scan, first level: grid (ceil(m / ZK_SORT_TILE)); block ZK_SORT_THREADS.
extern "C" __global__ void __launch_bounds__(ZK_SORT_THREADS) radix_scan_tiles(u32* data, u64 m, u32* sums) {
    __shared__ u32 scan[2 * ZK_SORT_THREADS];
    scan_tile(threadIdx.x, blockIdx.x, data, m, sums, scan);
}

// Exclusive scan, second level: data[i] += sums[i / ZK_SORT_TILE] (sums already scanned).
extern "C" __global__ void __launch_bounds__(ZK_MSM_THREADS) radix_scan_add(u32* data, u64 m, const u32* sums) {
    u64 i = ZK_TID();
    if (i < m) data[i] += sums[i / ZK_SORT_TILE];
}

extern "C" __global__ void __launch_bounds__(ZK_MSM_THREADS) radix_scatter(
    const u32* tile_keys, const u32* tile_idx, u64 m, u32 shift, u64 tiles, const u32* offsets,
    u32* keys_out, u32* idx_out) {
    u64 i = ZK_TID();
    if (i < m) radix_scatter_entry(i, tile_keys, tile_idx, m, shift, tiles, offsets, keys_out, idx_out);
}

#endif  // __CUDACC__
