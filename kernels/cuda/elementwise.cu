// Element-wise field and G1 kernels: the vector operations of the Field and G1 interfaces.
// One thread per element; field kernels are templates over the field (instantiated from Python
// through name expressions such as "field_mul<zk::Fr>").

#include "curve.cuh"

using namespace zk;

#define ZK_TID() ((u64)blockIdx.x * blockDim.x + threadIdx.x)
// Threads per block of every kernel here (plan.ITEM_THREADS).
#define ZK_ITEM_THREADS 256

template <class F>
__global__ void __launch_bounds__(ZK_ITEM_THREADS) field_add(const u64* a, const u64* b, u64* out, u64 n) {
    u64 i = ZK_TID();
    if (i < n) (F::load(a + 4 * i) + F::load(b + 4 * i)).store(out + 4 * i);
}

template <class F>
__global__ void __launch_bounds__(ZK_ITEM_THREADS) field_sub(const u64* a, const u64* b, u64* out, u64 n) {
    u64 i = ZK_TID();
    if (i < n) (F::load(a + 4 * i) - F::load(b + 4 * i)).store(out + 4 * i);
}

template <class F>
__global__ void __launch_bounds__(ZK_ITEM_THREADS) field_mul(const u64* a, const u64* b, u64* out, u64 n) {
    u64 i = ZK_TID();
    if (i < n) (F::load(a + 4 * i) * F::load(b + 4 * i)).store(out + 4 * i);
}

template <class F>
__global__ void __launch_bounds__(ZK_ITEM_THREADS) field_neg(const u64* a, u64* out, u64 n) {
    u64 i = ZK_TID();
    if (i < n) (-F::load(a + 4 * i)).store(out + 4 * i);
}

template <class F>
__global__ void __launch_bounds__(ZK_ITEM_THREADS) field_square(const u64* a, u64* out, u64 n) {
    u64 i = ZK_TID();
    if (i < n) sqr(F::load(a + 4 * i)).store(out + 4 * i);
}

template <class F>
__global__ void __launch_bounds__(ZK_ITEM_THREADS) field_inv(const u64* a, u64* out, u64 n) {
    u64 i = ZK_TID();
    if (i < n) inverse(F::load(a + 4 * i)).store(out + 4 * i);
}

// Every element raised to one exponent of `nlimbs` little-endian limbs.
template <class F>
__global__ void __launch_bounds__(ZK_ITEM_THREADS) field_pow(const u64* a, const u64* exponent, int nlimbs, u64* out, u64 n) {
    u64 i = ZK_TID();
    if (i < n) pow_limbs(F::load(a + 4 * i), exponent, nlimbs).store(out + 4 * i);
}

// Montgomery's trick over each thread's chunk of `chunk` consecutive elements: one inversion per
// chunk instead of per element. `out` first holds the prefix products. Elements must be nonzero.
template <class F>
__global__ void __launch_bounds__(ZK_ITEM_THREADS) field_batch_inv(const u64* a, u64* out, u64 n, u32 chunk) {
    u64 begin = ZK_TID() * chunk;
    if (begin >= n) return;
    u64 end = begin + chunk < n ? begin + chunk : n;
    F acc = F::one();
    for (u64 i = begin; i < end; ++i) {
        acc.store(out + 4 * i);  // product of the elements before i
        acc = acc * F::load(a + 4 * i);
    }
    F inv = inverse(acc);  // 1 / (product of the whole chunk)
    for (u64 i = end; i-- > begin;) {
        F x = F::load(a + 4 * i);
        (inv * F::load(out + 4 * i)).store(out + 4 * i);
        inv = inv * x;
    }
}

// flags[i] = 1 when element i is a valid representation (below the modulus).
template <class F>
__global__ void __launch_bounds__(ZK_ITEM_THREADS) field_is_reduced(const u64* a, unsigned char* flags, u64 n) {
    u64 i = ZK_TID();
    if (i < n) flags[i] = F::load(a + 4 * i).is_reduced() ? 1 : 0;
}

// Canonical ints ↔ Montgomery form on the device.
template <class F>
__global__ void __launch_bounds__(ZK_ITEM_THREADS) field_to_montgomery(const u64* a, u64* out, u64 n) {
    u64 i = ZK_TID();
    if (i < n) to_montgomery(F::load(a + 4 * i)).store(out + 4 * i);
}

template <class F>
__global__ void __launch_bounds__(ZK_ITEM_THREADS) field_from_montgomery(const u64* a, u64* out, u64 n) {
    u64 i = ZK_TID();
    if (i < n) from_montgomery(F::load(a + 4 * i)).store(out + 4 * i);
}

// flags[i] = 1 when point i has reduced coordinates and lies on the curve (or is (0, 0)).
extern "C" __global__ void __launch_bounds__(ZK_ITEM_THREADS) g1_check(const u64* p, unsigned char* flags, u64 n) {
    u64 i = ZK_TID();
    if (i >= n) return;
    G1Affine a = G1Affine::load(p + 8 * i);
    flags[i] = (a.x.is_reduced() && a.y.is_reduced() && a.on_curve()) ? 1 : 0;
}

extern "C" __global__ void __launch_bounds__(ZK_ITEM_THREADS) g1_add(const u64* a, const u64* b, u64* out, u64 n) {
    u64 i = ZK_TID();
    if (i >= n) return;
    G1Xyzz s = add_mixed(G1Xyzz::from_affine(G1Affine::load(a + 8 * i)), G1Affine::load(b + 8 * i));
    to_affine(s).store(out + 8 * i);
}

extern "C" __global__ void __launch_bounds__(ZK_ITEM_THREADS) g1_double(const u64* a, u64* out, u64 n) {
    u64 i = ZK_TID();
    if (i >= n) return;
    to_affine(dbl(G1Xyzz::from_affine(G1Affine::load(a + 8 * i)))).store(out + 8 * i);
}

extern "C" __global__ void __launch_bounds__(ZK_ITEM_THREADS) g1_neg(const u64* a, u64* out, u64 n) {
    u64 i = ZK_TID();
    if (i < n) G1Affine::load(a + 8 * i).neg().store(out + 8 * i);
}

// out[i] = k_i·P_i for scalars in Fr Montgomery form.
extern "C" __global__ void __launch_bounds__(ZK_ITEM_THREADS) g1_scalar_mul(const u64* points, const u64* scalars, u64* out, u64 n) {
    u64 i = ZK_TID();
    if (i >= n) return;
    Fr k = from_montgomery(Fr::load(scalars + 4 * i));
    to_affine(scalar_mul(G1Affine::load(points + 8 * i), k.l, 4)).store(out + 8 * i);
}
