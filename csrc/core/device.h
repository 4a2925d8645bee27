// CUDA device memory and queries. Implemented in kernels/device.cu; callers check kCudaCompiled.
#pragma once

#include <cstddef>
#include <string>

namespace lpengine {

struct DeviceInfo {
  std::string name;
  std::string uuid;
  int major = 0, minor = 0;
  size_t memory_free = 0, memory_total = 0;
};

int cuda_device_count();  // 0 when there is no driver or no device; never throws
DeviceInfo cuda_device_info(int index);
int cuda_runtime_version();
void* cuda_alloc(size_t bytes);
void cuda_free(void* ptr) noexcept;
void cuda_copy_to_device(void* dst, const void* src, size_t bytes);
void cuda_copy_to_host(void* dst, const void* src, size_t bytes);

}  // namespace lpengine
