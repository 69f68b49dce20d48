// Compiles a kernel source (ntt.cu, msm.cu, elementwise.cu) as host C++ with the device paths
// taken: __CUDA_ARCH__ is defined, the carry-chain arithmetic runs with its flag emulated, the
// intrinsics have host bodies, and host_emulation.cpp runs every CUDA thread of a block as its
// own OS thread, with __syncthreads a real barrier. tests/test_cuda_threaded.py drives the GPU
// backend's Python code against the kernels built this way.

#pragma once

#define __CUDACC__ 1
#define __CUDA_ARCH__ 900
#define ZK_EMULATE_CARRY 1
#define ZK_HOST_THREADS 1
#define __host__
#define __device__
#define __global__
#define __forceinline__ inline
#define __noinline__ __attribute__((__noinline__))
#define __launch_bounds__(...)
// One block runs at a time, so block-shared storage can be process-wide.
#define __shared__ static

struct zk_dim3 { unsigned int x, y, z; };
extern thread_local zk_dim3 threadIdx, blockIdx;
extern zk_dim3 blockDim, gridDim;

// A real barrier over the threads of the running block.
void __syncthreads();
// The launch's dynamic shared memory (what `extern __shared__` names on the device).
void* zk_dynamic_shared();

inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
    return (unsigned long long)(((unsigned __int128)a * b) >> 64);
}
inline unsigned int __umulhi(unsigned int a, unsigned int b) {
    return (unsigned int)(((unsigned long long)a * b) >> 32);
}
inline unsigned int __brev(unsigned int x) {
    unsigned int r = 0;
    for (int i = 0; i < 32; ++i) r |= ((x >> i) & 1u) << (31 - i);
    return r;
}
inline int __clzll(long long x) { return x ? __builtin_clzll((unsigned long long)x) : 64; }
