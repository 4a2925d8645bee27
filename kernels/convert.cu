// YUV <-> RGB on the GPU. uint8 results use the CPU's Q14 arithmetic, so both agree bit for bit.
#include <cuda_fp16.h>

#include "cuda_check.cuh"
#include "frames/colorspace.h"
#include "frames/convert.h"

namespace lpengine {
namespace {

__device__ __forceinline__ unsigned char clamp_u8(int v) {
  return static_cast<unsigned char>(min(max(v, 0), 255));
}

__device__ __forceinline__ float clamp01(float v) { return fminf(fmaxf(v, 0.0f), 1.0f); }

__device__ __forceinline__ void store(float* p, float v) { *p = v; }
__device__ __forceinline__ void store(__half* p, float v) { *p = __float2half_rn(v); }

struct ChromaAt {
  const uint8_t* u;
  const uint8_t* v;
  int step;
};

__device__ __forceinline__ ChromaAt chroma_at(const YuvFrame& f, int cx, int cy) {
  const Plane& p1 = f.planes[1];
  if (f.format == PixelFormat::NV12) {
    const uint8_t* uv = p1.data + cy * p1.stride + 2 * cx;
    return {uv, uv + 1, 2};
  }
  return {p1.data + cy * p1.stride + cx, f.planes[2].data + cy * f.planes[2].stride + cx, 1};
}

// One thread per pixel. src: 4:2:0 frame; out: [H, W, 3] uint8.
__global__ void yuv_to_rgb24_kernel(YuvFrame src, uint8_t* out, YuvToRgbFixed k) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x >= src.width || y >= src.height) return;
  const ChromaAt c = chroma_at(src, x >> 1, y >> 1);
  const int cu = *c.u - 128;
  const int cv = *c.v - 128;
  const int half = 1 << (kFixedShift - 1);
  const int yy = (src.planes[0].data[y * src.planes[0].stride + x] - k.y_off) * k.ky;
  uint8_t* o = out + (static_cast<size_t>(y) * src.width + x) * 3;
  o[0] = clamp_u8((yy + k.rv * cv + half) >> kFixedShift);
  o[1] = clamp_u8((yy + half - k.gu * cu - k.gv * cv) >> kFixedShift);
  o[2] = clamp_u8((yy + k.bu * cu + half) >> kFixedShift);
}

// One thread per pixel. out: [H, W, 3] (packed) or [3, H, W] (planar) in [0, 1].
template <typename T>
__global__ void yuv_to_rgbf_kernel(YuvFrame src, T* out, YuvToRgbCoeffs k, bool planar) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x >= src.width || y >= src.height) return;
  const ChromaAt c = chroma_at(src, x >> 1, y >> 1);
  const float yy =
      (static_cast<float>(src.planes[0].data[y * src.planes[0].stride + x]) - k.y_off) * k.y_scale;
  const float cu = (static_cast<float>(*c.u) - 128.0f) * k.c_scale;
  const float cv = (static_cast<float>(*c.v) - 128.0f) * k.c_scale;
  const size_t plane = static_cast<size_t>(src.width) * src.height;
  const size_t i = static_cast<size_t>(y) * src.width + x;
  T* r = planar ? out + i : out + 3 * i;
  const size_t step = planar ? plane : 1;
  store(r, clamp01(yy + k.rv * cv));
  store(r + step, clamp01(yy - k.gu * cu - k.gv * cv));
  store(r + 2 * step, clamp01(yy + k.bu * cu));
}

// The code value an RGB24 image holds: itself, or a float in [0, 1] times 255 rounded half up,
// clamped (NaN to 0), as rgb_to_yuv_cpu rounds.
__device__ __forceinline__ int code(uint8_t v) { return v; }
__device__ __forceinline__ int code(float v) {
  const float x = __fadd_rn(__fmul_rn(v, 255.0f), 0.5f);
  return static_cast<int>(x > 0.0f ? (x < 255.0f ? x : 255.0f) : 0.0f);
}

// One thread per 2x2 block. rgb: [H, W, 3] uint8 or float32; dst: 4:2:0 frame.
template <typename T>
__global__ void rgb_to_yuv_kernel(const T* rgb, YuvFrame dst, RgbToYuvFixed k) {
  const int cx = blockIdx.x * blockDim.x + threadIdx.x;
  const int cy = blockIdx.y * blockDim.y + threadIdx.y;
  if (cx >= dst.width / 2 || cy >= dst.height / 2) return;
  const int half = 1 << (kFixedShift - 1);
  const int bias = (k.y_off << kFixedShift) + half;
  int sr = 0, sg = 0, sb = 0;
  for (int dy = 0; dy < 2; ++dy) {
    for (int dx = 0; dx < 2; ++dx) {
      const int x = 2 * cx + dx, y = 2 * cy + dy;
      const T* p = rgb + (static_cast<size_t>(y) * dst.width + x) * 3;
      const int r = code(p[0]), g = code(p[1]), b = code(p[2]);
      dst.planes[0].data[y * dst.planes[0].stride + x] =
          clamp_u8((k.m[0] * r + k.m[1] * g + k.m[2] * b + bias) >> kFixedShift);
      sr += r;
      sg += g;
      sb += b;
    }
  }
  const int cbias = (128 << (kFixedShift + 2)) + (1 << (kFixedShift + 1));
  const ChromaAt c = chroma_at(dst, cx, cy);
  *const_cast<uint8_t*>(c.u) =
      clamp_u8((k.m[3] * sr + k.m[4] * sg + k.m[5] * sb + cbias) >> (kFixedShift + 2));
  *const_cast<uint8_t*>(c.v) =
      clamp_u8((k.m[6] * sr + k.m[7] * sg + k.m[8] * sb + cbias) >> (kFixedShift + 2));
}

}  // namespace

void yuv_to_rgb_cuda(const YuvFrame& src, const RgbImage& dst, ColorSpec spec) {
  const dim3 block(32, 8);
  const dim3 grid((src.width + 31) / 32, (src.height + 7) / 8);
  const YuvToRgbCoeffs k = yuv_to_rgb_coeffs(spec);
  if (dst.dtype == DType::U8) {
    yuv_to_rgb24_kernel<<<grid, block>>>(src, static_cast<uint8_t*>(dst.data), yuv_to_rgb_fixed(k));
  } else if (dst.dtype == DType::F32) {
    yuv_to_rgbf_kernel<float><<<grid, block>>>(src, static_cast<float*>(dst.data), k, dst.planar);
  } else {
    yuv_to_rgbf_kernel<__half><<<grid, block>>>(src, static_cast<__half*>(dst.data), k, dst.planar);
  }
  LP_CUDA_LAUNCHED();
}

void rgb_to_yuv_cuda(const RgbImage& src, const YuvFrame& dst, ColorSpec spec) {
  const dim3 block(32, 8);
  const dim3 grid((dst.width / 2 + 31) / 32, (dst.height / 2 + 7) / 8);
  const RgbToYuvFixed k = rgb_to_yuv_fixed(rgb_to_yuv_coeffs(spec));
  if (src.dtype == DType::F32) {
    rgb_to_yuv_kernel<float><<<grid, block>>>(static_cast<const float*>(src.data), dst, k);
  } else {
    rgb_to_yuv_kernel<uint8_t><<<grid, block>>>(static_cast<const uint8_t*>(src.data), dst, k);
  }
  LP_CUDA_LAUNCHED();
}

}  // namespace lpengine
