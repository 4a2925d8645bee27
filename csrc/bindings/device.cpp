// DeviceArray: CUDA memory owned by lpengine, exposed through __cuda_array_interface__ so torch
// and cupy can wrap it without a copy. Registered only in CUDA builds.
#include "core/device.h"

#include <pybind11/stl.h>

#include <memory>
#include <numeric>

#include "bindings/arrays.h"
#include "core/check.h"
#include "core/dispatch.h"

namespace lpengine {
namespace {

class DeviceArray {
 public:
  DeviceArray(std::vector<int64_t> shape, DType dtype) : shape_(std::move(shape)), dtype_(dtype) {
    for (int64_t d : shape_) LP_CHECK_ARG(d >= 0, "shape", "non-negative sizes", d);
    const size_t n = nbytes();
    ptr_ = std::shared_ptr<void>(cuda_alloc(n == 0 ? 1 : n), cuda_free);
  }

  size_t nbytes() const {
    const size_t item = dtype_ == DType::U8 ? 1 : dtype_ == DType::F32 ? 4 : 2;
    return std::accumulate(shape_.begin(), shape_.end(), item,
                           [](size_t a, int64_t b) { return a * static_cast<size_t>(b); });
  }

  static DeviceArray from_host(const py::array& host) {
    const ArrayArg a = array_arg(host, "array", false);
    DeviceArray d(a.shape, a.dtype);
    cuda_copy_to_device(d.ptr_.get(), a.data, d.nbytes());
    return d;
  }

  py::array to_host() const {
    ArrayArg view;
    py::object out = new_array(Device::CPU, shape_, dtype_, &view);
    {
      py::gil_scoped_release release;
      cuda_copy_to_host(view.data, ptr_.get(), nbytes());
    }
    return out;
  }

  py::dict interface() const {
    py::dict d;
    d["shape"] = py::tuple(py::cast(shape_));
    d["typestr"] = dtype_ == DType::U8 ? "|u1" : dtype_ == DType::F32 ? "<f4" : "<f2";
    d["data"] = py::make_tuple(reinterpret_cast<uintptr_t>(ptr_.get()), false);
    d["strides"] = py::none();
    d["version"] = 3;
    return d;
  }

  std::vector<int64_t> shape_;
  DType dtype_;
  std::shared_ptr<void> ptr_;
};

}  // namespace

void register_device(py::module_& m) {
  m.def(
      "cuda_device_count", [] { return kCudaCompiled ? cuda_device_count() : 0; },
      "CUDA devices this process can use (0 without a driver or a CUDA build).");
  if (!kCudaCompiled) return;
  m.def("cuda_device_info", [](int index) {
    LP_CHECK_ARG(index >= 0 && index < cuda_device_count(), "index", "a CUDA device index", index);
    const DeviceInfo i = cuda_device_info(index);
    py::dict d;
    d["name"] = i.name;
    d["uuid"] = i.uuid;
    d["major"] = i.major;
    d["minor"] = i.minor;
    d["memory_free"] = i.memory_free;
    d["memory_total"] = i.memory_total;
    return d;
  });
  py::class_<DeviceArray>(m, "DeviceArray", "A C-contiguous array in CUDA device memory.")
      .def_static(
          "empty",
          [](const std::vector<int64_t>& shape, const std::string& dtype) {
            return DeviceArray(shape, parse_dtype(dtype, "dtype"));
          },
          py::arg("shape"), py::arg("dtype") = "uint8")
      .def_static("from_host", &DeviceArray::from_host, py::arg("array"))
      .def("to_host", &DeviceArray::to_host)
      .def_property_readonly("shape",
                             [](const DeviceArray& d) { return py::tuple(py::cast(d.shape_)); })
      .def_property_readonly("dtype", [](const DeviceArray& d) { return dtype_name(d.dtype_); })
      .def_property_readonly("nbytes", &DeviceArray::nbytes)
      .def_property_readonly("__cuda_array_interface__", &DeviceArray::interface);
}

}  // namespace lpengine
