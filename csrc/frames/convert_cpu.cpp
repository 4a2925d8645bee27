#include <algorithm>
#include <type_traits>
#include <vector>

#include "core/dispatch.h"
#include "core/parallel.h"
#include "frames/colorspace.h"
#include "frames/convert.h"

// The hot loops are scalar code written for GCC's vectorizer (check a change with
// -fopt-info-vec-optimized). Their bodies are always inlined into the LP_HOT wrappers, so each
// wrapper's clone compiles them for its ISA level.
#define LP_INLINE inline __attribute__((always_inline))

namespace lpengine {

// The uint8 packed kernel for CPUs with AVX-512 BW + VBMI (convert_avx512.cpp), written with
// intrinsics: the vectorized loops below take twice its time there (1.0 vs 0.5 ms for 1080p on
// one Sapphire Rapids core, where 0.3 ms is writing the output).
bool rgb24_avx512_supported();
void rgb24_rows_avx512(const uint8_t* y0, const uint8_t* y1, const uint8_t* u, const uint8_t* v,
                       int step, int w, const YuvToRgbFixed& k, uint8_t* out);

namespace {

constexpr int kShift = kFixedShift;
constexpr int kHalf = 1 << (kShift - 1);
constexpr int kLow = (1 << kShift) - 1;

// One chroma row (u, v: [w / 2] samples `step` bytes apart) and the two luma rows y0, y1: [w]
// that share it.
struct RowPair {
  const uint8_t *u, *v, *y0, *y1;
  int step, w;
};

RowPair row_pair(const YuvFrame& f, int cy) {
  const Plane &yp = f.planes[0], &p1 = f.planes[1];
  const uint8_t* y0 = yp.data + 2 * cy * yp.stride;
  const uint8_t* c = p1.data + cy * p1.stride;
  if (f.format == PixelFormat::NV12) return {c, c + 1, y0, y0 + yp.stride, 2, f.width};
  return {c, f.planes[2].data + cy * f.planes[2].stride, y0, y0 + yp.stride, 1, f.width};
}

inline uint8_t clamp_u8(int v) { return static_cast<uint8_t>(std::min(std::max(v, 0), 255)); }
inline uint8_t sat_u8(int16_t v) { return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v); }

// The uint8 path runs in int16 lanes (twice the lanes of int32) yet stays bit-identical to the
// Q14 formula: with Y' = (Y - y_off) ky split as yh 2^14 + yl and a chroma term C (rounding bias
// included) as ch 2^14 + cl, where 0 <= yl, cl < 2^14,
//   (Y' + C) >> 14 == yh + ch + ((yl + cl) >> 14),
// and every piece fits int16. Y' comes from a high and a low 16-bit product, which needs
// ky < 2^15 (it is at most 255 / 219 in Q14).
//
// Chroma terms are written once per luma column (each sample twice) so the luma loop is purely
// elementwise. u, v: [n] samples kStep bytes apart; rh ... bl: [2 n] each.
template <int kStep>
LP_INLINE void chroma_terms(const uint8_t* __restrict u, const uint8_t* __restrict v, int n,
                            YuvToRgbFixed k, int16_t* __restrict rh, int16_t* __restrict rl,
                            int16_t* __restrict gh, int16_t* __restrict gl, int16_t* __restrict bh,
                            int16_t* __restrict bl) {
  for (int c = 0; c < n; ++c) {
    const int cu = u[c * kStep] - 128;
    const int cv = v[c * kStep] - 128;
    const int r = k.rv * cv + kHalf;
    const int g = kHalf - k.gu * cu - k.gv * cv;
    const int b = k.bu * cu + kHalf;
    rh[2 * c] = rh[2 * c + 1] = static_cast<int16_t>(r >> kShift);
    rl[2 * c] = rl[2 * c + 1] = static_cast<int16_t>(r & kLow);
    gh[2 * c] = gh[2 * c + 1] = static_cast<int16_t>(g >> kShift);
    gl[2 * c] = gl[2 * c + 1] = static_cast<int16_t>(g & kLow);
    bh[2 * c] = bh[2 * c + 1] = static_cast<int16_t>(b >> kShift);
    bl[2 * c] = bl[2 * c + 1] = static_cast<int16_t>(b & kLow);
  }
}

// Splits (y - y_off) ky into yh, yl, spelled so that it vectorizes to pmulhw and pmullw.
LP_INLINE void luma_split(uint8_t y, YuvToRgbFixed k, int16_t& yh, int16_t& yl) {
  const auto yt = static_cast<int16_t>(y - k.y_off);
  const auto hi = static_cast<int16_t>((yt * static_cast<int16_t>(k.ky)) >> 16);
  const auto lo = static_cast<uint16_t>(static_cast<uint16_t>(yt) * static_cast<uint16_t>(k.ky));
  yh = static_cast<int16_t>(hi * 4 | lo >> kShift);
  yl = static_cast<int16_t>(lo & kLow);
}

LP_INLINE uint8_t channel(int16_t yh, int16_t yl, int16_t ch, int16_t cl) {
  return sat_u8(static_cast<int16_t>(yh + ch + (static_cast<int16_t>(yl + cl) >> kShift)));
}

// t: [6, w] scratch; out: [2, w, 3] packed RGB24.
LP_INLINE void rgb24_rows(const RowPair& p, YuvToRgbFixed k, int16_t* __restrict t,
                          uint8_t* __restrict out) {
  const int w = p.w;
  int16_t *rh = t, *rl = t + w, *gh = t + 2 * w, *gl = t + 3 * w, *bh = t + 4 * w, *bl = t + 5 * w;
  // A constant step, or the vectorizer falls back to loading bytes one by one.
  if (p.step == 1) {
    chroma_terms<1>(p.u, p.v, w / 2, k, rh, rl, gh, gl, bh, bl);
  } else {
    chroma_terms<2>(p.u, p.v, w / 2, k, rh, rl, gh, gl, bh, bl);
  }
  uint8_t *o0 = out, *o1 = out + 3 * w;
  for (int x = 0; x < w; ++x) {
    int16_t yh0, yl0, yh1, yl1;
    luma_split(p.y0[x], k, yh0, yl0);
    luma_split(p.y1[x], k, yh1, yl1);
    o0[3 * x + 0] = channel(yh0, yl0, rh[x], rl[x]);
    o0[3 * x + 1] = channel(yh0, yl0, gh[x], gl[x]);
    o0[3 * x + 2] = channel(yh0, yl0, bh[x], bl[x]);
    o1[3 * x + 0] = channel(yh1, yl1, rh[x], rl[x]);
    o1[3 * x + 1] = channel(yh1, yl1, gh[x], gl[x]);
    o1[3 * x + 2] = channel(yh1, yl1, bh[x], bl[x]);
  }
}

LP_HOT void rgb24_rows_any(const RowPair& p, YuvToRgbFixed k, int16_t* t, uint8_t* out) {
  rgb24_rows(p, k, t, out);
}

using Rgb24Rows = void (*)(const RowPair&, YuvToRgbFixed, int16_t*, uint8_t*);

void rgb24_rows_avx512_pair(const RowPair& p, YuvToRgbFixed k, int16_t*, uint8_t* out) {
  rgb24_rows_avx512(p.y0, p.y1, p.u, p.v, p.step, p.w, k, out);
}

Rgb24Rows pick_rgb24_rows() {
  return rgb24_avx512_supported() ? rgb24_rows_avx512_pair : rgb24_rows_any;
}

// The float form: u, v: [n] samples kStep apart; rt/gt/bt: [2 n] terms in [0, 1] units.
template <int kStep>
LP_INLINE void chroma_terms_float(const uint8_t* __restrict u, const uint8_t* __restrict v, int n,
                                  const YuvToRgbCoeffs& k, float* __restrict rt,
                                  float* __restrict gt, float* __restrict bt) {
  for (int c = 0; c < n; ++c) {
    const float cu = (static_cast<float>(u[c * kStep]) - 128.0f) * k.c_scale;
    const float cv = (static_cast<float>(v[c * kStep]) - 128.0f) * k.c_scale;
    rt[2 * c] = rt[2 * c + 1] = k.rv * cv;
    gt[2 * c] = gt[2 * c + 1] = -k.gu * cu - k.gv * cv;
    bt[2 * c] = bt[2 * c + 1] = k.bu * cu;
  }
}

// Clamps to [0, 1] in the operand order of maxps/minps, which also turns -0 into +0.
inline float unit(float v) {
  const float t = v > 0.0f ? v : 0.0f;
  return t < 1.0f ? t : 1.0f;
}

// Round-to-nearest-even float -> binary16 bits for v in [0, 1] in integer ops: GCC 12 calls
// libgcc for each _Float16 conversion (no vectorizing) unless the CPU has AVX512-FP16.
inline uint16_t half_bits(float v) {
  const auto b = __builtin_bit_cast(uint32_t, v);
  const uint32_t normal = (b + 0xFFF + ((b >> 13) & 1) - (112u << 23)) >> 13;
  // Below 2^-14 the half is subnormal: adding 0.5 makes the FPU round to its 2^-24 steps.
  const uint32_t subnormal = __builtin_bit_cast(uint32_t, v + 0.5f) - 0x3F000000u;
  return static_cast<uint16_t>(b < (113u << 23) ? subnormal : normal);
}

inline float store_cast(float v, float*) { return v; }
inline uint16_t store_cast(float v, uint16_t*) { return half_bits(v); }

// y: [w] luma; rt/gt/bt: [w] chroma terms; r: [w, 3] packed when kPacked (one store group,
// which the vectorizer interleaves with permutes), else r/g/b: [w] planes.
template <bool kPacked, typename T>
LP_INLINE void luma_row_float(const uint8_t* __restrict y, const float* __restrict rt,
                              const float* __restrict gt, const float* __restrict bt, int w,
                              const YuvToRgbCoeffs& k, T* __restrict out, T* __restrict g_out,
                              T* __restrict b_out) {
  for (int x = 0; x < w; ++x) {
    const float yy = (static_cast<float>(y[x]) - k.y_off) * k.y_scale;
    const T r = store_cast(unit(yy + rt[x]), out);
    const T g = store_cast(unit(yy + gt[x]), out);
    const T b = store_cast(unit(yy + bt[x]), out);
    if constexpr (kPacked) {
      out[3 * x] = r;
      out[3 * x + 1] = g;
      out[3 * x + 2] = b;
    } else {
      out[x] = r;
      g_out[x] = g;
      b_out[x] = b;
    }
  }
}

// ct: [3, w] scratch; out: the first row's output; plane: 0 for packed output.
template <typename T>
LP_INLINE void float_rows(const RowPair& p, const YuvToRgbCoeffs& k, float* ct, T* out,
                          std::ptrdiff_t plane) {
  const int w = p.w;
  float *rt = ct, *gt = ct + w, *bt = ct + 2 * w;
  if (p.step == 1) {
    chroma_terms_float<1>(p.u, p.v, w / 2, k, rt, gt, bt);
  } else {
    chroma_terms_float<2>(p.u, p.v, w / 2, k, rt, gt, bt);
  }
  if (plane != 0) {
    T* o1 = out + w;
    luma_row_float<false>(p.y0, rt, gt, bt, w, k, out, out + plane, out + 2 * plane);
    luma_row_float<false>(p.y1, rt, gt, bt, w, k, o1, o1 + plane, o1 + 2 * plane);
  } else {
    luma_row_float<true, T>(p.y0, rt, gt, bt, w, k, out, nullptr, nullptr);
    luma_row_float<true, T>(p.y1, rt, gt, bt, w, k, out + 3 * w, nullptr, nullptr);
  }
}

LP_HOT void float_rows_f32(const RowPair& p, const YuvToRgbCoeffs& k, float* ct, float* out,
                           std::ptrdiff_t plane) {
  float_rows(p, k, ct, out, plane);
}

LP_HOT void float_rows_f16(const RowPair& p, const YuvToRgbCoeffs& k, float* ct, uint16_t* out,
                           std::ptrdiff_t plane) {
  float_rows(p, k, ct, out, plane);
}

// rgb0/rgb1: [w, 3] two packed rows; y0/y1: [w] luma rows; sr/sg/sb: [w] the rows' sums per
// column, planar so that the chroma loop reads pairs (the vectorizer cannot permute the groups
// of six bytes that reading packed pixel pairs would take).
LP_INLINE void rgb_rows_to_luma(const uint8_t* __restrict rgb0, const uint8_t* __restrict rgb1,
                                int w, const int* __restrict m, int y_off, uint8_t* __restrict y0,
                                uint8_t* __restrict y1, uint16_t* __restrict sr,
                                uint16_t* __restrict sg, uint16_t* __restrict sb) {
  const int bias = (y_off << kShift) + kHalf;
  for (int x = 0; x < w; ++x) {
    const int r0 = rgb0[3 * x], g0 = rgb0[3 * x + 1], b0 = rgb0[3 * x + 2];
    const int r1 = rgb1[3 * x], g1 = rgb1[3 * x + 1], b1 = rgb1[3 * x + 2];
    y0[x] = clamp_u8((m[0] * r0 + m[1] * g0 + m[2] * b0 + bias) >> kShift);
    y1[x] = clamp_u8((m[0] * r1 + m[1] * g1 + m[2] * b1 + bias) >> kShift);
    sr[x] = static_cast<uint16_t>(r0 + r1);
    sg[x] = static_cast<uint16_t>(g0 + g1);
    sb[x] = static_cast<uint16_t>(b0 + b1);
  }
}

// u, v: [n] outputs kStep bytes apart.
template <int kStep>
LP_INLINE void sums_to_chroma(const uint16_t* __restrict sr, const uint16_t* __restrict sg,
                              const uint16_t* __restrict sb, int n, const int* __restrict m,
                              uint8_t* __restrict u, uint8_t* __restrict v) {
  // Sum of the 2x2 block, so the chroma coefficients carry two extra bits of scale.
  const int cbias = (128 << (kShift + 2)) + (1 << (kShift + 1));
  for (int c = 0; c < n; ++c) {
    const int r = sr[2 * c] + sr[2 * c + 1];
    const int g = sg[2 * c] + sg[2 * c + 1];
    const int b = sb[2 * c] + sb[2 * c + 1];
    u[c * kStep] = clamp_u8((m[3] * r + m[4] * g + m[5] * b + cbias) >> (kShift + 2));
    v[c * kStep] = clamp_u8((m[6] * r + m[7] * g + m[8] * b + cbias) >> (kShift + 2));
  }
}

// One row pair of rgb_to_yuv; s: [3, w] scratch.
LP_HOT void rgb_rows_to_yuv(const uint8_t* rgb0, const uint8_t* rgb1, int w, const int* m,
                            int y_off, uint8_t* y0, uint8_t* y1, uint8_t* u, uint8_t* v, int step,
                            uint16_t* s) {
  rgb_rows_to_luma(rgb0, rgb1, w, m, y_off, y0, y1, s, s + w, s + 2 * w);
  if (step == 1) {
    sums_to_chroma<1>(s, s + w, s + 2 * w, w / 2, m, u, v);
  } else {
    sums_to_chroma<2>(s, s + w, s + 2 * w, w / 2, m, u, v);
  }
}

// Float RGB to the code values an RGB24 image would hold: x * 255 rounded half up, clamped to
// [0, 255] (NaN to 0). in: [n] floats; out: [n] bytes.
LP_INLINE void quantize(const float* __restrict in, int n, uint8_t* __restrict out) {
  for (int i = 0; i < n; ++i) {
    const float v = in[i] * 255.0f + 0.5f;
    out[i] = static_cast<uint8_t>(static_cast<int>(v > 0.0f ? (v < 255.0f ? v : 255.0f) : 0.0f));
  }
}

// rgb0/rgb1: [w, 3] two packed float rows -> q: [2, w, 3] code values.
LP_HOT void quantize_rows(const float* rgb0, const float* rgb1, int w, uint8_t* q) {
  quantize(rgb0, 3 * w, q);
  quantize(rgb1, 3 * w, q + 3 * w);
}

constexpr int64_t kGrainRows = 8;  // chroma rows per task: ~30 KB of 1080p output

}  // namespace

void yuv_to_rgb_cpu(const YuvFrame& src, const RgbImage& dst, ColorSpec spec) {
  const YuvToRgbCoeffs k = yuv_to_rgb_coeffs(spec);
  const int w = src.width;
  if (dst.dtype == DType::U8 && !dst.planar) {
    static const Rgb24Rows rows = pick_rgb24_rows();
    const YuvToRgbFixed fk = yuv_to_rgb_fixed(k);
    parallel_for(src.height / 2, kGrainRows, [&](int64_t begin, int64_t end) {
      std::vector<int16_t> terms(6 * static_cast<size_t>(w));
      for (int64_t cy = begin; cy < end; ++cy) {
        rows(row_pair(src, static_cast<int>(cy)), fk, terms.data(),
             static_cast<uint8_t*>(dst.data) + 2 * cy * w * 3);
      }
    });
    return;
  }
  const std::ptrdiff_t plane = dst.planar ? static_cast<std::ptrdiff_t>(w) * src.height : 0;
  parallel_for(src.height / 2, kGrainRows, [&](int64_t begin, int64_t end) {
    std::vector<float> ct(3 * static_cast<size_t>(w));
    for (int64_t cy = begin; cy < end; ++cy) {
      const RowPair p = row_pair(src, static_cast<int>(cy));
      const std::ptrdiff_t at = 2 * cy * w * (dst.planar ? 1 : 3);
      if (dst.dtype == DType::F32) {
        float_rows_f32(p, k, ct.data(), static_cast<float*>(dst.data) + at, plane);
      } else {  // float16, written as its bits
        float_rows_f16(p, k, ct.data(), static_cast<uint16_t*>(dst.data) + at, plane);
      }
    }
  });
}

void rgb_to_yuv_cpu(const RgbImage& src, const YuvFrame& dst, ColorSpec spec) {
  const RgbToYuvFixed c = rgb_to_yuv_fixed(rgb_to_yuv_coeffs(spec));
  const int w = dst.width;
  const std::ptrdiff_t row = static_cast<std::ptrdiff_t>(w) * 3;  // values per packed row
  const bool floats = src.dtype == DType::F32;
  const Plane& yp = dst.planes[0];
  parallel_for(dst.height / 2, kGrainRows, [&](int64_t begin, int64_t end) {
    std::vector<uint16_t> sums(3 * static_cast<size_t>(w));
    // NOTE: float rows are quantized two at a time into this L1-sized scratch, so the frame's
    // floats are read once and no uint8 copy of the whole frame is ever written.
    std::vector<uint8_t> codes(floats ? 2 * static_cast<size_t>(row) : 0);
    for (int64_t cy = begin; cy < end; ++cy) {
      uint8_t* u = dst.planes[1].data + cy * dst.planes[1].stride;
      uint8_t* v = u + 1;
      int step = 2;
      if (dst.format != PixelFormat::NV12) {
        v = dst.planes[2].data + cy * dst.planes[2].stride;
        step = 1;
      }
      uint8_t* y0 = yp.data + 2 * cy * yp.stride;
      const uint8_t* rgb0 = static_cast<const uint8_t*>(src.data) + 2 * cy * row;
      if (floats) {
        const float* f0 = static_cast<const float*>(src.data) + 2 * cy * row;
        quantize_rows(f0, f0 + row, w, codes.data());
        rgb0 = codes.data();
      }
      rgb_rows_to_yuv(rgb0, rgb0 + row, w, c.m, c.y_off, y0, y0 + yp.stride, u, v, step,
                      sums.data());
    }
  });
}

}  // namespace lpengine
