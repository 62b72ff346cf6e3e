#version 450
// optimizer.comp four parameters at a time (vec4 loads and stores, which CPU
// drivers vectorise): for counts that are a multiple of 4 in 16-byte aligned
// views. One optimizer step over every parameter (one contiguous buffer), with
// PyTorch's update rules (torch.optim.SGD, Adam, AdamW; see
// compute/kernels/optimizer.h). The learning rate and Adam's bias corrections
// come from the step's StepParams, so a recorded step replays with any schedule.
#include "optimizer.h"
#include "step_params.h"

#define OPT_VALUE vec4
#define OPT_WIDTH 4u
#define OPT_TEXEL_READS 0
#include "optimizer_impl.glsl"
