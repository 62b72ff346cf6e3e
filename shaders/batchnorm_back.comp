#version 450
// BatchNorm backward (training statistics) over a (rows, C) row-major matrix,
// with xhat = (x - mean) * inv_std from the forward's saved mean and inv_std:
//   grad_beta[c]  = sum over rows of grad_out
//   grad_gamma[c] = sum over rows of grad_out * xhat
//   grad_x        = gamma * inv_std * (grad_out - grad_beta / rows - xhat * grad_gamma / rows)
// (the mean and variance depend on every x, hence the two correction terms).
//
// Workgroup layout as batchnorm.comp. Phases (specialization constant 2):
//   FUSED:  one workgroup row sums all rows of its channels, then writes grad_x.
//   SUMS:   workgroup (channels, b) writes row block b's two sums to the workspace;
//   APPLY:  workgroup (channels, b) adds every block's sums, writes grad_x of
//           block b, and block 0 writes grad_gamma and grad_beta.
// The body is shared with batchnorm_back_vec4.comp.
#define BN_VALUE float
#define BN_WIDTH 1u
#include "batchnorm_back_impl.glsl"
