#include <algorithm>
#include <cmath>
#include <vector>

#include "core/dispatch.h"
#include "core/parallel.h"
#include "frames/colorspace.h"
#include "frames/convert.h"

namespace lpengine {
namespace {

constexpr int kShift = kFixedShift;
constexpr int kHalf = 1 << (kShift - 1);

inline uint8_t clamp_u8(int v) { return static_cast<uint8_t>(std::min(std::max(v, 0), 255)); }

// Per chroma sample terms shared by the two luma rows above and below it, written once per
// luma column (each sample twice) so the per-pixel loop below is purely elementwise.
// u, v: [n] samples `step` bytes apart; rt/gt/bt: [2 n] Q14 terms with the rounding bias folded in.
LP_HOT void chroma_terms(const uint8_t* __restrict u, const uint8_t* __restrict v, int step, int n,
                         YuvToRgbFixed k, int* __restrict rt, int* __restrict gt,
                         int* __restrict bt) {
  for (int c = 0; c < n; ++c) {
    const int cu = u[c * step] - 128;
    const int cv = v[c * step] - 128;
    const int r = k.rv * cv + kHalf;
    const int g = kHalf - k.gu * cu - k.gv * cv;
    const int b = k.bu * cu + kHalf;
    rt[2 * c] = rt[2 * c + 1] = r;
    gt[2 * c] = gt[2 * c + 1] = g;
    bt[2 * c] = bt[2 * c + 1] = b;
  }
}

// y: [w] luma; rt/gt/bt: [w] chroma terms; out: [w, 3] packed RGB24.
LP_HOT void luma_row_rgb24(const uint8_t* __restrict y, const int* __restrict rt,
                           const int* __restrict gt, const int* __restrict bt, int w,
                           YuvToRgbFixed k, uint8_t* __restrict out) {
  for (int x = 0; x < w; ++x) {
    const int yy = (y[x] - k.y_off) * k.ky;
    out[3 * x + 0] = clamp_u8((yy + rt[x]) >> kShift);
    out[3 * x + 1] = clamp_u8((yy + gt[x]) >> kShift);
    out[3 * x + 2] = clamp_u8((yy + bt[x]) >> kShift);
  }
}

// The float form: u, v: [w / 2] samples `step` apart; ct: [3, w] chroma terms in [0, 1] units.
LP_HOT void chroma_terms_float(const uint8_t* __restrict u, const uint8_t* __restrict v, int step,
                               int n, const YuvToRgbCoeffs& k, float* __restrict ct) {
  float* __restrict rt = ct;
  float* __restrict gt = ct + 2 * n;
  float* __restrict bt = ct + 4 * n;
  for (int c = 0; c < n; ++c) {
    const float cu = (static_cast<float>(u[c * step]) - 128.0f) * k.c_scale;
    const float cv = (static_cast<float>(v[c * step]) - 128.0f) * k.c_scale;
    rt[2 * c] = rt[2 * c + 1] = k.rv * cv;
    gt[2 * c] = gt[2 * c + 1] = -k.gu * cu - k.gv * cv;
    bt[2 * c] = bt[2 * c + 1] = k.bu * cu;
  }
}

// y: [w] luma; ct: [3, w] chroma terms; r/g/b: [w] outputs `ostep` elements apart.
template <typename T>
inline __attribute__((always_inline)) void luma_row_float(const uint8_t* __restrict y,
                                                          const float* __restrict ct, int w,
                                                          const YuvToRgbCoeffs& k,
                                                          T* __restrict r, T* __restrict g,
                                                          T* __restrict b, int ostep) {
  const float* __restrict rt = ct;
  const float* __restrict gt = ct + w;
  const float* __restrict bt = ct + 2 * w;
  for (int x = 0; x < w; ++x) {
    const float yy = (static_cast<float>(y[x]) - k.y_off) * k.y_scale;
    r[x * ostep] = static_cast<T>(std::min(std::max(yy + rt[x], 0.0f), 1.0f));
    g[x * ostep] = static_cast<T>(std::min(std::max(yy + gt[x], 0.0f), 1.0f));
    b[x * ostep] = static_cast<T>(std::min(std::max(yy + bt[x], 0.0f), 1.0f));
  }
}

LP_HOT void row_f32(const uint8_t* y, const float* ct, int w, const YuvToRgbCoeffs& k, float* r,
                    float* g, float* b, int ostep) {
  if (ostep == 1) {
    luma_row_float<float>(y, ct, w, k, r, g, b, 1);
  } else {
    luma_row_float<float>(y, ct, w, k, r, g, b, 3);
  }
}

LP_HOT void row_f16(const uint8_t* y, const float* ct, int w, const YuvToRgbCoeffs& k, _Float16* r,
                    _Float16* g, _Float16* b, int ostep) {
  if (ostep == 1) {
    luma_row_float<_Float16>(y, ct, w, k, r, g, b, 1);
  } else {
    luma_row_float<_Float16>(y, ct, w, k, r, g, b, 3);
  }
}

struct ChromaRows {
  const uint8_t* u;
  const uint8_t* v;
  int step;
};

ChromaRows chroma_rows(const YuvFrame& f, int cy) {
  const Plane& p1 = f.planes[1];
  const uint8_t* row = p1.data + cy * p1.stride;
  if (f.format == PixelFormat::NV12) return {row, row + 1, 2};
  return {row, f.planes[2].data + cy * f.planes[2].stride, 1};
}

template <typename T>
void float_rows(const YuvFrame& src, const RgbImage& dst, const YuvToRgbCoeffs& k, int y,
                const float* ct) {
  const int w = src.width;
  const int h = src.height;
  const uint8_t* luma = src.planes[0].data + y * src.planes[0].stride;
  T* base = static_cast<T*>(dst.data);
  T *r, *g, *b;
  int ostep;
  if (dst.planar) {
    const std::ptrdiff_t plane = static_cast<std::ptrdiff_t>(w) * h;
    r = base + static_cast<std::ptrdiff_t>(y) * w;
    g = r + plane;
    b = g + plane;
    ostep = 1;
  } else {
    r = base + static_cast<std::ptrdiff_t>(y) * w * 3;
    g = r + 1;
    b = r + 2;
    ostep = 3;
  }
  if constexpr (std::is_same_v<T, float>) {
    row_f32(luma, ct, w, k, r, g, b, ostep);
  } else {
    row_f16(luma, ct, w, k, r, g, b, ostep);
  }
}

// rgb: [2, w, 3] two packed rows; y0/y1: [w] luma rows; u/v: [w / 2] chroma `step` apart.
LP_HOT void rgb_rows_to_yuv(const uint8_t* __restrict rgb0, const uint8_t* __restrict rgb1, int w,
                            const int* __restrict m, int y_off, uint8_t* __restrict y0,
                            uint8_t* __restrict y1, uint8_t* __restrict u, uint8_t* __restrict v,
                            int step) {
  const int bias = (y_off << kShift) + kHalf;
  for (int x = 0; x < w; ++x) {
    y0[x] = clamp_u8((m[0] * rgb0[3 * x] + m[1] * rgb0[3 * x + 1] + m[2] * rgb0[3 * x + 2] + bias) >>
                     kShift);
    y1[x] = clamp_u8((m[0] * rgb1[3 * x] + m[1] * rgb1[3 * x + 1] + m[2] * rgb1[3 * x + 2] + bias) >>
                     kShift);
  }
  // Sum of the 2x2 block, so the chroma coefficients carry two extra bits of scale.
  const int cbias = (128 << (kShift + 2)) + (1 << (kShift + 1));
  for (int c = 0; c < w / 2; ++c) {
    const int r = rgb0[6 * c] + rgb0[6 * c + 3] + rgb1[6 * c] + rgb1[6 * c + 3];
    const int g = rgb0[6 * c + 1] + rgb0[6 * c + 4] + rgb1[6 * c + 1] + rgb1[6 * c + 4];
    const int b = rgb0[6 * c + 2] + rgb0[6 * c + 5] + rgb1[6 * c + 2] + rgb1[6 * c + 5];
    u[c * step] = clamp_u8((m[3] * r + m[4] * g + m[5] * b + cbias) >> (kShift + 2));
    v[c * step] = clamp_u8((m[6] * r + m[7] * g + m[8] * b + cbias) >> (kShift + 2));
  }
}

constexpr int64_t kGrainRows = 8;  // chroma rows per task: ~30 KB of 1080p output

}  // namespace

void yuv_to_rgb_cpu(const YuvFrame& src, const RgbImage& dst, ColorSpec spec) {
  const YuvToRgbCoeffs k = yuv_to_rgb_coeffs(spec);
  const int w = src.width;
  if (dst.dtype == DType::U8 && !dst.planar) {
    const YuvToRgbFixed fk = yuv_to_rgb_fixed(k);
    parallel_for(src.height / 2, kGrainRows, [&](int64_t begin, int64_t end) {
      std::vector<int> terms(3 * static_cast<size_t>(w));
      int* rt = terms.data();
      int* gt = rt + w;
      int* bt = gt + w;
      for (int64_t cy = begin; cy < end; ++cy) {
        const ChromaRows ch = chroma_rows(src, static_cast<int>(cy));
        chroma_terms(ch.u, ch.v, ch.step, w / 2, fk, rt, gt, bt);
        for (int k2 = 0; k2 < 2; ++k2) {
          const int64_t y = 2 * cy + k2;
          luma_row_rgb24(src.planes[0].data + y * src.planes[0].stride, rt, gt, bt, w, fk,
                         static_cast<uint8_t*>(dst.data) + y * w * 3);
        }
      }
    });
    return;
  }
  parallel_for(src.height / 2, kGrainRows, [&](int64_t begin, int64_t end) {
    std::vector<float> ct(3 * static_cast<size_t>(w));
    for (int64_t cy = begin; cy < end; ++cy) {
      const ChromaRows ch = chroma_rows(src, static_cast<int>(cy));
      chroma_terms_float(ch.u, ch.v, ch.step, w / 2, k, ct.data());
      for (int k2 = 0; k2 < 2; ++k2) {
        const int y = static_cast<int>(2 * cy + k2);
        if (dst.dtype == DType::F32) {
          float_rows<float>(src, dst, k, y, ct.data());
        } else {
          float_rows<_Float16>(src, dst, k, y, ct.data());
        }
      }
    }
  });
}

void rgb_to_yuv_cpu(const RgbImage& src, const YuvFrame& dst, ColorSpec spec) {
  const RgbToYuvFixed c = rgb_to_yuv_fixed(rgb_to_yuv_coeffs(spec));
  const int* m = c.m;
  const int w = dst.width;
  const auto* rgb = static_cast<const uint8_t*>(src.data);
  parallel_for(dst.height / 2, kGrainRows, [&](int64_t begin, int64_t end) {
    for (int64_t cy = begin; cy < end; ++cy) {
      const Plane& yp = dst.planes[0];
      uint8_t* u;
      uint8_t* v;
      int step;
      if (dst.format == PixelFormat::NV12) {
        u = dst.planes[1].data + cy * dst.planes[1].stride;
        v = u + 1;
        step = 2;
      } else {
        u = dst.planes[1].data + cy * dst.planes[1].stride;
        v = dst.planes[2].data + cy * dst.planes[2].stride;
        step = 1;
      }
      rgb_rows_to_yuv(rgb + 2 * cy * w * 3, rgb + (2 * cy + 1) * w * 3, w, m,
                      c.y_off, yp.data + 2 * cy * yp.stride,
                      yp.data + (2 * cy + 1) * yp.stride, u, v, step);
    }
  });
}

}  // namespace lpengine
