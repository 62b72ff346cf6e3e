// Convolution shapes as the conv2d tests describe them (test_conv.cpp,
// test_conv2d_f16.cpp): a Case, its resolved geometry, the reference's shape
// and a label for failure messages.
#pragma once

#include <cstdint>
#include <string>

#include "compute/kernels/conv2d.h"
#include "compute/reference/conv.h"

namespace ts::testing {

// A convolution as a user would describe it.
struct ConvCase {
  uint32_t batch, height, width, in_channels, out_channels, kernel_h, kernel_w, stride_h, stride_w;
  kernels::Conv2DPadding padding = kernels::Conv2DPadding::kValid;
  uint32_t pad_h = 0, pad_w = 0;  // kExplicit only
};

inline kernels::Conv2DGeometry GeometryOf(const ConvCase& c) {
  kernels::Conv2DGeometry g;
  g.batch = c.batch, g.in_height = c.height, g.in_width = c.width;
  g.in_channels = c.in_channels, g.out_channels = c.out_channels;
  g.kernel_height = c.kernel_h, g.kernel_width = c.kernel_w, g.stride_h = c.stride_h, g.stride_w = c.stride_w;
  return kernels::ResolveConv2DPadding(g, c.padding, c.pad_h, c.pad_w);
}

inline reference::Conv2DShape ReferenceShape(const kernels::Conv2DGeometry& g) {
  return {g.batch,    g.in_height, g.in_width, g.in_channels, g.out_channels, g.kernel_height, g.kernel_width,
          g.stride_h, g.stride_w,  g.pad_top,  g.pad_left,    g.out_height,   g.out_width};
}

inline std::string Describe(const kernels::Conv2DGeometry& g) {
  return kernels::Conv2DDescription(g) + " pad " + std::to_string(g.pad_top) + "," + std::to_string(g.pad_left);
}

}  // namespace ts::testing
