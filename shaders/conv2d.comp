#version 450
// 2D convolution, forward: Y = im2col(X) * W, without bias (bias_act.comp adds
// it, since Y as a (N*OH*OW, Cout) matrix is exactly a dense layer's output).
//   X (N, H, W, Cin), W (KH, KW, Cin, Cout), Y (N, OH, OW, Cout); NHWC.
//   Y[n][oh][ow][co] = sum over kh, kw, ci of
//       X[n][oh*sh - pad_top + kh][ow*sw - pad_left + kw][ci] * W[kh][kw][ci][co]
//   where input positions outside the image read as zero.
//
// Seen as a matrix product, row m = (n, oh, ow) of Y is an output pixel and
// column k = (kh, kw, ci) of im2col(X) an input tap; W is (KH*KW*Cin, Cout).
// Two variants, chosen by kVariant (see compute/kernels/conv2d.h):
//  - implicit GEMM: matmul.comp's register-blocked kernel, with the rows of
//    im2col(X) gathered from X on the fly (no im2col buffer). Each invocation
//    computes RM pixels x RN channels; four channels of a tap are one vec4 load
//    when Cin % 4 == 0; loads of X are shared through subgroup shuffles.
//  - direct: each invocation computes RM consecutive pixels of an output row
//    x RN channels, one input channel at a time, four taps at a time from one
//    window of inputs along the row. For inputs with few channels (1 to 3),
//    where a tap holds too little work for the GEMM's gather.
// Neither uses shared memory: on lavapipe it does not pay (see the notes).
// The body is in conv2d_impl.glsl, shared with conv2d_f16.comp.
#include "conv2d_impl.glsl"
