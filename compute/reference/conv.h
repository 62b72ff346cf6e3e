// CPU reference for the conv2d kernels, in double precision. Same conventions
// as ts::kernels::Conv2DGeometry (compute/kernels/conv2d.h): NHWC tensors,
// filter (KH, KW, Cin, Cout), explicit pad_top / pad_left, input positions
// outside the image read as zero.
//
// Written as plain loops over the definition, and the backward forms as
// scatters (each output pixel's gradient spread over the inputs and filter
// taps it used), a different formulation from the kernels' gathers.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace ts::reference {

struct Conv2DShape {
  uint32_t batch = 0, in_height = 0, in_width = 0, in_channels = 0, out_channels = 0;
  uint32_t kernel_height = 0, kernel_width = 0;
  uint32_t stride_h = 1, stride_w = 1;
  uint32_t pad_top = 0, pad_left = 0;
  uint32_t out_height = 0, out_width = 0;
};

// Y = conv(X, W). input (N, H, W, Cin), filter (KH, KW, Cin, Cout) -> (N, OH, OW, Cout)
std::vector<double> Conv2DForward(std::span<const float> input, std::span<const float> filter,
                                  const Conv2DShape& shape);
std::vector<double> Conv2DForward(std::span<const double> input, std::span<const double> filter,
                                  const Conv2DShape& shape);

// dX for dY: grad_output (N, OH, OW, Cout), filter -> (N, H, W, Cin)
std::vector<double> Conv2DBackwardData(std::span<const float> grad_output, std::span<const float> filter,
                                       const Conv2DShape& shape);
std::vector<double> Conv2DBackwardData(std::span<const double> grad_output, std::span<const double> filter,
                                       const Conv2DShape& shape);

// dW for dY: input (N, H, W, Cin), grad_output (N, OH, OW, Cout) -> (KH, KW, Cin, Cout)
std::vector<double> Conv2DBackwardFilter(std::span<const float> input, std::span<const float> grad_output,
                                         const Conv2DShape& shape);
std::vector<double> Conv2DBackwardFilter(std::span<const double> input, std::span<const double> grad_output,
                                         const Conv2DShape& shape);

}  // namespace ts::reference
