#version 450
// 2D convolution, backward with respect to the filter (see conv2d.comp):
//   dW[kh][kw][ci][co] = sum over n, oh, ow of
//       X[n][oh*sh - pad_top + kh][ow*sw - pad_left + kw][ci] * dY[n][oh][ow][co]
// i.e. dW = im2col(X)^T * dY, a (KH*KW*Cin, Cout) matrix reduced over the
// P = N*OH*OW output pixels. dW is overwritten (no accumulate form).
//
// An implicit GEMM modelled on matmul.comp's register-blocked kernel with A
// transposed: rows are filter rows k = (kh, kw, ci), columns output channels,
// and the reduction walks the output pixels four at a time. im2col(X) is
// gathered from X on the fly: four consecutive filter rows of one tap are four
// consecutive input channels, one vec4 load when Cin % 4 == 0.
//
// Every invocation walks all P pixels in the same order, so the pixel's
// coordinates are advanced by a cursor (compares and adds) instead of being
// divided out per step: an integer division costs lavapipe more than the
// fused multiply-adds it feeds.
// The body is in conv2d_back_filter_impl.glsl, shared with conv2d_back_filter_f16.comp.
#include "conv2d_back_filter_impl.glsl"
