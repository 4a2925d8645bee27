// pybind11 glue for the frame ops: argument parsing with the GIL, compute without it.
#include <pybind11/stl.h>

#include <optional>
#include <sstream>
#include <utility>

#include "bindings/arrays.h"
#include "core/check.h"
#include "frames/convert.h"
#include "frames/resize.h"

namespace lpengine {
namespace {

constexpr int64_t kMaxSide = 32768;

std::string shape_str(const std::vector<int64_t>& shape) {
  std::ostringstream s;
  s << "shape (";
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  s << (shape.size() == 1 ? ",)" : ")");
  return s.str();
}

PixelFormat parse_format(const std::string& s) {
  if (s == "yuv420p") return PixelFormat::YUV420P;
  if (s == "nv12") return PixelFormat::NV12;
  arg_error("pixel_format", "'yuv420p' or 'nv12'", "'" + s + "'");
}

ColorSpec parse_color(const std::string& matrix, bool full_range) {
  ColorSpec c;
  c.full_range = full_range;
  if (matrix == "bt601") {
    c.matrix = Matrix::BT601;
  } else if (matrix == "bt709") {
    c.matrix = Matrix::BT709;
  } else {
    arg_error("matrix", "'bt601' or 'bt709'", "'" + matrix + "'");
  }
  return c;
}

ResizeMode parse_mode(const std::string& s) {
  if (s == "stretch") return ResizeMode::Stretch;
  if (s == "cover") return ResizeMode::Cover;
  if (s == "fit") return ResizeMode::Fit;
  arg_error("mode", "'stretch', 'cover' or 'fit'", "'" + s + "'");
}

// frame: [height * 3 / 2, width] uint8.
YuvFrame frame_arg(const ArrayArg& a, PixelFormat fmt, const char* name) {
  LP_CHECK_ARG(a.dtype == DType::U8, name, "dtype uint8", dtype_name(a.dtype));
  LP_CHECK_ARG(a.shape.size() == 2, name, "a 2-D [height * 3 / 2, width] array",
               shape_str(a.shape));
  const int64_t rows = a.shape[0];
  const int64_t w = a.shape[1];
  LP_CHECK_ARG(rows > 0 && rows % 3 == 0 && (rows * 2 / 3) % 2 == 0 && w > 0 && w % 2 == 0, name,
               "shape [height * 3 / 2, width] with even width and height (4:2:0)",
               shape_str(a.shape));
  LP_CHECK_ARG(w <= kMaxSide && rows * 2 / 3 <= kMaxSide, name,
               "width and height of at most " + std::to_string(kMaxSide), shape_str(a.shape));
  return yuv_frame_view(static_cast<uint8_t*>(a.data), fmt, static_cast<int>(w),
                        static_cast<int>(rows * 2 / 3));
}

std::pair<int, int> size_arg(py::handle item, const char* name) {
  std::pair<int64_t, int64_t> wh;
  try {
    wh = item.cast<std::pair<int64_t, int64_t>>();
  } catch (const py::cast_error&) {
    arg_error(name, "(width, height) pairs of ints", std::string(py::repr(item)));
  }
  LP_CHECK_ARG(wh.first > 0 && wh.second > 0 && wh.first % 2 == 0 && wh.second % 2 == 0 &&
                   wh.first <= kMaxSide && wh.second <= kMaxSide,
               name, "positive even width and height up to " + std::to_string(kMaxSide),
               std::to_string(wh.first) + "x" + std::to_string(wh.second));
  return {static_cast<int>(wh.first), static_cast<int>(wh.second)};
}

void check_same_device(const ArrayArg& a, const ArrayArg& b) {
  LP_CHECK_ARG(a.device == b.device, "out", "memory on the same device as the input",
               b.device == Device::CUDA ? "device memory" : "host memory");
}

py::object yuv_to_rgb_py(py::handle frame, const std::string& pixel_format,
                         const std::string& matrix, bool full_range, const std::string& dtype,
                         const std::string& layout, std::optional<py::handle> size,
                         const std::string& mode, std::optional<py::handle> out) {
  const PixelFormat fmt = parse_format(pixel_format);
  const ColorSpec spec = parse_color(matrix, full_range);
  const DType dt = parse_dtype(dtype, "dtype");
  LP_CHECK_ARG(layout == "hwc" || layout == "chw", "layout", "'hwc' or 'chw'", "'" + layout + "'");
  const bool planar = layout == "chw";
  const ResizeMode rmode = parse_mode(mode);
  const ArrayArg in = array_arg(frame, "frame", false);
  YuvFrame src = frame_arg(in, fmt, "frame");
  int w = src.width, h = src.height;
  if (size.has_value() && !size->is_none()) std::tie(w, h) = size_arg(*size, "size");
  const std::vector<int64_t> shape =
      planar ? std::vector<int64_t>{3, h, w} : std::vector<int64_t>{h, w, 3};
  py::object result;
  ArrayArg dst;
  if (out.has_value() && !out->is_none()) {
    dst = array_arg(*out, "out", true);
    check_same_device(in, dst);
    LP_CHECK_ARG(dst.shape == shape && dst.dtype == dt, "out",
                 shape_str(shape) + " " + dtype_name(dt),
                 shape_str(dst.shape) + " " + dtype_name(dst.dtype));
    result = py::reinterpret_borrow<py::object>(*out);
  } else {
    result = new_array(in.device, shape, dt, &dst);
  }
  // Resizing first (in YUV, a quarter of the bytes of RGB) when a size was asked for.
  py::object scaled;
  if (w != src.width || h != src.height) {
    ArrayArg tmp;
    scaled = new_array(in.device, {h * 3 / 2, w}, DType::U8, &tmp);
    const YuvFrame small = yuv_frame_view(static_cast<uint8_t*>(tmp.data), fmt, w, h);
    py::gil_scoped_release release;
    resize(src, {small}, rmode, full_range, in.device);
    src = small;
  }
  RgbImage rgb{dst.data, w, h, dt, planar};
  {
    py::gil_scoped_release release;
    yuv_to_rgb(src, rgb, spec, in.device);
  }
  return result;
}

py::object rgb_to_yuv_py(py::handle rgb, const std::string& pixel_format, const std::string& matrix,
                         bool full_range, std::optional<py::handle> out) {
  const PixelFormat fmt = parse_format(pixel_format);
  const ColorSpec spec = parse_color(matrix, full_range);
  const ArrayArg in = array_arg(rgb, "rgb", false);
  LP_CHECK_ARG(in.dtype == DType::U8 || in.dtype == DType::F32, "rgb", "dtype uint8 or float32",
               dtype_name(in.dtype));
  LP_CHECK_ARG(in.shape.size() == 3 && in.shape[2] == 3 && in.shape[0] > 0 && in.shape[1] > 0 &&
                   in.shape[0] % 2 == 0 && in.shape[1] % 2 == 0 && in.shape[0] <= kMaxSide &&
                   in.shape[1] <= kMaxSide,
               "rgb", "shape [height, width, 3] with even width and height", shape_str(in.shape));
  const int h = static_cast<int>(in.shape[0]);
  const int w = static_cast<int>(in.shape[1]);
  const std::vector<int64_t> shape{h * 3 / 2, w};
  ArrayArg dst;
  py::object result;
  if (out.has_value() && !out->is_none()) {
    dst = array_arg(*out, "out", true);
    check_same_device(in, dst);
    LP_CHECK_ARG(dst.shape == shape && dst.dtype == DType::U8, "out", shape_str(shape) + " uint8",
                 shape_str(dst.shape) + " " + dtype_name(dst.dtype));
    result = py::reinterpret_borrow<py::object>(*out);
  } else {
    result = new_array(in.device, shape, DType::U8, &dst);
  }
  const RgbImage src{in.data, w, h, in.dtype, false};
  const YuvFrame yuv = yuv_frame_view(static_cast<uint8_t*>(dst.data), fmt, w, h);
  py::gil_scoped_release release;
  rgb_to_yuv(src, yuv, spec, in.device);
  return result;
}

py::list resize_py(py::handle frame, py::sequence sizes, const std::string& pixel_format,
                   const std::string& mode, bool full_range, std::optional<py::sequence> outs) {
  const PixelFormat fmt = parse_format(pixel_format);
  const ResizeMode rmode = parse_mode(mode);
  const ArrayArg in = array_arg(frame, "frame", false);
  const YuvFrame src = frame_arg(in, fmt, "frame");
  const auto n = py::len(sizes);
  LP_CHECK_ARG(n >= 1 && n <= 16, "sizes", "1 to 16 (width, height) pairs", n);
  LP_CHECK_ARG(!outs.has_value() || py::len(*outs) == n, "outs", "one array per size",
               outs.has_value() ? py::len(*outs) : 0);
  py::list result;
  std::vector<YuvFrame> dsts;
  for (size_t i = 0; i < n; ++i) {
    const py::object item = sizes[i];
    const auto [w, h] = size_arg(item, "sizes");
    const std::vector<int64_t> shape{h * 3 / 2, w};
    ArrayArg dst;
    if (outs.has_value()) {
      py::object o = (*outs)[i];
      dst = array_arg(o, "outs", true);
      check_same_device(in, dst);
      LP_CHECK_ARG(dst.shape == shape && dst.dtype == DType::U8, "outs",
                   shape_str(shape) + " uint8", shape_str(dst.shape) + " " + dtype_name(dst.dtype));
      result.append(o);
    } else {
      result.append(new_array(in.device, shape, DType::U8, &dst));
    }
    dsts.push_back(yuv_frame_view(static_cast<uint8_t*>(dst.data), fmt, w, h));
  }
  py::gil_scoped_release release;
  resize(src, dsts, rmode, full_range, in.device);
  return result;
}

}  // namespace

void register_frames(py::module_& m) {
  m.def("yuv_to_rgb", &yuv_to_rgb_py, py::arg("frame"), py::kw_only(),
        py::arg("pixel_format") = "yuv420p", py::arg("matrix") = "bt709",
        py::arg("full_range") = false, py::arg("dtype") = "uint8", py::arg("layout") = "hwc",
        py::arg("size") = py::none(), py::arg("mode") = "stretch", py::arg("out") = py::none(),
        "4:2:0 frame [H * 3 / 2, W] uint8 -> RGB [H, W, 3] (hwc) or [3, H, W] (chw), optionally "
        "resized to size=(w, h) first.");
  m.def("rgb_to_yuv", &rgb_to_yuv_py, py::arg("rgb"), py::kw_only(),
        py::arg("pixel_format") = "yuv420p", py::arg("matrix") = "bt709",
        py::arg("full_range") = false, py::arg("out") = py::none(),
        "Packed RGB [H, W, 3] uint8, or float32 in [0, 1] (rounded to uint8 first) -> 4:2:0 "
        "frame [H * 3 / 2, W] uint8.");
  m.def("resize", &resize_py, py::arg("frame"), py::arg("sizes"), py::kw_only(),
        py::arg("pixel_format") = "yuv420p", py::arg("mode") = "stretch",
        py::arg("full_range") = false, py::arg("outs") = py::none(),
        "One 4:2:0 frame to up to 16 sizes [(w, h), ...] in one call; returns the frames.");
}

}  // namespace lpengine
