"""Launch plans of the GPU kernels: pure Python, no CuPy, so that the host test drives the CUDA
code (compiled for the CPU) with exactly the plans the GPU backend uses.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidInput
from ..params import R_MODULUS, root_of_unity

# Threads per block of the one-thread-per-item kernels (ZK_MSM_THREADS in msm.cu, and every
# element-wise kernel): the block size their __launch_bounds__ promise.
ITEM_THREADS = 256

# Largest pass block (log2 elements): 2^10 elements of 32 bytes fill 32 KiB of shared memory (and
# its twiddles almost as much again).
NTT_MAX_LOG_BLOCK = 10
# Butterfly bits per pass over global memory.
NTT_MAX_STAGES_PER_PASS = 8
# Consecutive elements a block reads along the low index bits: 4·32 bytes = one 128-byte line.
NTT_LOG_RUN = 2


@dataclass(frozen=True)
class NttPass:
    """One pass over global memory: DIF stages on index bits [lo, lo + t); each block holds
    2^t butterfly positions times 2^g neighbours along bits [0, g)."""
    lo: int
    t: int
    g: int

    @property
    def log_block(self) -> int:
        return self.t + self.g


def ntt_passes(log_n: int) -> list[NttPass]:
    """The passes of a size-2^log_n transform, top bits first (DIF order), stages split evenly."""
    if log_n == 0:
        return []
    count = -(-log_n // NTT_MAX_STAGES_PER_PASS)
    sizes = [log_n // count + (1 if i < log_n % count else 0) for i in range(count)]
    passes, hi = [], log_n
    for t in sizes:
        lo = hi - t
        g = min(lo, NTT_MAX_LOG_BLOCK - t, NTT_LOG_RUN if lo > 0 else 0)
        passes.append(NttPass(lo, t, g))
        hi = lo
    return passes


# Threads per pass block (ZK_NTT_THREADS in ntt.cu): each takes four elements per stage pair.
NTT_THREADS = 256


def ntt_threads(p: NttPass) -> int:
    return max(1, min(NTT_THREADS, (1 << p.log_block) // 4))


def ntt_twiddle_entries(p: NttPass) -> int:
    """Twiddles a pass block stages in shared memory (ntt_twiddle_entries in ntt.cu): 2^(g+j)
    for local stage j, 2^g·(2^t − 1) in all."""
    return ((1 << p.t) - 1) << p.g


def ntt_shared_bytes(p: NttPass) -> int:
    """Dynamic shared memory of one pass block: 32 bytes per element and per staged twiddle."""
    return 32 * ((1 << p.log_block) + ntt_twiddle_entries(p))


# Dynamic shared memory a kernel may use without raising its limit (cudaFuncAttribute
# MaxDynamicSharedMemorySize); an NTT pass block of 2^10 elements needs 64 KiB − 128 B.
SHARED_DEFAULT_LIMIT = 48 * 1024


@dataclass(frozen=True)
class NttScales:
    """Plain-int parameters of one transform: twiddle root, optional pre-scale base (a[j]·b^j),
    and the post-scale c·b^i applied while undoing the bit reversal (c = 0: none)."""
    omega: int
    pre_base: int
    post_c: int
    post_base: int


def ntt_scales(log_n: int, inverse: bool, coset: bool, shift: int) -> NttScales:
    n = 1 << log_n
    omega = root_of_unity(log_n)
    if not inverse:
        return NttScales(omega, shift % R_MODULUS if coset else 0, 0, 1)
    n_inv = pow(n, -1, R_MODULUS)
    return NttScales(pow(omega, -1, R_MODULUS), 0, n_inv,
                     pow(shift, -1, R_MODULUS) if coset else 1)


# MSM ---------------------------------------------------------------------------------------------

# Sorted pairs per thread in the first accumulation level (mixed additions) and in later levels.
# A level leaves two partial sums per chunk, so later levels need chunks of at least 4 entries
# for the sequence to shrink (2k entries in chunks of 4 make ceil(k/2) < k chunks).
MSM_CHUNK_AFFINE = 32
MSM_CHUNK_PARTIAL = 8
# Bucket-reduction segments per window: enough threads to fill the device.
MSM_MAX_SEGMENTS = 2048
MSM_MAX_WINDOW_BITS = 20
# Threads per block of the bucket-sum tree (ZK_SUM_THREADS in msm.cu, a power of two); a block
# sums 2·MSM_SUM_THREADS points.
MSM_SUM_THREADS = 128
# Threads per block of the kernels that hold curve points (ZK_MSM_POINT_THREADS in msm.cu):
# accumulation and bucket segments.
MSM_POINT_THREADS = 128
# (point, window) pairs of one MSM: bounds the keys, digits and 32-bit sort indices (12 bytes a
# pair, 3 GiB at this bound) whatever window size is requested.
MSM_MAX_PAIRS = 2**28
# Bit width the window plan covers when the caller gives no `scalar_bits`: every scalar below the
# Fr modulus. Windows above a scalar's top bit hold only zero digits, skipped by the kernels.
MSM_SCALAR_BITS = 254


def msm_windows(scalar_bits: int, c: int) -> int:
    """Signed c-bit windows that cover scalar_bits bits: the top window keeps at most c − 1
    bits, so its digit plus an incoming carry never exceeds 2^(c−1) and never carries out."""
    return max(1, -(-(scalar_bits + 1) // c))


def msm_window_bits(n: int, scalar_bits: int, requested: int | None = None) -> int:
    """Window size c: the requested one or the c minimizing W·(n + 3·2^(c−1)) (one mixed
    addition per pair, about three full additions per bucket in the reduction), in both cases
    bounded by n (at most 2^(c−1) ≤ 2n buckets per window: more could never all be used), and
    widened while the pairs W·n exceed MSM_MAX_PAIRS."""
    if requested is not None and not 2 <= requested <= MSM_MAX_WINDOW_BITS:
        raise InvalidInput(f"msm: window_bits must be in [2, {MSM_MAX_WINDOW_BITS}], got {requested}")
    largest = max(2, min(MSM_MAX_WINDOW_BITS, (2 * n).bit_length()))
    if requested is not None:
        c = min(requested, largest)
    else:
        c, best_cost = 2, None
        for cand in range(2, largest + 1):
            cost = msm_windows(scalar_bits, cand) * (n + 3 * (1 << (cand - 1)))
            if best_cost is None or cost < best_cost:
                c, best_cost = cand, cost
    while msm_windows(scalar_bits, c) * n > MSM_MAX_PAIRS and c < MSM_MAX_WINDOW_BITS:
        c += 1
    if msm_windows(scalar_bits, c) * n > MSM_MAX_PAIRS:
        raise InvalidInput(f"msm: {n} points need more than {MSM_MAX_PAIRS} (point, window) pairs")
    return c


def msm_segment_length(buckets_per_window: int) -> int:
    """Buckets per reduction thread (a power of two dividing the bucket count)."""
    return max(1, buckets_per_window // MSM_MAX_SEGMENTS)


# Radix sort (the radix_* kernels of msm.cu): threads per block and entries per tile
# (ZK_SORT_THREADS, ZK_SORT_TILE), 8 key bits a pass.
SORT_THREADS = 256
SORT_TILE = SORT_THREADS * 8
SORT_DIGIT_BITS = 8


def sort_shifts(key_bits: int) -> list[int]:
    """Shifts of the passes that order keys by their bits [0, key_bits) (at least one pass)."""
    return list(range(0, max(1, key_bits), SORT_DIGIT_BITS))


def msm_key_bits(windows: int, c: int) -> int:
    """Key bits the MSM's sort must order: keys are below W·2^(c−1) ≤ 2^bits − 1, so EMPTY
    (0xFFFFFFFF) restricted to those bits still exceeds every key and sorts last."""
    return (windows << (c - 1)).bit_length()
