"""Frame ops: native (C++ / CUDA) when the core is built, with a numpy `<op>_reference` for each
that is the test oracle, the fallback and the bench baseline."""

from lpengine.ops.convert import rgb_to_yuv, rgb_to_yuv_reference, yuv_to_rgb, yuv_to_rgb_reference
from lpengine.ops.resize import resize, resize_geometry, resize_reference

__all__ = [
    "resize",
    "resize_geometry",
    "resize_reference",
    "rgb_to_yuv",
    "rgb_to_yuv_reference",
    "yuv_to_rgb",
    "yuv_to_rgb_reference",
]
