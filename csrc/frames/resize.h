// Multi-output resize of 4:2:0 frames: area averaging to shrink, bilinear to enlarge.
#pragma once

#include <cstdint>
#include <vector>

#include "core/frame.h"

namespace lpengine {

enum class ResizeMode { Stretch, Cover, Fit };

// Separable filter for one axis. Output i reads source samples start[i] .. start[i] + taps - 1.
struct AxisTaps {
  int taps = 0;
  std::vector<int32_t> start;   // [n_out]
  std::vector<int16_t> weight;  // [n_out, taps], Q14, each row sums to exactly 1 << 14
};

// Output i covers source interval [crop_start + i * s, crop_start + (i + 1) * s), s = crop_len /
// n_out. s > 1: area weights (overlap of each source pixel with that interval); s <= 1: bilinear at
// the interval's centre, clamped to the edge.
AxisTaps axis_taps(int in_size, int out_size, double crop_start, double crop_len);

// Where the source lands in one output, in luma pixels.
struct ResizeGeometry {
  double crop_x = 0, crop_y = 0, crop_w = 0, crop_h = 0;  // source window (cover crops it)
  int dst_x = 0, dst_y = 0, dst_w = 0, dst_h = 0;         // content rectangle (fit letterboxes)
};

ResizeGeometry resize_geometry(int src_w, int src_h, int dst_w, int dst_h, ResizeMode mode);

// One source frame to every frame in `dsts` (same pixel format, even sizes) in one call.
// Letterbox bars of `fit` are black: Y = 16 (or 0 for full range), U = V = 128.
void resize(const YuvFrame& src, const std::vector<YuvFrame>& dsts, ResizeMode mode,
            bool full_range, Device device);

// Taps of one plane of one output, shared by the CPU and CUDA paths.
struct PlaneJob {
  Plane src;
  Plane dst;         // the whole output plane
  int dst_x, dst_y;  // content rectangle inside dst, in this plane's pixels
  int dst_w, dst_h;
  AxisTaps x, y;
  uint8_t fill[2];  // letterbox value per channel
};

std::vector<PlaneJob> plan_resize(const YuvFrame& src, const std::vector<YuvFrame>& dsts,
                                  ResizeMode mode, bool full_range);

void resize_cpu(const std::vector<PlaneJob>& jobs);
void resize_cuda(const std::vector<PlaneJob>& jobs);

}  // namespace lpengine
