// The body of dropout.comp (fp32) and dropout_f16.comp (DROPOUT_STORED
// float16_t: fp16 storage, fp32 arithmetic); see dropout.comp.
#include "dropout.h"
#include "step_params.h"

layout(local_size_x_id = 0) in;  // workgroup size: specialization constant 0

#ifndef DROPOUT_STORED
#define DROPOUT_STORED float  // dropout_f16.comp: float16_t
#endif
layout(std430, binding = 0) readonly buffer In { DROPOUT_STORED in_[]; };     // (count)
layout(std430, binding = 1) writeonly buffer Out { DROPOUT_STORED out_[]; };  // (count)
// A runtime array, so a 4-byte placeholder is a valid binding when unused.
layout(std430, binding = 2) readonly buffer Step { StepParams step_params[]; };
layout(push_constant) uniform Push { DropoutParams p; };

void main() {
  uint step = p.step + (p.read_step_params != 0u ? step_params[0].adam_step : 0u);
  uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < p.count; i += stride) {
    float value = float(in_[i]);
    out_[i] = DROPOUT_STORED(DropoutKeeps(p.seed, step, i, p.drop_threshold) ? value * p.scale : 0.0);
  }
}
