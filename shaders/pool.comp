#version 450
// MaxPool2D / AvgPool2D forward over NHWC tensors. An invocation computes a
// block of consecutive channels of one output pixel (grid-stride over
// pixel x block); neighbouring invocations are neighbouring channel blocks,
// so their loads are nearby addresses.
//   max:     out = max over the window's in-bounds elements (padding is -inf,
//            so it never wins); argmax = that element's index in the input.
//            Ties and NaN follow PyTorch: the first maximum in row-major
//            window order wins, and a NaN wins over any number.
//   average: out = (sum over in-bounds elements) / (window_h * window_w):
//            padded zeros count in the divisor (PyTorch's count_include_pad=True).
// The host guarantees every window overlaps the input (padding < window).
#include "pool_impl.glsl"
