// Multi-output resize on the GPU: the CPU's taps and rounding (vertical to Q6, then horizontal),
// evaluated per output pixel, so both paths agree bit for bit.
#include <cstdint>
#include <vector>

#include "cuda_check.cuh"
#include "frames/resize.h"

namespace lpengine {
namespace {

struct DeviceTaps {
  const int32_t* start;
  const int16_t* weight;
  int taps;
};

// One thread per output sample (x, y, channel) of one plane; letterbox bars are filled here too.
__global__ void resize_plane_kernel(Plane src, Plane dst, int dst_x, int dst_y, int dst_w,
                                    int dst_h, DeviceTaps tx, DeviceTaps ty, uint8_t fill0,
                                    uint8_t fill1) {
  const int ch = dst.channels;
  const int xs = blockIdx.x * blockDim.x + threadIdx.x;  // sample index in the row
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  if (xs >= dst.width * ch || y >= dst.height) return;
  const int x = xs / ch;
  const int c = xs % ch;
  uint8_t* out = dst.data + static_cast<size_t>(y) * dst.stride + xs;
  const int cx = x - dst_x;
  const int cy = y - dst_y;
  if (cx < 0 || cy < 0 || cx >= dst_w || cy >= dst_h) {
    *out = c == 0 ? fill0 : fill1;
    return;
  }
  const int sy0 = ty.start[cy];
  const int sx0 = tx.start[cx];
  const int16_t* wy = ty.weight + cy * ty.taps;
  const int16_t* wx = tx.weight + cx * tx.taps;
  int acc = 1 << 19;
  for (int i = 0; i < tx.taps; ++i) {
    const uint8_t* col = src.data + static_cast<size_t>(sy0) * src.stride + (sx0 + i) * ch + c;
    int v = 0;
    for (int j = 0; j < ty.taps; ++j) v += col[j * src.stride] * wy[j];
    acc += ((v + (1 << 7)) >> 8) * wx[i];
  }
  *out = static_cast<uint8_t>(min(max(acc >> 20, 0), 255));
}

}  // namespace

void resize_cuda(const std::vector<PlaneJob>& jobs) {
  // Every job's tap tables in one upload: [start x][weight x][start y][weight y] per job.
  std::vector<uint8_t> host;
  std::vector<size_t> offsets;
  auto append = [&](const void* p, size_t n) {
    host.resize((host.size() + 15) / 16 * 16);
    offsets.push_back(host.size());
    const auto* b = static_cast<const uint8_t*>(p);
    host.insert(host.end(), b, b + n);
  };
  for (const PlaneJob& j : jobs) {
    append(j.x.start.data(), j.x.start.size() * sizeof(int32_t));
    append(j.x.weight.data(), j.x.weight.size() * sizeof(int16_t));
    append(j.y.start.data(), j.y.start.size() * sizeof(int32_t));
    append(j.y.weight.data(), j.y.weight.size() * sizeof(int16_t));
  }
  uint8_t* dev = nullptr;
  LP_CUDA_CHECK(cudaMalloc(&dev, host.size()));
  try {
    LP_CUDA_CHECK(cudaMemcpy(dev, host.data(), host.size(), cudaMemcpyHostToDevice));
    for (size_t i = 0; i < jobs.size(); ++i) {
      const PlaneJob& j = jobs[i];
      const DeviceTaps tx{reinterpret_cast<const int32_t*>(dev + offsets[4 * i]),
                          reinterpret_cast<const int16_t*>(dev + offsets[4 * i + 1]), j.x.taps};
      const DeviceTaps ty{reinterpret_cast<const int32_t*>(dev + offsets[4 * i + 2]),
                          reinterpret_cast<const int16_t*>(dev + offsets[4 * i + 3]), j.y.taps};
      const dim3 block(64, 4);
      const dim3 grid((j.dst.width * j.dst.channels + 63) / 64, (j.dst.height + 3) / 4);
      resize_plane_kernel<<<grid, block>>>(j.src, j.dst, j.dst_x, j.dst_y, j.dst_w, j.dst_h, tx, ty,
                                           j.fill[0], j.fill[1]);
    }
    LP_CUDA_LAUNCHED();
  } catch (...) {
    cudaFree(dev);
    throw;
  }
  cudaFree(dev);
}

}  // namespace lpengine
