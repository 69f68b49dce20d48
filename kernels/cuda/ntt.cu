// Batched NTT over Fr with fused radix-2^t passes.
//
// A transform of size n = 2^k runs decimation-in-frequency (DIF) butterflies, bit k−1 first.
// Consecutive stages touching bits [lo, lo+t) form independent sub-transforms of 2^t elements,
// so one thread block loads such a group (times 2^g neighbours along the low bits, so that every
// global read and write is a contiguous run of 2^g·32 bytes) into shared memory, runs t stages
// there and writes back: a pass over global memory per t stages instead of per stage. With t ≤ 8
// and 2^(t+g) ≤ 1024 elements per block, 2^20 takes 3 passes and 2^24 takes 3 passes.
//
// DIF leaves the output in bit-reversed order; a final gather pass restores natural order and
// applies any per-element scale (1/n for the inverse, shift^−i·1/n for the inverse coset). The
// forward coset transform first multiplies a[j] by shift^j. The inverse transform is the same
// DIF with ω^−1 twiddles.
//
// The per-block and per-element bodies are `__host__ __device__` functions so that the host test
// can run the very same code with one emulated thread; the kernels below are thin wrappers.

#include "field.cuh"

namespace zk {

// Largest block of elements a pass holds in shared memory (32 bytes each: 32 KiB).
#define ZK_NTT_MAX_LOG_BLOCK 10

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

// One block of one pass: t DIF stages on 2^(t+g) elements of one column.
// tw[j] = ω^j for j < n/2 (ω a primitive n-th root, or its inverse for the inverse transform).
// `sh` holds 4·2^(t+g) limbs; tid/nthreads split the work among the block's threads.
ZK_HD void ntt_pass_block(u64 block, u32 tid, u32 nthreads, const u64* src, u64* dst, u64* sh,
                          const u64* tw, u32 log_n, u32 lo, u32 t, u32 g) {
    const u32 log_e = t + g;
    const u32 elems = 1u << log_e;
    // Load limb by limb: consecutive threads read consecutive 64-bit words.
    for (u32 w = tid; w < 4 * elems; w += nthreads) {
        u32 e = w >> 2;
        sh[w] = src[ntt_global_index(block, e, lo, t, g) * 4 + (w & 3)];
    }
    ZK_SYNC();
    for (int j = (int)t - 1; j >= 0; --j) {
        const u32 local_bit = (u32)j + g;   // the butterfly distance inside the block
        const u32 global_bit = lo + (u32)j; // the same distance in the whole transform
        const u64 low_mask = (1ull << global_bit) - 1;
        for (u32 q = tid; q < elems / 2; q += nthreads) {
            // Insert a zero at local_bit: q enumerates the butterflies' upper-half partners.
            u32 i0 = ((q >> local_bit) << (local_bit + 1)) | (q & ((1u << local_bit) - 1));
            u32 i1 = i0 | (1u << local_bit);
            u64 gi0 = ntt_global_index(block, i0, lo, t, g);
            u64 tw_index = (gi0 & low_mask) << (log_n - 1 - global_bit);
            Fr u = Fr::load(sh + 4 * i0);
            Fr v = Fr::load(sh + 4 * i1);
            (u + v).store(sh + 4 * i0);
            ((u - v) * Fr::load(tw + 4 * tw_index)).store(sh + 4 * i1);
        }
        ZK_SYNC();
    }
    for (u32 w = tid; w < 4 * elems; w += nthreads) {
        u32 e = w >> 2;
        dst[ntt_global_index(block, e, lo, t, g) * 4 + (w & 3)] = sh[w];
    }
}

// dst[i] = src[bitrev(i)]·s_i with s_i = scale_table[i] if given, else scale (if given), else 1.
ZK_HD void ntt_bitrev_element(u64 i, const u64* src, u64* dst, u32 log_n, const u64* scale_table,
                              const u64* scale) {
    Fr x = Fr::load(src + 4 * (u64)bit_reverse((u32)i, log_n));
    if (scale_table) x = x * Fr::load(scale_table + 4 * i);
    else if (scale) x = x * Fr::load(scale);
    x.store(dst + 4 * i);
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

// grid: (blocks per column, columns); block: min(512, 2^(t+g−1)) threads.
extern "C" __global__ void ntt_dif_pass(const u64* src, u64* dst, const u64* tw, u32 log_n,
                                        u32 lo, u32 t, u32 g) {
    __shared__ u64 sh[4 << ZK_NTT_MAX_LOG_BLOCK];
    const u64 n = 1ull << log_n;
    const u64 col = blockIdx.y;
    ntt_pass_block(blockIdx.x, threadIdx.x, blockDim.x, src + col * n * 4, dst + col * n * 4, sh,
                   tw, log_n, lo, t, g);
}

// One thread per element of every column; total = columns·n.
extern "C" __global__ void ntt_bitrev(const u64* src, u64* dst, u32 log_n, u64 total,
                                      const u64* scale_table, const u64* scale) {
    u64 idx = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= total) return;
    const u64 n = 1ull << log_n;
    const u64 col = idx >> log_n;
    const u64 i = idx & (n - 1);
    ntt_bitrev_element(i, src + col * n * 4, dst + col * n * 4, log_n, scale_table, scale);
}

// dst[c, j] = src[c, j]·table[j] for every column (the forward coset pre-scale).
extern "C" __global__ void ntt_scale_columns(const u64* src, u64* dst, const u64* table, u32 log_n,
                                             u64 total) {
    u64 idx = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= total) return;
    const u64 j = idx & ((1ull << log_n) - 1);
    (Fr::load(src + 4 * idx) * Fr::load(table + 4 * j)).store(dst + 4 * idx);
}

extern "C" __global__ void fr_powers(const u64* pow2_table, const u64* c, u64* out, u64 count) {
    u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < count) powers_element(i, pow2_table, c, out);
}

#endif  // __CUDACC__
