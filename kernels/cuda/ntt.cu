// Batched NTT over Fr with fused radix-2^t passes.
//
// A transform of size n = 2^k runs decimation-in-frequency (DIF) butterflies, bit k−1 first.
// Consecutive stages touching bits [lo, lo+t) form independent sub-transforms of 2^t elements,
// so one thread block loads such a group (times 2^g neighbours along the low bits, so that every
// global read and write is a contiguous run of 2^g·32 bytes) into shared memory, runs t stages
// there and writes back: a pass over global memory per t stages instead of per stage. With t ≤ 8
// and 2^(t+g) ≤ 1024 elements per block, 2^20 takes 3 passes and 2^24 takes 3 passes. The
// twiddles of a pass block (2^g·(2^t − 1), fewer than its elements) are staged in shared memory
// beside the elements once per block, so butterflies never gather them from global memory.
//
// DIF leaves the output in bit-reversed order; the last pass stores every element at its
// bit-reversed index and applies any per-element scale there (1/n for the inverse, shift^−i·1/n
// for the inverse coset), so no separate reordering pass is needed. The forward coset transform
// first multiplies a[j] by shift^j. The inverse transform is the same DIF with ω^−1 twiddles.
//
// The per-block and per-element bodies are `__host__ __device__` functions so that the host test
// can run the very same code; the kernels below are thin wrappers.

#include "field.cuh"

namespace zk {

// Largest block of elements a pass holds in shared memory (32 bytes each: 32 KiB), and the
// most threads a pass block runs (four elements each when stages go in pairs).
#define ZK_NTT_MAX_LOG_BLOCK 10
#define ZK_NTT_THREADS 256

#ifdef ZK_HOST_THREADS
#define ZK_DYNAMIC_SHARED(type, name) type* name = (type*)zk_dynamic_shared()
#else
#define ZK_DYNAMIC_SHARED(type, name) extern __shared__ type name[]
#endif

#ifdef __CUDA_ARCH__
#define ZK_SYNC() __syncthreads()
#else
#define ZK_SYNC() ((void)0)
#endif

ZK_HD u32 bit_reverse(u32 x, u32 bits) {
    if (bits == 0) return 0;
#ifdef __CUDA_ARCH__
    return __brev(x) >> (32 - bits);
#else
    u32 r = 0;
    for (u32 i = 0; i < bits; ++i) r |= ((x >> i) & 1u) << (bits - 1 - i);
    return r;
#endif
}

// Global element index of local element e of a pass block. Index bits, low to high:
// [0, g) inside the block, [g, lo) the block's "mid" part, [lo, lo+t) the butterfly bits of
// this pass, [lo+t, k) the block's "outer" part.
ZK_HD u64 ntt_global_index(u64 block, u32 e, u32 lo, u32 t, u32 g) {
    u32 mid_bits = lo - g;
    u64 outer = block >> mid_bits;
    u64 mid = block & ((1ull << mid_bits) - 1);
    return (outer << (lo + t)) | ((u64)(e >> g) << lo) | (mid << g) | (u64)(e & ((1u << g) - 1));
}

// The radix-2 DIF butterfly: (u, v) → (u + v, (u − v)·w), w read from the block's twiddles.
ZK_HD void ntt_butterfly(Fr& u, Fr& v, const u64* w) {
    Fr d = u - v;
    u = u + v;
    v = d * Fr::load(w);
}

// Twiddle index of the butterfly whose upper element has global index gi, at global bit `bit`.
ZK_HD u64 ntt_twiddle_index(u64 gi, u32 bit, u32 log_n) {
    return (gi & ((1ull << bit) - 1)) << (log_n - 1 - bit);
}

// Twiddles one pass block uses: local stage j (global bit lo + j) needs one per value of the
// element index bits [0, g + j) (its butterflies' upper elements agree on every other bit below
// lo + j), 2^(g+j) of them, stored from entry (2^j − 1)·2^g on: 2^g·(2^t − 1) in all.
ZK_HD u32 ntt_twiddle_entries(u32 t, u32 g) { return ((1u << t) - 1) << g; }

// Shared-memory twiddle of the butterfly whose upper element is local element i, at local stage j.
ZK_HD const u64* ntt_block_twiddle(const u64* shw, u32 j, u32 g, u32 i) {
    return shw + 4 * ((((1u << j) - 1) << g) + (i & ((1u << (j + g)) - 1)));
}

// One block of one pass: t DIF stages on 2^(t+g) elements of one column, held in `sh`
// (4·2^(t+g) limbs of shared memory), followed by the pass's ntt_twiddle_entries(t, g)
// twiddles, gathered from tw once per block with the elements (no extra barrier) and read from
// shared memory by every butterfly. tw[j] = ω^j for j < n/2 (ω a primitive n-th root, or its
// inverse for the inverse transform). Stages go two at a time: each thread keeps four elements in
// registers through both stages (one barrier per two stages), a last odd stage one butterfly pair.
// The last pass (lo = 0, `last`) stores element i at bitrev(i) with the post-scale applied, so
// the output is in natural order without a separate pass; it must not run in place.
ZK_HD void ntt_pass_block(u64 block, u32 tid, u32 nthreads, const u64* src, u64* dst, u64* sh,
                          const u64* tw, u32 log_n, u32 lo, u32 t, u32 g, int last,
                          const u64* scale_table, const u64* scale) {
    const u32 log_e = t + g;
    const u32 elems = 1u << log_e;
    // Load limb by limb: consecutive threads read consecutive 64-bit words.
    for (u32 w = tid; w < 4 * elems; w += nthreads) {
        u32 e = w >> 2;
        sh[w] = src[ntt_global_index(block, e, lo, t, g) * 4 + (w & 3)];
    }
    u64* const shw = sh + 4 * elems;
    const u32 entries = ntt_twiddle_entries(t, g);
    for (u32 w = tid; w < 4 * entries; w += nthreads) {
        const u32 x = w >> 2;
        u32 j = 0;  // the stage of entry x: 2^j ≤ (x >> g) + 1 < 2^(j+1)
        while (((x >> g) + 1) >> (j + 1)) ++j;
        const u32 local = x - (((1u << j) - 1) << g);
        const u64 gi = ntt_global_index(block, local, lo, t, g);
        shw[w] = tw[4 * ntt_twiddle_index(gi, lo + j, log_n) + (w & 3)];
    }
    ZK_SYNC();
    int j = (int)t - 1;
    for (; j >= 1; j -= 2) {
        const u32 hi_bit = (u32)j + g, lo_bit = hi_bit - 1;  // local distances 2d and d
        for (u32 q = tid; q < elems / 4; q += nthreads) {
            // Insert zeros at lo_bit and hi_bit: q enumerates the quads' first elements.
            const u32 i0 = (q & ((1u << lo_bit) - 1)) | ((q >> lo_bit) << (hi_bit + 1));
            const u32 i1 = i0 | (1u << lo_bit), i2 = i0 | (1u << hi_bit), i3 = i2 | (1u << lo_bit);
            Fr x0 = Fr::load(sh + 4 * i0), x1 = Fr::load(sh + 4 * i1);
            Fr x2 = Fr::load(sh + 4 * i2), x3 = Fr::load(sh + 4 * i3);
            ntt_butterfly(x0, x2, ntt_block_twiddle(shw, (u32)j, g, i0));
            ntt_butterfly(x1, x3, ntt_block_twiddle(shw, (u32)j, g, i1));
            const u64* const w_lo = ntt_block_twiddle(shw, (u32)j - 1, g, i0);  // i2 ≡ i0 below hi_bit
            ntt_butterfly(x0, x1, w_lo);
            ntt_butterfly(x2, x3, w_lo);
            x0.store(sh + 4 * i0); x1.store(sh + 4 * i1); x2.store(sh + 4 * i2); x3.store(sh + 4 * i3);
        }
        ZK_SYNC();
    }
    if (j == 0) {
        const u32 local_bit = g;
        for (u32 q = tid; q < elems / 2; q += nthreads) {
            const u32 i0 = ((q >> local_bit) << (local_bit + 1)) | (q & ((1u << local_bit) - 1));
            const u32 i1 = i0 | (1u << local_bit);
            Fr u = Fr::load(sh + 4 * i0), v = Fr::load(sh + 4 * i1);
            ntt_butterfly(u, v, ntt_block_twiddle(shw, 0, g, i0));
            u.store(sh + 4 * i0);
            v.store(sh + 4 * i1);
        }
        ZK_SYNC();
    }
    if (!last) {
        for (u32 w = tid; w < 4 * elems; w += nthreads) {
            u32 e = w >> 2;
            dst[ntt_global_index(block, e, lo, t, g) * 4 + (w & 3)] = sh[w];
        }
        return;
    }
    for (u32 e = tid; e < elems; e += nthreads) {
        const u64 i = bit_reverse((u32)ntt_global_index(block, e, lo, t, g), log_n);
        Fr x = Fr::load(sh + 4 * e);
        if (scale_table) x = x * Fr::load(scale_table + 4 * i);
        else if (scale) x = x * Fr::load(scale);
        x.store(dst + 4 * i);
    }
}

// out[i] = c·base^i from table[j] = base^(2^j) (Montgomery): a product over the set bits of i,
// so every element is independent (no sequential power chain).
ZK_HD void powers_element(u64 i, const u64* pow2_table, const u64* c, u64* out) {
    Fr acc = Fr::load(c);
    for (u32 j = 0; (i >> j) != 0; ++j) {
        if ((i >> j) & 1) acc = acc * Fr::load(pow2_table + 4 * j);
    }
    acc.store(out + 4 * i);
}

}  // namespace zk

#ifdef __CUDACC__

using namespace zk;

// grid: (blocks per column, columns); block: ZK_NTT_THREADS or fewer; dynamic shared memory:
// 32 bytes per element and per twiddle of the pass block (at most 64 KiB - 128 B, above the
// 48 KiB default: the driver raises the kernel's limit). Three blocks per SM fit in 80
// registers without spills (four would spill).
extern "C" __global__ void __launch_bounds__(ZK_NTT_THREADS, 3) ntt_dif_pass(
    const u64* src, u64* dst, const u64* tw, u32 log_n, u32 lo, u32 t, u32 g, int last,
    const u64* scale_table, const u64* scale) {
    ZK_DYNAMIC_SHARED(u64, sh);
    const u64 n = 1ull << log_n;
    const u64 col = blockIdx.y;
    ntt_pass_block(blockIdx.x, threadIdx.x, blockDim.x, src + col * n * 4, dst + col * n * 4, sh,
                   tw, log_n, lo, t, g, last, scale_table, scale);
}

// dst[c, j] = src[c, j]·table[j] for every column (the forward coset pre-scale).
extern "C" __global__ void __launch_bounds__(256) ntt_scale_columns(const u64* src, u64* dst, const u64* table, u32 log_n,
                                             u64 total) {
    u64 idx = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= total) return;
    const u64 j = idx & ((1ull << log_n) - 1);
    (Fr::load(src + 4 * idx) * Fr::load(table + 4 * j)).store(dst + 4 * idx);
}

extern "C" __global__ void __launch_bounds__(256) fr_powers(const u64* pow2_table, const u64* c, u64* out, u64 count) {
    u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < count) powers_element(i, pow2_table, c, out);
}

#endif  // __CUDACC__
