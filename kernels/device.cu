#include <cstdio>

#include "core/device.h"
#include "cuda_check.cuh"

namespace lpengine {

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
}

DeviceInfo cuda_device_info(int index) {
  cudaDeviceProp prop;
  LP_CUDA_CHECK(cudaGetDeviceProperties(&prop, index));
  DeviceInfo info;
  info.name = prop.name;
  info.major = prop.major;
  info.minor = prop.minor;
  char uuid[64];
  const auto* b = reinterpret_cast<const unsigned char*>(prop.uuid.bytes);
  std::snprintf(uuid, sizeof(uuid),
                "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
                b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
                b[14], b[15]);
  info.uuid = uuid;
  int current = 0;
  LP_CUDA_CHECK(cudaGetDevice(&current));
  LP_CUDA_CHECK(cudaSetDevice(index));
  const cudaError_t err = cudaMemGetInfo(&info.memory_free, &info.memory_total);
  LP_CUDA_CHECK(cudaSetDevice(current));
  LP_CUDA_CHECK(err);
  return info;
}

int cuda_runtime_version() {
  int v = 0;
  cudaRuntimeGetVersion(&v);
  return v;
}

void* cuda_alloc(size_t bytes) {
  void* p = nullptr;
  LP_CUDA_CHECK(cudaMalloc(&p, bytes));
  return p;
}

void cuda_free(void* ptr) noexcept { cudaFree(ptr); }

void cuda_copy_to_device(void* dst, const void* src, size_t bytes) {
  LP_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
}

void cuda_copy_to_host(void* dst, const void* src, size_t bytes) {
  LP_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
}

}  // namespace lpengine
