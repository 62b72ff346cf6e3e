#version 450
// Backward of pool.comp as a gather: each input element sums the gradients of
// the output windows that cover it, so overlapping windows (stride < window)
// need no atomics and the result does not depend on execution order. An
// invocation handles a block of consecutive channels of one input pixel
// (grid-stride over pixel x block, as pool.comp).
//   max:     grad_in[i] = sum of grad_out[o] over covering windows o whose argmax is i
//   average: grad_in[i] = (sum of grad_out[o] over covering windows) / (window_h * window_w)
// Output row oy covers input row y when oy*stride_h - pad_top <= y < that + window_h,
// i.e. oy in [ceil((y + pad_top - window_h + 1) / stride_h), floor((y + pad_top) / stride_h)].
#include "pool_back_impl.glsl"
