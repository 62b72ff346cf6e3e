#version 450
// The second half of the bias gradient when bias_act_back{,_vec4}.comp split
// the rows into blocks:
//   grad_bias[c] = sum over b of partials[b][c]    (b = 0, 1, ... in order)
// One invocation per column (grid-strided), a compensated sum, so the result
// does not depend on scheduling. Workgroup size: specialization constant 0.
#include "bias_act.h"

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer Partials { float partials[]; };   // (blocks, cols)
layout(std430, binding = 1) writeonly buffer GradBias { float grad_bias[]; }; // (cols)
layout(push_constant) uniform Push { BiasActCombineParams p; };

void main() {
  for (uint c = gl_GlobalInvocationID.x; c < p.cols; c += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
    precise float sum = 0.0, compensation = 0.0;
    for (uint b = 0u, i = c; b < p.blocks; ++b, i += p.cols) {
      precise float term = partials[i] - compensation;
      precise float next = sum + term;
      compensation = (next - sum) - term;
      sum = next;
    }
    grad_bias[c] = sum;
  }
}
