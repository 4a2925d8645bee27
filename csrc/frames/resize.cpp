#include "frames/resize.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/dispatch.h"

namespace lpengine {

AxisTaps axis_taps(int in_size, int out_size, double crop_start, double crop_len) {
  const double s = crop_len / out_size;
  std::vector<int> first(out_size);
  std::vector<std::vector<double>> rows(out_size);
  int taps = 1;
  for (int i = 0; i < out_size; ++i) {
    std::vector<double>& w = rows[i];
    if (s > 1.0) {
      const double a = crop_start + i * s;
      const double b = a + s;
      const int j0 = std::max(0, static_cast<int>(std::floor(a)));
      const int j1 = std::min(in_size - 1, static_cast<int>(std::ceil(b)) - 1);
      first[i] = j0;
      for (int j = j0; j <= j1; ++j)
        w.push_back(std::max(0.0, std::min(b, j + 1.0) - std::max(a, static_cast<double>(j))) / s);
    } else {
      const double c = std::min(std::max(crop_start + (i + 0.5) * s - 0.5, 0.0), in_size - 1.0);
      const int j0 = static_cast<int>(std::floor(c));
      const double f = c - j0;
      first[i] = j0;
      w.push_back(1.0 - f);
      if (j0 + 1 < in_size) w.push_back(f);
    }
    taps = std::max(taps, static_cast<int>(w.size()));
  }
  taps = std::min(taps, in_size);
  AxisTaps t;
  t.taps = taps;
  t.start.resize(out_size);
  t.weight.assign(static_cast<size_t>(out_size) * taps, 0);
  for (int i = 0; i < out_size; ++i) {
    const std::vector<double>& w = rows[i];
    double total = 0;
    for (double v : w) total += v;
    // Shift the window left at the far edge so every tap reads inside the source.
    const int start = std::min(first[i], in_size - taps);
    t.start[i] = start;
    // Quantize the running sum, so each weight is within one unit and the row sums to 1 << 14.
    double run = 0;
    int prev = 0;
    for (size_t k = 0; k < w.size(); ++k) {
      run += w[k] / total;
      const int q = k + 1 == w.size() ? 1 << 14 : static_cast<int>(std::lround(run * (1 << 14)));
      t.weight[static_cast<size_t>(i) * taps + (first[i] - start) + k] =
          static_cast<int16_t>(q - prev);
      prev = q;
    }
  }
  return t;
}

ResizeGeometry resize_geometry(int src_w, int src_h, int dst_w, int dst_h, ResizeMode mode) {
  ResizeGeometry g;
  g.crop_w = src_w;
  g.crop_h = src_h;
  g.dst_w = dst_w;
  g.dst_h = dst_h;
  const double sx = static_cast<double>(dst_w) / src_w;
  const double sy = static_cast<double>(dst_h) / src_h;
  if (mode == ResizeMode::Cover) {
    const double scale = std::max(sx, sy);
    g.crop_w = dst_w / scale;
    g.crop_h = dst_h / scale;
    g.crop_x = (src_w - g.crop_w) / 2;
    g.crop_y = (src_h - g.crop_h) / 2;
  } else if (mode == ResizeMode::Fit) {
    const double scale = std::min(sx, sy);
    g.dst_w = std::clamp(2 * static_cast<int>(std::lround(src_w * scale / 2)), 2, dst_w);
    g.dst_h = std::clamp(2 * static_cast<int>(std::lround(src_h * scale / 2)), 2, dst_h);
    g.dst_x = (dst_w - g.dst_w) / 2 / 2 * 2;
    g.dst_y = (dst_h - g.dst_h) / 2 / 2 * 2;
  }
  return g;
}

std::vector<PlaneJob> plan_resize(const YuvFrame& src, const std::vector<YuvFrame>& dsts,
                                  ResizeMode mode, bool full_range) {
  std::vector<PlaneJob> jobs;
  for (const YuvFrame& d : dsts) {
    const ResizeGeometry g = resize_geometry(src.width, src.height, d.width, d.height, mode);
    for (int p = 0; p < src.num_planes; ++p) {
      const int div = p == 0 ? 1 : 2;  // 4:2:0 chroma planes are half size both ways
      PlaneJob j;
      j.src = src.planes[p];
      j.dst = d.planes[p];
      j.dst_x = g.dst_x / div;
      j.dst_y = g.dst_y / div;
      j.dst_w = g.dst_w / div;
      j.dst_h = g.dst_h / div;
      j.x = axis_taps(j.src.width, j.dst_w, g.crop_x / div, g.crop_w / div);
      j.y = axis_taps(j.src.height, j.dst_h, g.crop_y / div, g.crop_h / div);
      j.fill[0] = j.fill[1] = p == 0 ? (full_range ? 0 : 16) : 128;
      jobs.push_back(std::move(j));
    }
  }
  return jobs;
}

void resize(const YuvFrame& src, const std::vector<YuvFrame>& dsts, ResizeMode mode,
            bool full_range, Device device) {
  LP_CHECK_ARG(src.width >= 2 && src.height >= 2 && src.width % 2 == 0 && src.height % 2 == 0,
               "frame", "even width and height of at least 2",
               std::to_string(src.width) + "x" + std::to_string(src.height));
  LP_CHECK_ARG(!dsts.empty() && dsts.size() <= 16, "sizes", "1 to 16 outputs", dsts.size());
  for (const YuvFrame& d : dsts) {
    LP_CHECK_ARG(d.width >= 2 && d.height >= 2 && d.width % 2 == 0 && d.height % 2 == 0, "sizes",
                 "even width and height of at least 2",
                 std::to_string(d.width) + "x" + std::to_string(d.height));
    LP_CHECK_ARG(d.format == src.format, "sizes", "outputs in the source's pixel format",
                 "another format");
  }
  const std::vector<PlaneJob> jobs = plan_resize(src, dsts, mode, full_range);
  LP_DISPATCH(device, resize, jobs);
}

}  // namespace lpengine
