// Views over frames that live in host or device memory. Nothing here owns memory.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lpengine {

enum class Device { CPU, CUDA };
enum class PixelFormat { YUV420P, NV12 };
enum class DType { U8, F32, F16 };
enum class Matrix { BT601, BT709 };

// One image plane: `width` pixels of `channels` interleaved bytes per row.
struct Plane {
  uint8_t* data = nullptr;  // [height, stride] bytes
  int width = 0;
  int height = 0;
  int channels = 1;  // 1 for Y/U/V planes, 2 for NV12's interleaved UV
  std::ptrdiff_t stride = 0;
};

// A 4:2:0 frame laid out as one contiguous [height * 3 / 2, width] uint8 buffer (PyAV's layout):
// yuv420p = Y plane, U plane, V plane; nv12 = Y plane, interleaved UV plane.
struct YuvFrame {
  PixelFormat format = PixelFormat::YUV420P;
  int width = 0;
  int height = 0;
  int num_planes = 0;
  Plane planes[3];
};

inline YuvFrame yuv_frame_view(uint8_t* base, PixelFormat format, int width, int height) {
  YuvFrame f;
  f.format = format;
  f.width = width;
  f.height = height;
  const std::ptrdiff_t luma = static_cast<std::ptrdiff_t>(width) * height;
  f.planes[0] = Plane{base, width, height, 1, width};
  if (format == PixelFormat::YUV420P) {
    f.num_planes = 3;
    f.planes[1] = Plane{base + luma, width / 2, height / 2, 1, width / 2};
    f.planes[2] = Plane{base + luma + luma / 4, width / 2, height / 2, 1, width / 2};
  } else {
    f.num_planes = 2;
    f.planes[1] = Plane{base + luma, width / 2, height / 2, 2, width};
  }
  return f;
}

// Packed [height, width, 3] or planar [3, height, width] RGB of dtype `dtype`.
struct RgbImage {
  void* data = nullptr;
  int width = 0;
  int height = 0;
  DType dtype = DType::U8;
  bool planar = false;
};

// YUV <-> RGB constants for one matrix and range, shared by the CPU and CUDA paths.
struct ColorSpec {
  Matrix matrix = Matrix::BT709;
  bool full_range = false;
};

}  // namespace lpengine
