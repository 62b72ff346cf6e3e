// Push constants of conv2d.comp, conv2d_back_data.comp and
// conv2d_back_filter.comp (shared by GLSL and C++).
//
// Tensors are NHWC, channels innermost: input (N, H, W, Cin), output
// (N, OH, OW, Cout); the filter is (KH, KW, Cin, Cout), i.e. a
// (KH*KW*Cin, Cout) matrix. Padding is explicit (pad_top, pad_left); padding
// on the bottom and right is whatever the output size implies, and every
// input position outside the image reads as zero.
#ifndef TENSORSCOPE_SHADERS_CONV2D_H
#define TENSORSCOPE_SHADERS_CONV2D_H
#include "shared_types.h"
TS_SHADER_NAMESPACE_BEGIN

struct Conv2DParams {
  uint batch;         // N
  uint in_height;     // H
  uint in_width;      // W
  uint in_channels;   // Cin
  uint out_channels;  // Cout
  uint kernel_height; // KH
  uint kernel_width;  // KW
  uint stride_h;
  uint stride_w;
  uint pad_top;       // input rows of zeros above the image
  uint pad_left;      // input columns of zeros left of the image
  uint out_height;    // OH
  uint out_width;     // OW
};
TS_CHECK_PUSH_LAYOUT(Conv2DParams, 13)

TS_SHADER_NAMESPACE_END
#endif
