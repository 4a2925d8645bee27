// Colour conversion between 4:2:0 YUV frames and RGB images.
#pragma once

#include "core/frame.h"

namespace lpengine {

// src: 4:2:0 frame; dst: RGB image of the same size, uint8 / float32 / float16, packed or planar.
// Chroma is upsampled by replication (each 2x2 luma block shares one U/V sample), as libswscale's
// unscaled converters do. Floats are in [0, 1].
void yuv_to_rgb(const YuvFrame& src, const RgbImage& dst, ColorSpec spec, Device device);
// src: packed uint8 RGB, or float32 RGB in [0, 1] that is first rounded to uint8 code values
// (x * 255 half up, clamped); dst: 4:2:0 frame; chroma is the mean of each 2x2 block.
void rgb_to_yuv(const RgbImage& src, const YuvFrame& dst, ColorSpec spec, Device device);

void yuv_to_rgb_cpu(const YuvFrame& src, const RgbImage& dst, ColorSpec spec);
void rgb_to_yuv_cpu(const RgbImage& src, const YuvFrame& dst, ColorSpec spec);
void yuv_to_rgb_cuda(const YuvFrame& src, const RgbImage& dst, ColorSpec spec);
void rgb_to_yuv_cuda(const RgbImage& src, const YuvFrame& dst, ColorSpec spec);

}  // namespace lpengine
