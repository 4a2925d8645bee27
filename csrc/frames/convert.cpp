#include "frames/convert.h"

#include "core/dispatch.h"

namespace lpengine {
namespace {

void check_pair(const YuvFrame& yuv, const RgbImage& rgb) {
  LP_CHECK_ARG(yuv.width > 0 && yuv.height > 0 && yuv.width % 2 == 0 && yuv.height % 2 == 0,
               "frame", "even width and height for 4:2:0", yuv.width);
  LP_CHECK_ARG(rgb.width == yuv.width && rgb.height == yuv.height, "out",
               "the frame's size " + std::to_string(yuv.width) + "x" + std::to_string(yuv.height),
               std::to_string(rgb.width) + "x" + std::to_string(rgb.height));
}

}  // namespace

void yuv_to_rgb(const YuvFrame& src, const RgbImage& dst, ColorSpec spec, Device device) {
  check_pair(src, dst);
  LP_CHECK_ARG(!(dst.dtype == DType::U8 && dst.planar), "layout", "'hwc' for uint8 output",
               "'chw'");
  LP_DISPATCH(device, yuv_to_rgb, src, dst, spec);
}

void rgb_to_yuv(const RgbImage& src, const YuvFrame& dst, ColorSpec spec, Device device) {
  check_pair(dst, src);
  LP_CHECK_ARG((src.dtype == DType::U8 || src.dtype == DType::F32) && !src.planar, "rgb",
               "packed uint8 or float32 [H, W, 3]", "another layout");
  LP_DISPATCH(device, rgb_to_yuv, src, dst, spec);
}

}  // namespace lpengine
