// batchnorm.comp / batchnorm_back.comp: batch normalisation over a (rows, C)
// row-major matrix, as PyTorch's BatchNorm1d/2d. An NHWC tensor is that matrix
// with rows = N*H*W (channels innermost); a Dense output (N, F) has rows = N.
//
// Training forward, per channel c over all rows:
//   mean = sum(x) / rows,  var = sum((x - mean)^2) / rows      (biased: used to normalise)
//   inv_std = 1 / sqrt(var + eps),  y = (x - mean) * inv_std * gamma + beta
//   running_mean = (1 - momentum) * running_mean + momentum * mean
//   running_var  = (1 - momentum) * running_var  + momentum * var * rows / (rows - 1)  (unbiased)
// and saves mean and inv_std for the backward pass. Needs rows >= 2 (PyTorch
// refuses one value per channel in training: the unbiased variance is 0/0).
// Evaluation forward: y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta.
// Backward (training statistics), with xhat = (x - mean) * inv_std:
//   grad_beta  = sum over rows of dy,  grad_gamma = sum over rows of dy * xhat
//   grad_x     = gamma * inv_std * (dy - grad_beta / rows - xhat * grad_gamma / rows)
// grad_gamma and grad_beta are overwritten, not accumulated.
//
// Workgroups are channel lanes x row lanes; compensated lane sums are added in
// shared memory. The statistics take two passes over x (accurate even when
// |mean| >> std), the output a third. In a single dispatch one workgroup row
// reduces all rows. Given a workspace, training over more than 512 rows
// splits them into BatchNormRowBlocks blocks so that channels x blocks
// workgroups share the work: a first dispatch writes each block's partial
// results to the workspace, a second combines them and writes the outputs.
// When C % 4 == 0 and every tensor is 16-byte aligned, the _vec4 shader
// variants move four channels per load.
// Mixed precision: the activations (x, y; grad_y, x, grad_x) may be fp16
// (TensorRef::half(), all of a pass alike); gamma, beta, the running and saved
// statistics, grad_gamma, grad_beta and the workspace are always fp32. fp16
// passes run the _f16 builds of the same shaders (every phase, scalar and
// vec4): fp16 loads, the same fp32 statistics and sums, one rounding to fp16
// on store; Inf and NaN in grad_y propagate.
#pragma once

#include <cstdint>
#include <vector>

#include "compute/kernels/tensor_ref.h"

namespace ts::kernels {

// Row blocks a training pass over `rows` rows splits into: ceil(rows / 512),
// at most 64; 1 means a single dispatch.
uint32_t BatchNormRowBlocks(uint32_t rows);
// Floats of workspace a training forward or backward over (rows, C) needs:
// 2 * BatchNormRowBlocks(rows) * C, or 0 when that is one block. The forward
// and backward of a layer (or of several layers) may share one workspace: the
// dispatches' barriers order its reuse.
uint64_t BatchNormWorkspaceCount(uint32_t rows, uint32_t channels);

struct BatchNormArgs {
  TensorRef x;              // (rows, C) read; fp32 or fp16
  TensorRef gamma, beta;    // (C) read
  TensorRef running_mean;   // (C) read-write in training, read in evaluation
  TensorRef running_var;    // (C) read-write in training, read in evaluation
  TensorRef saved_mean;     // (C) write, training only (empty in evaluation)
  TensorRef saved_inv_std;  // (C) write, training only (empty in evaluation)
  TensorRef y;              // (rows, C) write; must not overlap x; the precision of x
  uint32_t rows = 0, channels = 0;
  bool training = true;
  float epsilon = 1e-5f;
  float momentum = 0.1f;
  TensorRef workspace;      // (BatchNormWorkspaceCount) read-write scratch for BatchNormDispatches in
                            // training; empty: one dispatch
};
// One dispatch, or two (statistics, then normalisation) when training over
// more than 512 rows with a workspace: the efficient form for large batches.
std::vector<vk::Dispatch> BatchNormDispatches(vk::PipelineCache& pipelines, const BatchNormArgs& args);
// Always one dispatch (the workspace is not used): correct for any rows, but
// training reduces each channel block in a single workgroup, so a large
// (rows, C) runs on only ceil(C / 8) or ceil(C / 32) workgroups.
vk::Dispatch BatchNormDispatch(vk::PipelineCache& pipelines, const BatchNormArgs& args);

struct BatchNormBackwardArgs {
  TensorRef grad_y;         // (rows, C) read: dL/dy; fp32 or fp16
  TensorRef x;              // (rows, C) read: the forward's input; the precision of grad_y
  TensorRef gamma;          // (C) read
  TensorRef saved_mean;     // (C) read: from the training forward
  TensorRef saved_inv_std;  // (C) read: from the training forward
  TensorRef grad_x;         // (rows, C) write; the precision of grad_y
  TensorRef grad_gamma;     // (C) write
  TensorRef grad_beta;      // (C) write
  uint32_t rows = 0, channels = 0;
  TensorRef workspace;      // (BatchNormWorkspaceCount) read-write scratch for
                            // BatchNormBackwardDispatches; empty: one dispatch
};
// One dispatch, or two (partial sums, then gradients) over more than 512 rows
// with a workspace.
std::vector<vk::Dispatch> BatchNormBackwardDispatches(vk::PipelineCache& pipelines, const BatchNormBackwardArgs& args);
// Always one dispatch, as BatchNormDispatch.
vk::Dispatch BatchNormBackwardDispatch(vk::PipelineCache& pipelines, const BatchNormBackwardArgs& args);

}  // namespace ts::kernels
