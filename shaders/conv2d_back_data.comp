#version 450
// 2D convolution, backward with respect to the input (see conv2d.comp):
//   dX[n][ih][iw][ci] = sum over kh, kw, co of dY[n][oh][ow][co] * W[kh][kw][ci][co]
//   over the taps whose output position is whole and inside the output:
//     oh = (ih + pad_top - kh) / sh,  ow = (iw + pad_left - kw) / sw.
// The gather form: each invocation sums into its own elements of dX, so the
// result is deterministic and needs no atomics or zero-fill (every element is
// written, zero where no tap reaches it).
//
// An implicit GEMM modelled on matmul.comp's register-blocked kernel: rows are
// input pixels, columns input channels, and the reduction runs over the valid
// taps and, within a tap, over output channels (four at a time: vec4 loads of
// dY along co, and of W's rows W[kh][kw][ci][co .. co + 3]).
//
// Strides: which taps reach input row ih depends on ih % sh (its phase). The
// grid's z axis is the phase class (ih % sh, iw % sw) and each workgroup's
// pixels come from one class, so every pixel an invocation handles has the
// same taps: no tap is visited only to be masked off. With stride 1 there is
// one class.
// The body is in conv2d_back_data_impl.glsl, shared with conv2d_back_data_f16.comp.
#include "conv2d_back_data_impl.glsl"
