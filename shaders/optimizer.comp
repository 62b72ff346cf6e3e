#version 450
// One optimizer step over every parameter (one contiguous buffer), with
// PyTorch's update rules (torch.optim.SGD, Adam, AdamW; see
// compute/kernels/optimizer.h). The learning rate and Adam's bias corrections
// come from the step's StepParams, so a recorded step replays with any schedule.
#include "optimizer.h"
#include "step_params.h"

#define OPT_VALUE float
#define OPT_WIDTH 1u
#define OPT_TEXEL_READS 0
#include "optimizer_impl.glsl"
