// Lets a kernel source (ntt.cu, msm.cu, elementwise.cu) compile as ordinary host C++, so the
// tests can run the GPU backend's Python driver against the real kernels, one emulated thread
// at a time (tests/test_cuda_host.py, "emulated backend"). Only kernels whose threads never wait
// for each other run correctly thread by thread; ntt_dif_pass, the one kernel that
// synchronises, is launched with one thread per block, which its loops allow.

#pragma once

#define __CUDACC__ 1
#define __host__
#define __device__
#define __global__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __shared__ static

struct zk_dim3 { unsigned int x, y, z; };
extern "C" {
zk_dim3 threadIdx, blockIdx, blockDim, gridDim;
}
