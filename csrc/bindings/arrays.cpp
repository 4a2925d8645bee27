#include "bindings/arrays.h"

#include "core/check.h"
#include "core/dispatch.h"
#include "core/host_pool.h"

namespace lpengine {

const char* dtype_name(DType d) {
  switch (d) {
    case DType::U8:
      return "uint8";
    case DType::F32:
      return "float32";
    case DType::F16:
      return "float16";
  }
  return "?";
}

DType parse_dtype(const std::string& s, const char* arg) {
  if (s == "uint8" || s == "|u1" || s == "u1" || s == "B") return DType::U8;
  if (s == "float32" || s == "<f4" || s == "f4" || s == "f") return DType::F32;
  if (s == "float16" || s == "<f2" || s == "f2" || s == "e") return DType::F16;
  arg_error(arg, "dtype uint8, float32 or float16", s);
}

namespace {

size_t itemsize(DType d) { return d == DType::U8 ? 1 : d == DType::F32 ? 4 : 2; }

ArrayArg cuda_array_arg(py::handle obj, const char* name, bool writable) {
  py::dict iface = obj.attr("__cuda_array_interface__");
  ArrayArg a;
  a.device = Device::CUDA;
  for (py::handle d : py::tuple(iface["shape"])) a.shape.push_back(d.cast<int64_t>());
  a.dtype = parse_dtype(py::str(iface["typestr"]), name);
  py::tuple data = iface["data"];
  a.data = reinterpret_cast<void*>(data[0].cast<uintptr_t>());
  LP_CHECK_ARG(!writable || !data[1].cast<bool>(), name, "a writable array", "a read-only one");
  if (iface.contains("strides") && !iface["strides"].is_none()) {
    int64_t expect = static_cast<int64_t>(itemsize(a.dtype));
    py::tuple strides = iface["strides"];
    for (int i = static_cast<int>(a.shape.size()) - 1; i >= 0; --i) {
      LP_CHECK_ARG(a.shape[i] <= 1 || strides[i].cast<int64_t>() == expect, name,
                   "a C-contiguous array", "a strided one");
      expect *= a.shape[i];
    }
  }
  return a;
}

}  // namespace

ArrayArg array_arg(py::handle obj, const char* name, bool writable) {
  if (py::hasattr(obj, "__cuda_array_interface__")) return cuda_array_arg(obj, name, writable);
  LP_CHECK_ARG(py::isinstance<py::array>(obj), name, "a numpy array or a CUDA array",
               std::string(py::str(py::type::of(obj).attr("__name__"))));
  py::array arr = py::reinterpret_borrow<py::array>(obj);
  ArrayArg a;
  const char kind = arr.dtype().kind();
  const auto size = arr.dtype().itemsize();
  if (kind == 'u' && size == 1) {
    a.dtype = DType::U8;
  } else if (kind == 'f' && size == 4) {
    a.dtype = DType::F32;
  } else if (kind == 'f' && size == 2) {
    a.dtype = DType::F16;
  } else {
    arg_error(name, "dtype uint8, float32 or float16", std::string(py::str(arr.dtype())));
  }
  LP_CHECK_ARG(arr.flags() & py::array::c_style, name, "a C-contiguous array",
               "a non-contiguous one (use numpy.ascontiguousarray)");
  LP_CHECK_ARG(!writable || arr.writeable(), name, "a writable array", "a read-only one");
  for (py::ssize_t i = 0; i < arr.ndim(); ++i) a.shape.push_back(arr.shape(i));
  a.data = writable ? arr.mutable_data() : const_cast<void*>(arr.data());
  return a;
}

py::object new_array(Device device, const std::vector<int64_t>& shape, DType dtype,
                     ArrayArg* view) {
  if (device == Device::CUDA) {
    if (!kCudaCompiled) cuda_not_compiled("new_array");
    py::object cls = py::module_::import("lpengine._core").attr("DeviceArray");
    py::object out = cls.attr("empty")(py::tuple(py::cast(shape)), dtype_name(dtype));
    *view = array_arg(out, "out", true);
    return out;
  }
  py::dtype dt = dtype == DType::U8    ? py::dtype::of<uint8_t>()
                 : dtype == DType::F32 ? py::dtype::of<float>()
                                       : py::dtype("float16");
  size_t bytes = itemsize(dtype);
  for (int64_t d : shape) bytes *= static_cast<size_t>(d);
  // The array owns a pooled buffer through a capsule that hands it back when numpy frees it.
  struct Owned {
    void* ptr;
    size_t bytes;
  };
  auto* owned = new Owned{host_acquire(bytes), bytes};
  py::capsule base(owned, [](void* p) {
    auto* o = static_cast<Owned*>(p);
    host_release(o->ptr, o->bytes);
    delete o;
  });
  py::array out(dt, std::vector<py::ssize_t>(shape.begin(), shape.end()), {}, owned->ptr, base);
  *view = array_arg(out, "out", true);
  return std::move(out);
}

}  // namespace lpengine
