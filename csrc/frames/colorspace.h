// YUV <-> RGB constants (ITU-R BT.601 / BT.709, limited or full range) for CPU and CUDA code.
#pragma once

#include "core/frame.h"

#ifdef __CUDACC__
#define LP_HD __host__ __device__
#else
#define LP_HD
#endif

namespace lpengine {

// R = Y' + rv Cr'; G = Y' - gu Cb' - gv Cr'; B = Y' + bu Cb', with
// Y' = (Y - y_off) * y_scale and Cb' = (U - 128) * c_scale, everything in [0, 1] units.
struct YuvToRgbCoeffs {
  float y_off, y_scale, c_scale, rv, gu, gv, bu;
};

// Y = y_off + m[0] . rgb; U = 128 + m[1] . rgb; V = 128 + m[2] . rgb, for rgb in [0, 255].
struct RgbToYuvCoeffs {
  float y_off;
  float m[3][3];
};

LP_HD inline void matrix_weights(Matrix m, double& kr, double& kb) {
  kr = m == Matrix::BT601 ? 0.299 : 0.2126;
  kb = m == Matrix::BT601 ? 0.114 : 0.0722;
}

inline YuvToRgbCoeffs yuv_to_rgb_coeffs(ColorSpec spec) {
  double kr, kb;
  matrix_weights(spec.matrix, kr, kb);
  const double kg = 1.0 - kr - kb;
  YuvToRgbCoeffs c;
  c.y_off = spec.full_range ? 0.0f : 16.0f;
  c.y_scale = static_cast<float>(spec.full_range ? 1.0 / 255.0 : 1.0 / 219.0);
  c.c_scale = static_cast<float>(spec.full_range ? 1.0 / 255.0 : 1.0 / 224.0);
  c.rv = static_cast<float>(2.0 * (1.0 - kr));
  c.bu = static_cast<float>(2.0 * (1.0 - kb));
  c.gu = static_cast<float>(2.0 * kb * (1.0 - kb) / kg);
  c.gv = static_cast<float>(2.0 * kr * (1.0 - kr) / kg);
  return c;
}

inline RgbToYuvCoeffs rgb_to_yuv_coeffs(ColorSpec spec) {
  double kr, kb;
  matrix_weights(spec.matrix, kr, kb);
  const double kg = 1.0 - kr - kb;
  const double ys = (spec.full_range ? 255.0 : 219.0) / 255.0;
  const double cs = (spec.full_range ? 255.0 : 224.0) / 255.0;
  RgbToYuvCoeffs c;
  c.y_off = spec.full_range ? 0.0f : 16.0f;
  const double rows[3][3] = {
      {kr * ys, kg * ys, kb * ys},
      {-kr / (2 * (1 - kb)) * cs, -kg / (2 * (1 - kb)) * cs, (1 - kb) / (2 * (1 - kb)) * cs},
      {(1 - kr) / (2 * (1 - kr)) * cs, -kg / (2 * (1 - kr)) * cs, -kb / (2 * (1 - kr)) * cs},
  };
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) c.m[i][j] = static_cast<float>(rows[i][j]);
  return c;
}

// Integer form of YuvToRgbCoeffs for uint8 output, Q14: R8 = ((Y - y_off) ky + rv (V - 128) + half)
// >> 14. The CPU and CUDA paths share it, so their uint8 results agree bit for bit.
struct YuvToRgbFixed {
  int y_off, ky, rv, gu, gv, bu;
};

constexpr int kFixedShift = 14;

inline int q14(double v) { return static_cast<int>(v * (1 << kFixedShift) + (v < 0 ? -0.5 : 0.5)); }

inline YuvToRgbFixed yuv_to_rgb_fixed(const YuvToRgbCoeffs& c) {
  const double s = 255.0 * c.c_scale;
  return {static_cast<int>(c.y_off),
          q14(255.0 * c.y_scale),
          q14(c.rv * s),
          q14(c.gu * s),
          q14(c.gv * s),
          q14(c.bu * s)};
}

// RgbToYuvCoeffs.m in Q14, row-major.
struct RgbToYuvFixed {
  int y_off;
  int m[9];
};

inline RgbToYuvFixed rgb_to_yuv_fixed(const RgbToYuvCoeffs& c) {
  RgbToYuvFixed f;
  f.y_off = static_cast<int>(c.y_off);
  for (int i = 0; i < 9; ++i) f.m[i] = q14(c.m[i / 3][i % 3]);
  return f;
}

}  // namespace lpengine
