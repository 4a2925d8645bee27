#include "frames/resize.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>
#include <string>

#include "core/dispatch.h"

namespace lpengine {

namespace {

// Source samples output i reads before any edge shift, and their weights as fractions. Both
// passes of axis_taps evaluate the same expressions, so the weights come out the same each time.
struct TapSpan {
  double s, crop_start;
  int in_size;
  bool area;  // s > 1

  // First sample and count; with area, a = the interval's start, else f = the bilinear fraction.
  int first(int i, int* count, double* a_or_f) const {
    if (area) {
      const double a = crop_start + i * s;
      const int j0 = std::max(0, static_cast<int>(std::floor(a)));
      const int j1 = std::min(in_size - 1, static_cast<int>(std::ceil(a + s)) - 1);
      *count = std::max(0, j1 - j0 + 1);
      *a_or_f = a;
      return j0;
    }
    const double c = std::min(std::max(crop_start + (i + 0.5) * s - 0.5, 0.0), in_size - 1.0);
    const int j0 = static_cast<int>(std::floor(c));
    *count = j0 + 1 < in_size ? 2 : 1;
    *a_or_f = c - j0;
    return j0;
  }

  double weight(int j0, int k, double a_or_f) const {
    if (area) {
      const double a = a_or_f;
      const double b = a + s;
      const int j = j0 + k;
      return std::max(0.0, std::min(b, j + 1.0) - std::max(a, static_cast<double>(j))) / s;
    }
    return k == 0 ? 1.0 - a_or_f : a_or_f;
  }
};

}  // namespace

AxisTaps axis_taps(int in_size, int out_size, double crop_start, double crop_len) {
  const double s = crop_len / out_size;
  const TapSpan span{s, crop_start, in_size, s > 1.0};
  int taps = 1;
  for (int i = 0; i < out_size; ++i) {
    int count;
    double param;
    span.first(i, &count, &param);
    taps = std::max(taps, count);
  }
  taps = std::min(taps, in_size);
  AxisTaps t;
  t.taps = taps;
  t.start.resize(out_size);
  t.weight.assign(static_cast<size_t>(out_size) * taps, 0);
  for (int i = 0; i < out_size; ++i) {
    int count;
    double param;
    const int first = span.first(i, &count, &param);
    double total = 0;
    for (int k = 0; k < count; ++k) total += span.weight(first, k, param);
    // Shift the window left at the far edge so every tap reads inside the source.
    const int start = std::min(first, in_size - taps);
    t.start[i] = start;
    // Quantize the running sum, so each weight is within one unit and the row sums to 1 << 14.
    int16_t* w = &t.weight[static_cast<size_t>(i) * taps + (first - start)];
    double run = 0;
    int prev = 0;
    for (int k = 0; k < count; ++k) {
      run += span.weight(first, k, param) / total;
      const int q = k + 1 == count ? 1 << 14 : static_cast<int>(std::lround(run * (1 << 14)));
      w[k] = static_cast<int16_t>(q - prev);
      prev = q;
    }
  }
  return t;
}

namespace {

// Every call for a ladder plans the same tables (U and V twice per call), and building them
// costs more than a copy, so the most recently used ones are kept.
AxisTaps cached_axis_taps(int in_size, int out_size, double crop_start, double crop_len) {
  struct Entry {
    int in_size, out_size;
    double crop_start, crop_len;
    std::shared_ptr<const AxisTaps> taps;
  };
  constexpr size_t kEntries = 32;
  static std::mutex mu;
  static std::vector<Entry> cache;  // least recently used first
  std::shared_ptr<const AxisTaps> hit;
  {
    std::lock_guard<std::mutex> lock(mu);
    for (size_t k = 0; k < cache.size(); ++k) {
      const Entry& e = cache[k];
      if (e.in_size == in_size && e.out_size == out_size && e.crop_start == crop_start &&
          e.crop_len == crop_len) {
        hit = e.taps;
        std::rotate(cache.begin() + k, cache.begin() + k + 1, cache.end());
        break;
      }
    }
  }
  if (hit) return *hit;
  auto taps = std::make_shared<const AxisTaps>(axis_taps(in_size, out_size, crop_start, crop_len));
  std::lock_guard<std::mutex> lock(mu);
  if (cache.size() == kEntries) cache.erase(cache.begin());
  cache.push_back({in_size, out_size, crop_start, crop_len, taps});
  return *taps;
}

}  // namespace

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
      j.x = cached_axis_taps(j.src.width, j.dst_w, g.crop_x / div, g.crop_w / div);
      j.y = cached_axis_taps(j.src.height, j.dst_h, g.crop_y / div, g.crop_h / div);
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
