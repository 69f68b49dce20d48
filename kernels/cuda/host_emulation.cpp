// One kernel source compiled for the host with host_emulation.h (the file to include comes as
// ZK_SOURCE), and a launcher that runs its kernels the way a GPU would schedule them, minus the
// parallelism across blocks: the blocks of a grid run one after another, and the threads of a
// block run at once, one OS thread per CUDA thread, meeting at __syncthreads on a real barrier.
//
//   int zk_launch(name, grid_x, grid_y, block_x, dynamic_shared_bytes, args)
//
// `args` points at the kernel's arguments, one pointer per parameter, as cuLaunchKernel takes
// them. Returns 0, or an error: 1 unknown kernel, 2 barrier divergence (some threads of a block
// left the kernel while others waited at __syncthreads, which is undefined behaviour on a GPU),
// 3 a thread could not be started.

// The standard headers first: host_emulation.h redefines CUDA keywords that some of them use.
#include <pthread.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <utility>
#include <vector>

#include "host_emulation.h"
#include ZK_SOURCE

thread_local zk_dim3 threadIdx, blockIdx;
zk_dim3 blockDim, gridDim;

namespace {

// Arrivals at __syncthreads, with the threads that have already finished the block counted
// apart: when every thread has either arrived or finished and some finished, the block diverged.
struct BlockBarrier {
    std::mutex mu;
    std::condition_variable cv;
    unsigned size = 1, arrived = 0, finished = 0;
    unsigned long long generation = 0;
    bool diverged = false;

    // A new block (divergence stays recorded until the next launch clears it).
    void reset(unsigned n, bool clear = false) {
        std::lock_guard<std::mutex> lock(mu);
        size = n; arrived = 0; finished = 0; ++generation;
        if (clear) diverged = false;
    }

    void release_if_stuck() {
        if (arrived > 0 && arrived + finished == size && finished > 0) {
            diverged = true;
            arrived = 0;
            ++generation;
            cv.notify_all();
        }
    }

    void sync() {
        std::unique_lock<std::mutex> lock(mu);
        if (diverged) return;
        if (++arrived + finished == size) {
            if (finished > 0) diverged = true;
            arrived = 0;
            ++generation;
            cv.notify_all();
            return;
        }
        const unsigned long long gen = generation;
        cv.wait(lock, [&] { return generation != gen; });
    }

    void finish() {
        std::lock_guard<std::mutex> lock(mu);
        ++finished;
        release_if_stuck();
    }
};

BlockBarrier g_sync;        // __syncthreads inside a block
BlockBarrier g_block_end;   // every thread done with the block before the next one starts
std::vector<unsigned char> g_shared;

typedef void (*Invoker)(void**);

template <class F>
struct Signature;

template <class... A>
struct Signature<void (*)(A...)> {
    template <auto K, std::size_t... I>
    static void call(void** a, std::index_sequence<I...>) { K(*static_cast<A*>(a[I])...); }
    template <auto K>
    static void invoke(void** a) { call<K>(a, std::index_sequence_for<A...>{}); }
};

template <auto K>
void invoke(void** a) { Signature<decltype(K)>::template invoke<K>(a); }

struct Entry { const char* name; Invoker fn; };

#define ZK_K(k) {#k, &invoke<&k>}

#if defined(ZK_ELEMENTWISE)
#define ZK_FIELD_ENTRIES(T)                                                                         \
    {"field_add<" #T ">", &invoke<&field_add<T>>}, {"field_sub<" #T ">", &invoke<&field_sub<T>>},   \
    {"field_mul<" #T ">", &invoke<&field_mul<T>>}, {"field_neg<" #T ">", &invoke<&field_neg<T>>},   \
    {"field_square<" #T ">", &invoke<&field_square<T>>}, {"field_inv<" #T ">", &invoke<&field_inv<T>>}, \
    {"field_pow<" #T ">", &invoke<&field_pow<T>>},                                                  \
    {"field_batch_inv<" #T ">", &invoke<&field_batch_inv<T>>},                                      \
    {"field_is_reduced<" #T ">", &invoke<&field_is_reduced<T>>},                                    \
    {"field_to_montgomery<" #T ">", &invoke<&field_to_montgomery<T>>},                              \
    {"field_from_montgomery<" #T ">", &invoke<&field_from_montgomery<T>>}
const Entry kEntries[] = {
    ZK_FIELD_ENTRIES(zk::Fr), ZK_FIELD_ENTRIES(zk::Fq),
    ZK_K(g1_check), ZK_K(g1_add), ZK_K(g1_double), ZK_K(g1_neg), ZK_K(g1_scalar_mul),
};
#elif defined(ZK_NTT)
const Entry kEntries[] = {ZK_K(ntt_dif_pass), ZK_K(ntt_scale_columns), ZK_K(fr_powers)};
#elif defined(ZK_MSM)
const Entry kEntries[] = {
    ZK_K(msm_prepare_scalars), ZK_K(msm_digits), ZK_K(msm_accumulate_affine),
    ZK_K(msm_accumulate_xyzz), ZK_K(msm_bucket_segments), ZK_K(xyzz_tree_sum),
    ZK_K(radix_sort_tiles), ZK_K(radix_scan_tiles), ZK_K(radix_scan_add), ZK_K(radix_scatter),
};
#else
#error "define ZK_ELEMENTWISE, ZK_NTT or ZK_MSM with the matching ZK_SOURCE"
#endif

struct Launch {
    Invoker fn;
    void** args;
    unsigned tid;
};

void* run_thread(void* p) {
    const Launch& l = *static_cast<Launch*>(p);
    threadIdx = {l.tid, 0, 0};
    for (unsigned y = 0; y < gridDim.y; ++y) {
        for (unsigned x = 0; x < gridDim.x; ++x) {
            blockIdx = {x, y, 0};
            l.fn(l.args);
            g_sync.finish();
            g_block_end.sync();
            if (l.tid == 0) g_sync.reset(blockDim.x);  // between the two end barriers: all idle
            g_block_end.sync();
        }
    }
    return nullptr;
}

}  // namespace

void __syncthreads() { g_sync.sync(); }

void* zk_dynamic_shared() { return g_shared.data(); }

extern "C" int zk_launch(const char* name, unsigned grid_x, unsigned grid_y, unsigned block_x,
                         unsigned long long shared_bytes, void** args) {
    Invoker fn = nullptr;
    for (const Entry& e : kEntries)
        if (std::strcmp(e.name, name) == 0) fn = e.fn;
    if (fn == nullptr) return 1;
    if (grid_x == 0 || grid_y == 0 || block_x == 0) return 0;
    gridDim = {grid_x, grid_y, 1};
    blockDim = {block_x, 1, 1};
    g_shared.assign(shared_bytes + 16, 0);
    g_sync.reset(block_x, true);
    g_block_end.reset(block_x, true);

    std::vector<Launch> launches(block_x);
    std::vector<pthread_t> threads(block_x);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 1 << 20);
    unsigned started = 0;
    int status = 0;
    for (unsigned t = 0; t < block_x; ++t) {
        launches[t] = {fn, args, t};
        if (pthread_create(&threads[t], &attr, run_thread, &launches[t]) != 0) { status = 3; break; }
        ++started;
    }
    pthread_attr_destroy(&attr);
    if (status != 0) {
        // Threads already started wait for the missing ones at the first barrier: abandon the
        // launch without joining would leave them blocked, so this is fatal.
        std::fprintf(stderr, "zk_launch: could not start %u threads\n", block_x);
        std::abort();
    }
    for (unsigned t = 0; t < started; ++t) pthread_join(threads[t], nullptr);
    return g_sync.diverged ? 2 : 0;
}
