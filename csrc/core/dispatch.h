// Device dispatch: the one place that knows whether CUDA kernels were compiled in.
#pragma once

#include "core/check.h"
#include "core/frame.h"

namespace lpengine {

#ifdef LPENGINE_WITH_CUDA
constexpr bool kCudaCompiled = true;
#define LP_DISPATCH(device, name, ...) \
  ((device) == ::lpengine::Device::CUDA ? name##_cuda(__VA_ARGS__) : name##_cpu(__VA_ARGS__))
#else
constexpr bool kCudaCompiled = false;
#define LP_DISPATCH(device, name, ...)                                         \
  ((device) == ::lpengine::Device::CUDA ? ::lpengine::cuda_not_compiled(#name) \
                                        : name##_cpu(__VA_ARGS__))
#endif

[[noreturn]] inline void cuda_not_compiled(const char* op) {
  throw ArgError(std::string(op) +
                 ": got device memory, but lpengine._core was built without CUDA");
}

// Hot CPU loops get one clone per x86-64 level, picked at load time, so a portable wheel
// still runs AVX2/AVX-512 code where the CPU has it.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__CUDACC__)
#define LP_HOT __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LP_HOT
#endif

}  // namespace lpengine
