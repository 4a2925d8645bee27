// Arrays crossing the binding: numpy arrays (host) or __cuda_array_interface__ objects (device).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "core/frame.h"

namespace lpengine {
namespace py = pybind11;

struct ArrayArg {
  void* data = nullptr;
  std::vector<int64_t> shape;
  DType dtype = DType::U8;
  Device device = Device::CPU;
};

// Validates obj as a C-contiguous array of one of the allowed dtypes; `writable` for outputs.
ArrayArg array_arg(py::handle obj, const char* name, bool writable);

// A new C-contiguous array on `device`: a numpy array or a DeviceArray.
py::object new_array(Device device, const std::vector<int64_t>& shape, DType dtype, ArrayArg* view);

const char* dtype_name(DType d);
DType parse_dtype(const std::string& s, const char* arg);

void register_device(py::module_& m);
void register_frames(py::module_& m);

}  // namespace lpengine
