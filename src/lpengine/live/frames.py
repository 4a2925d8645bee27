"""Decoded frames to a live pipeline's tensors and back, with the native ops (no PIL).

In: a yuv420p frame [H * 3 / 2, W] uint8 (PyAV's `to_ndarray()` layout), cover-resized to the
pipeline's size and converted in one native call to RGB float32 in [0, 1], shape (1, h, w, 3).
Out: the pipeline's (1, h, w, 3) float RGB back to yuv420p [h * 3 / 2, w] uint8, also in one
native call (`rgb_to_yuv` on float input).

For a pipeline on a CUDA device both conversions run there (lpengine's CUDA kernels, on the
device's default stream as torch's own work): the yuv420p frame is uploaded (1.5 bytes a pixel,
not the 12 of float RGB), the model gets a torch tensor on its device, and only the yuv420p
result comes back to the host for the encoder.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
from numpy.typing import NDArray

from lpengine import ops
from lpengine.live.pipelines import Frames, HostFrames

MATRIX = "bt709"  # NOTE: both directions use one matrix, so an echo is (nearly) lossless


def to_model_input(frame: NDArray[np.uint8], width: int, height: int) -> HostFrames:
    """frame: [H * 3 / 2, W] uint8 yuv420p, host memory -> (1, height, width, 3) float32, a new
    array."""
    rgb = ops.yuv_to_rgb(frame, matrix=MATRIX, dtype="float32", size=(width, height), mode="cover")
    return np.asarray(rgb)[None]


class InputConverter:
    """`to_model_input` into float arrays reused across frames: a stream's worker converts each
    frame into one of a few arrays of its own instead of a fresh one.

    A fresh 3 MB array a frame (512x512) costs more than its page faults: the kernel zeroes its
    pages through the cache, and that evicts x264's working set; with reused arrays the
    encoder's CPU time per frame fell by about a fifth (bench_live).

    An array is reused only once nothing outside the pool refers to it: a pipeline that keeps
    frames in flight holds them (or views of them, or tensors made with `torch.from_numpy`,
    which all refer to the array), so a kept frame is never overwritten. While all the pool's
    arrays are held, a frame gets a fresh array that is not pooled.

    With a CUDA `device` the frame is converted there into a new torch tensor (torch's caching
    allocator reuses device memory by itself)."""

    POOL_SIZE = 4

    def __init__(self) -> None:
        self._pool: list[NDArray[np.float32]] = [np.empty(0, np.float32)]
        # NOTE: the count `_unused` sees for an array only the pool holds, measured the same
        # way (interpreters count borrowed references differently)
        self._free_refs = self._refs(0)
        self._pool.clear()
        self._upload: Any = None  # the yuv420p frame on the device, reused
        self._upload_on = ""  # the device it is on

    def __call__(
        self, frame: NDArray[np.uint8], width: int, height: int, device: str = "cpu"
    ) -> Frames:
        """As `to_model_input` (on `device`); the array returned stays the caller's until it
        lets go of it."""
        if device != "cpu":
            return self._on_device(frame, width, height, device)
        buf = self._free((height, width, 3))
        if buf is None:
            return to_model_input(frame, width, height)
        ops.yuv_to_rgb(
            frame, matrix=MATRIX, dtype="float32", size=(width, height), mode="cover", out=buf
        )
        return buf[None]

    def _free(self, shape: tuple[int, int, int]) -> NDArray[np.float32] | None:
        if self._pool and self._pool[0].shape != shape:  # NOTE: the pool holds one shape
            self._pool = []
        for i in range(len(self._pool)):
            if self._refs(i) <= self._free_refs:  # nothing else (no view, no tensor) holds it
                return self._pool[i]
        if len(self._pool) < self.POOL_SIZE:
            self._pool.append(np.empty(shape, np.float32))
            return self._pool[-1]
        return None

    def _refs(self, i: int) -> int:
        return sys.getrefcount(self._pool[i])

    def _on_device(self, frame: NDArray[np.uint8], width: int, height: int, device: str) -> Any:
        import torch

        host = torch.from_numpy(np.ascontiguousarray(frame))
        up = self._upload
        # NOTE: by name: torch.device("cuda") != a tensor's cuda:0
        if up is None or up.shape != host.shape or self._upload_on != device:
            up = self._upload = torch.empty(host.shape, dtype=torch.uint8, device=device)
            self._upload_on = device
        up.copy_(host)
        rgb = torch.empty((height, width, 3), dtype=torch.float32, device=device)
        ops.yuv_to_rgb(
            up, matrix=MATRIX, dtype="float32", size=(width, height), mode="cover", out=rgb
        )
        return rgb[None]


class OutputConverter:
    """The pipeline's float frames back to yuv420p in one native call (rounding to 8-bit RGB
    and converting fused, row pair by row pair), into a buffer kept across frames (a stream's
    output size never changes), so no frame pays for fresh pages. Frames on a CUDA device are
    converted there, and the yuv420p copied into that host buffer.

    NOTE: the yuv420p array returned is overwritten by the next call: the encoder is done with
    it (x264 copies its input) before then."""

    def __init__(self) -> None:
        self._yuv: NDArray[np.uint8] | None = None
        self._device_yuv: Any = None

    def __call__(self, frames: Frames) -> NDArray[np.uint8]:
        """frames: (1, h, w, 3) float RGB in [0, 1] (values outside are clamped), host memory
        or a torch tensor on a CUDA device -> [h * 3 / 2, w] uint8 yuv420p in host memory;
        x * 255 rounded half up, as ai-runner's bytes."""
        shape = tuple(frames.shape)
        if len(shape) != 4 or shape[0] != 1 or shape[3] != 3:
            raise ValueError(f"frames: expected shape (1, H, W, 3), got {shape}")
        h, w = shape[1:3]
        if h % 2 or w % 2 or not h or not w:
            raise ValueError(f"frames: expected an even height and width, got {w}x{h}")
        if self._yuv is None or self._yuv.shape != (h * 3 // 2, w):
            self._yuv = np.empty((h * 3 // 2, w), np.uint8)
        if not isinstance(frames, np.ndarray):
            return self._from_device(frames, self._yuv)
        # NOTE: a no-op for the float32 C-contiguous frames pipelines return; a copy otherwise.
        rgb = np.ascontiguousarray(frames[0], dtype=np.float32)
        return np.asarray(ops.rgb_to_yuv(rgb, matrix=MATRIX, out=self._yuv))

    def _from_device(self, frames: Any, host: NDArray[np.uint8]) -> NDArray[np.uint8]:
        import torch

        if not isinstance(frames, torch.Tensor) or not frames.is_cuda:
            raise ValueError(
                f"frames: expected a numpy array or a CUDA torch tensor, got {type(frames)}"
            )
        rgb = frames[0].to(torch.float32).contiguous()
        dev = self._device_yuv
        if dev is None or tuple(dev.shape) != host.shape or dev.device != rgb.device:
            dev = self._device_yuv = torch.empty(host.shape, dtype=torch.uint8, device=rgb.device)
        ops.rgb_to_yuv(rgb, matrix=MATRIX, out=dev)
        torch.from_numpy(host).copy_(dev)
        return host


def from_model_output(frames: Frames) -> NDArray[np.uint8]:
    """frames: (1, h, w, 3) float RGB in [0, 1] -> a new [h * 3 / 2, w] uint8 yuv420p array."""
    return OutputConverter()(frames).copy()
