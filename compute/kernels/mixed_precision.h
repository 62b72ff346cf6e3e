// Mixed precision (fp16 storage, fp32 arithmetic and master weights):
// cast.comp converts tensors between fp32 and fp16; loss_scale.comp is the
// dynamic loss scaler, torch.cuda.amp.GradScaler's rule on the device.
//
// A mixed-precision step (see nn::Plan, PlanOptions::precision):
//   forward and backward over fp16 activations and gradients, with the loss
//   gradient multiplied by the scale (loss_f16.comp); the parameter gradients
//   are fp32;
//   LossScaleCheckDispatch: found_inf if any gradient is Inf or NaN;
//   the optimizer (OptimizerArgs::loss_scale) skips the step if so, else
//   unscales the gradients, updates the fp32 master weights and writes the
//   fp16 copy of the weights that the next forward reads;
//   LossScaleUpdateDispatch: halve the scale after a skipped step, double it
//   after growth_interval good ones in a row.
#pragma once

#include <string>

#include "compute/kernels/tensor_ref.h"
#include "compute/vk/device_info.h"
#include "shaders/mixed_precision.h"

namespace ts::kernels {

// dst = src converted: fp32 -> fp16 (rounded to nearest even; beyond 65504
// becomes Inf) or fp16 -> fp32, by the views' element_bytes (one of each).
// Cost: reads and writes count elements, no FLOPs.
vk::Dispatch CastDispatch(vk::PipelineCache& pipelines, TensorRef src, TensorRef dst, uint64_t count);

// torch.cuda.amp.GradScaler's defaults.
struct LossScaleOptions {
  float init_scale = 65536.0f;
  float growth_factor = 2.0f;
  float backoff_factor = 0.5f;
  uint32_t growth_interval = 2000;
};
// The state a scaler starts from.
gpu::LossScaleState InitialLossScaleState(const LossScaleOptions& options);

// found_inf |= any of the `count` fp32 `gradients` is Inf or NaN. `state` is
// one LossScaleState.
vk::Dispatch LossScaleCheckDispatch(vk::PipelineCache& pipelines, TensorRef gradients, TensorRef state, uint64_t count);
// The scale's update after the optimizer ran (see the top of this file);
// writes the scale the step used and whether it was skipped into floats 4 and
// 5 of `result` (a step's result slot, at least 6 floats).
vk::Dispatch LossScaleUpdateDispatch(vk::PipelineCache& pipelines, TensorRef state, TensorRef result,
                                     const LossScaleOptions& options);

// "" when `device` can run the fp16 kernels; else why not, in words.
std::string Fp16Unavailable(const vk::DeviceInfo& device);

}  // namespace ts::kernels
