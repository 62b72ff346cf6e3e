#version 450
// Bias add fused with an activation, over a (rows x cols) row-major matrix:
//   pre[r][c] += bias[c]        (in place, when there is a bias)
//   out[r][c]  = act(pre[r][c]) (when there is an out tensor)
// One invocation per element, grid-stride so any workgroup count covers any size.
#include "activation.glsl"

layout(local_size_x_id = 0) in;  // workgroup size: specialization constant 0

layout(std430, binding = 0) buffer Pre { float pre[]; };             // (rows, cols)
layout(std430, binding = 1) readonly buffer Bias { float bias[]; };  // (cols)
layout(std430, binding = 2) writeonly buffer Out { float out_[]; };  // (rows, cols)
layout(push_constant) uniform Push { BiasActParams p; };

void main() {
  uint count = p.rows * p.cols;
  uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < count; i += stride) {
    float z = pre[i];
    if (p.has_bias != 0u) {
      z += bias[i % p.cols];
      pre[i] = z;
    }
    if (p.write_out != 0u) out_[i] = Activate(z, p.leaky_slope);
  }
}
