"""Compute floors of the GPU kernels: the time the integer multiply-adds alone would take.

Counting. A 254-bit Montgomery multiplication on 32-bit limbs (s = 8) needs s² partial products
for a·b and s² for the reduction, each a 32×32→64 product, i.e. two IMADs (low and high half):
4·s² = 256 IMADs, ignoring carries, additions and the s multiplications by −M⁻¹. The 4×64-bit
code in kernels/cuda compiles to the same 32-bit IMADs (a 64×64→128 product is four 32-bit
products, eight IMADs; 32 of them per multiplication), so 256 is the floor for either.

- MSM: every (point, window) pair with a nonzero digit costs one XYZZ mixed addition,
  madd-2008-s: 8M + 2S = 10 multiplications. The bucket reduction costs two full additions per
  bucket, add-2008-s: 12M + 2S = 14 multiplications each. W and c are those of the backend's plan.
- NTT: n/2·log2 n butterflies of one multiplication each.

Rates. On compute capability 9.0 an SM retires 64 32-bit IMADs per clock (4 sub-partitions ×
16 lanes; CUDA C++ Programming Guide, arithmetic instruction throughput table). H100 SXM5:
132 SMs at 1.98 GHz boost → 16.7·10^12 IMAD/s. H200: the same GH100 die, 132 SMs, 1.98 GHz.
H100 PCIe: 114 SMs at 1.755 GHz → 12.8·10^12 IMAD/s.

The NTT also has a memory floor: each pass over global memory reads and writes every element
once (32 bytes each way); `ntt_memory_floor_ms` gives it from the HBM bandwidth (H100 SXM5
3.35 TB/s, H200 4.8 TB/s, H100 PCIe 2.0 TB/s).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from kernels.gpu import plan

IMAD_PER_MUL = 4 * 8 * 8
MULS_PER_MIXED_ADD = 10
MULS_PER_FULL_ADD = 14
ELEMENT_BYTES = 32


@dataclass(frozen=True)
class Device:
    name: str
    sms: int
    boost_ghz: float
    imad_per_sm_clock: int
    hbm_tb_s: float

    @property
    def imad_per_s(self) -> float:
        return self.sms * self.imad_per_sm_clock * self.boost_ghz * 1e9


DEVICES = {
    "h100-sxm": Device("H100 SXM5", 132, 1.98, 64, 3.35),
    "h100-pcie": Device("H100 PCIe", 114, 1.755, 64, 2.0),
    "h200": Device("H200", 132, 1.98, 64, 4.8),
}


def lookup(device_name: str) -> Optional[Device]:
    """The table entry for a CUDA device name such as 'NVIDIA H100 80GB HBM3'; None if unknown."""
    name = device_name.lower()
    if "h200" in name:
        return DEVICES["h200"]
    if "h100" in name:
        return DEVICES["h100-pcie"] if "pcie" in name else DEVICES["h100-sxm"]
    return None


def msm_multiplications(log2_n: int, scalar_bits: int) -> int:
    n = 1 << log2_n
    c = plan.msm_window_bits(n, scalar_bits)
    windows = plan.msm_windows(scalar_bits, c)
    buckets = windows * (1 << (c - 1))
    return windows * n * MULS_PER_MIXED_ADD + buckets * 2 * MULS_PER_FULL_ADD


def ntt_multiplications(log2_n: int) -> int:
    return (1 << log2_n) // 2 * log2_n


def msm_floor_ms(log2_n: int, scalar_bits: int, device_name: str) -> Optional[float]:
    dev = lookup(device_name)
    if dev is None:
        return None
    return msm_multiplications(log2_n, scalar_bits) * IMAD_PER_MUL / dev.imad_per_s * 1e3


def ntt_floor_ms(log2_n: int, device_name: str) -> Optional[float]:
    dev = lookup(device_name)
    if dev is None:
        return None
    return ntt_multiplications(log2_n) * IMAD_PER_MUL / dev.imad_per_s * 1e3


def ntt_memory_floor_ms(log2_n: int, device_name: str) -> Optional[float]:
    """Bytes moved by the backend's passes (the DIF passes; the last one also reorders)."""
    dev = lookup(device_name)
    if dev is None:
        return None
    passes = len(plan.ntt_passes(log2_n))
    return passes * 2 * (1 << log2_n) * ELEMENT_BYTES / (dev.hbm_tb_s * 1e12) * 1e3
