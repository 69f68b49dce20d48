"""Copies between host and device through pinned (page-locked) staging buffers, on the stream of
the backend that owns them: DMA at full PCIe/NVLink speed instead of the driver's bounce through
its own pageable staging, and no serialisation with other workers' default-stream work."""

from __future__ import annotations

import cupy
import numpy as np


class Staging:
    """One pinned buffer, grown to the largest transfer seen, reused by every copy. A copy to the
    device may still be reading the buffer when the call returns; the next use of the buffer
    waits for it (an event), so callers never see a half-written upload."""

    def __init__(self, stream: "cupy.cuda.Stream"):
        self.stream = stream
        self._memory = None
        self._bytes = 0
        self._in_flight = None  # event recorded after the last upload from the buffer

    def _buffer(self, nbytes: int) -> np.ndarray:
        if self._in_flight is not None:
            self._in_flight.synchronize()
            self._in_flight = None
        if nbytes > self._bytes:
            size = 1 << max(20, (nbytes - 1).bit_length())  # powers of two from 1 MiB
            self._memory = cupy.cuda.alloc_pinned_memory(size)
            self._bytes = size
        return np.frombuffer(self._memory, dtype=np.uint8, count=nbytes)

    def to_device(self, host: np.ndarray) -> cupy.ndarray:
        host = np.ascontiguousarray(host)
        staged = self._buffer(host.nbytes).view(host.dtype).reshape(host.shape)
        np.copyto(staged, host)
        out = cupy.empty(host.shape, dtype=host.dtype)
        out.set(staged, stream=self.stream)
        self._in_flight = self.stream.record()
        return out

    def to_host(self, device: cupy.ndarray) -> np.ndarray:
        device = cupy.ascontiguousarray(device)
        staged = self._buffer(device.nbytes).view(device.dtype).reshape(device.shape)
        device.get(stream=self.stream, out=staged)
        self.stream.synchronize()
        return staged.copy()
