// lpengine._core: the compiled hot paths. Each area registers itself; see register_<area>().
#include <pybind11/stl.h>

#include "bindings/arrays.h"
#include "core/device.h"
#include "core/dispatch.h"
#include "core/parallel.h"

#ifndef LPENGINE_VERSION
#define LPENGINE_VERSION "0.0.0"
#endif

namespace py = pybind11;
using namespace lpengine;

namespace {

py::list simd_levels() {
  py::list levels;
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("x86-64-v3")) levels.append("x86-64-v3");
  if (__builtin_cpu_supports("x86-64-v4")) levels.append("x86-64-v4");
#endif
  return levels;
}

py::dict compiled_features() {
  py::dict f;
  f["version"] = LPENGINE_VERSION;
  f["cpu"] = true;
  f["cuda"] = kCudaCompiled;
  py::list archs;
#ifdef LPENGINE_CUDA_ARCHS
  std::string all = LPENGINE_CUDA_ARCHS;
  size_t pos = 0;
  while (pos <= all.size()) {
    const size_t next = all.find(',', pos);
    const std::string a =
        all.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
    if (!a.empty()) archs.append(a);
    if (next == std::string::npos) break;
    pos = next + 1;
  }
  f["cuda_runtime"] = cuda_runtime_version();
#else
  f["cuda_runtime"] = 0;
#endif
  f["cuda_archs"] = archs;
  f["cpu_simd"] = simd_levels();
  f["threads"] = num_threads();
  return f;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "lpengine native core: frame ops on CPU and CUDA";
  m.def("compiled_features", &compiled_features,
        "What this build contains: cpu, cuda, cuda_archs, cuda_runtime, cpu_simd, threads.");
  m.def("num_threads", &num_threads, "Threads the native CPU ops use.");
  m.def("set_num_threads", &set_num_threads, py::arg("n"),
        "Threads for native CPU ops; 0 restores the default.");
  register_device(m);
  register_frames(m);
}
