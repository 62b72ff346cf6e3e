#version 450
// Backward of bias_act.comp, fused with the bias-gradient reduction:
//   grad_pre[r][c] = grad_out[r][c] * act'(pre[r][c])
//   grad_bias[c]   = sum over r of grad_pre[r][c]
//
// A workgroup is X columns by Y row lanes (X, Y: specialization constants 0
// and 1, Y a power of two). Lane (x, y) walks rows y, y + Y, ... of column x,
// so neighbouring invocations read neighbouring addresses, and keeps a
// compensated (Kahan) sum; the Y partial sums of each column are then added in
// shared memory. The column sums need every row in one workgroup, so with a
// bias the grid has one workgroup row; without one, the rows are also split
// across gl_NumWorkGroups.y. Column blocks are grid-strided.
#include "activation.glsl"

layout(local_size_x_id = 0, local_size_y_id = 1) in;

layout(std430, binding = 0) readonly buffer GradOut { float grad_out[]; };   // (rows, cols)
layout(std430, binding = 1) readonly buffer Pre { float pre[]; };            // (rows, cols), Z
layout(std430, binding = 2) readonly buffer Out { float out_[]; };           // (rows, cols), act(Z)
layout(std430, binding = 3) writeonly buffer GradPre { float grad_pre[]; };  // (rows, cols)
layout(std430, binding = 4) writeonly buffer GradBias { float grad_bias[]; };// (cols)
layout(push_constant) uniform Push { BiasActBackParams p; };

shared float partial_sums[gl_WorkGroupSize.x * gl_WorkGroupSize.y];

void main() {
  const uint X = gl_WorkGroupSize.x, Y = gl_WorkGroupSize.y;
  uint x = gl_LocalInvocationID.x, y = gl_LocalInvocationID.y;
  uint row_stride = Y * gl_NumWorkGroups.y;
  for (uint first_col = gl_WorkGroupID.x * X; first_col < p.cols; first_col += gl_NumWorkGroups.x * X) {
    uint c = first_col + x;
    // `precise` keeps the compiler from simplifying the compensation term away.
    precise float sum = 0.0, compensation = 0.0;
    if (c < p.cols) {
      for (uint r = gl_WorkGroupID.y * Y + y; r < p.rows; r += row_stride) {
        uint i = r * p.cols + c;
        float z = kBackwardReadsPre ? pre[i] : 0.0;
        float a = kBackwardReadsOut ? out_[i] : 0.0;
        float g = ActivationBackward(grad_out[i], z, a, p.leaky_slope);
        if (p.write_grad_pre != 0u) grad_pre[i] = g;
        precise float term = g - compensation;
        precise float next = sum + term;
        compensation = (next - sum) - term;
        sum = next;
      }
    }
    if (p.write_grad_bias != 0u) {  // uniform across the workgroup: barriers are safe
      partial_sums[y * X + x] = sum;
      barrier();
      for (uint half_ = Y / 2u; half_ > 0u; half_ /= 2u) {
        if (y < half_) partial_sums[y * X + x] += partial_sums[(y + half_) * X + x];
        barrier();
      }
      if (y == 0u && c < p.cols) grad_bias[c] = partial_sums[x];
      barrier();  // the next column block reuses partial_sums
    }
  }
}
