#version 450
// Dynamic loss scaling, as torch.cuda.amp.GradScaler does it, on the device:
//  kMode 0 (check):  found_inf |= any gradient is Inf or NaN (the fp32
//                    parameter gradients, still multiplied by the scale).
//  kMode 1 (update): one invocation, after the optimizer (which skipped the
//                    step if found_inf, else unscaled the gradients):
//                    found_inf: scale *= backoff, growth_tracker = 0, one more
//                    skipped step; else growth_tracker + 1, and when that
//                    reaches growth_interval, scale *= growth and it restarts
//                    at 0. found_inf is cleared for the next step. The step's
//                    result slot gets the scale it used and whether it skipped.
#extension GL_KHR_shader_subgroup_vote : require
#include "mixed_precision.h"

layout(local_size_x_id = 0) in;  // workgroup size: specialization constant 0
layout(constant_id = 1) const uint kMode = 0u;

layout(std430, binding = 0) readonly buffer Gradients { float gradients[]; };  // check: (count)
layout(std430, binding = 1) coherent buffer State { LossScaleState state; };
// update: the step's result slot, floats [4] = scale used, [5] = 1 if skipped.
layout(std430, binding = 2) writeonly buffer Result { float result[]; };
layout(push_constant) uniform Push { LossScaleParams p; };

void main() {
  if (kMode == 0u) {
    bool bad = false;
    uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < p.count; i += stride) {
      // Exponent all ones: Inf or NaN (a bit test no fast-math rule can fold away).
      bad = bad || (floatBitsToUint(gradients[i]) & 0x7f800000u) == 0x7f800000u;
    }
    // One atomic per subgroup that found one, not one per element.
    if (subgroupAny(bad) && subgroupElect()) atomicOr(state.found_inf, 1u);
    return;
  }
  if (gl_GlobalInvocationID.x != 0u) return;
  float used = state.scale;
  bool skipped = state.found_inf != 0u;
  if (skipped) {
    state.scale = used * p.backoff_factor;
    state.growth_tracker = 0u;
    state.skipped_steps += 1u;
  } else {
    uint good = state.growth_tracker + 1u;
    if (good >= p.growth_interval) {
      float grown = used * p.growth_factor;
      state.scale = isinf(grown) ? used : grown;  // as GradScaler: never grow to Inf
      good = 0u;
    }
    state.growth_tracker = good;
  }
  state.found_inf = 0u;
  result[4] = used;
  result[5] = skipped ? 1.0 : 0.0;
}
