#version 450
// The second half of LayerNorm's parameter gradients when
// layernorm_back_params.comp split the rows into blocks:
//   grad_gamma[c] = sum over b of partials[0][b][c]
//   grad_beta[c]  = sum over b of partials[1][b][c]      (b = 0, 1, ... in order)
// One invocation per column (grid-strided), compensated sums, so the result
// does not depend on scheduling. Workgroup size: specialization constant 0.
#include "layernorm.h"

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer Workspace { float partials[]; };   // (2, blocks, cols)
layout(std430, binding = 1) writeonly buffer GradGamma { float grad_gamma[]; };// (cols)
layout(std430, binding = 2) writeonly buffer GradBeta { float grad_beta[]; };  // (cols)
layout(push_constant) uniform Push { LayerNormCombineParams p; };

void main() {
  const uint beta_offset = p.blocks * p.cols;
  for (uint c = gl_GlobalInvocationID.x; c < p.cols; c += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
    precise vec2 sum = vec2(0.0), compensation = vec2(0.0);
    for (uint b = 0u, i = c; b < p.blocks; ++b, i += p.cols) {
      precise vec2 term = vec2(partials[i], partials[beta_offset + i]) - compensation;
      precise vec2 next = sum + term;
      compensation = (next - sum) - term;
      sum = next;
    }
    grad_gamma[c] = sum.x;
    grad_beta[c] = sum.y;
  }
}
