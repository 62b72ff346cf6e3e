#version 450
// LayerNorm backward, the parameter gradients (see compute/kernels/layernorm.h):
//   grad_gamma[c] = sum_r dy[r][c] * xhat[r][c],   grad_beta[c] = sum_r dy[r][c]
// A workgroup is X column lanes by Y row lanes (specialization constants 0
// and 1, Y a power of two); workgroup (i, b) takes columns i*X .. i*X+X-1
// (grid-strided when the grid is narrower than the row) of row block b, rows
// [b * rows_per_block, (b + 1) * rows_per_block). Lane (x, y) walks rows
// y, y + Y, ... of the block with compensated sums (neighbouring lanes read
// neighbouring columns); the Y lane sums of a column are added in a fixed
// shared-memory tree. With one block the sums are the gradients; with several
// (split) each block writes its partial sums to the workspace and
// layernorm_back_combine.comp adds them. Every sum has a fixed order, so the
// result is deterministic.
#include "layernorm.h"

layout(local_size_x_id = 0, local_size_y_id = 1) in;

layout(std430, binding = 0) readonly buffer GradY { float grad_y[]; };         // (rows, cols)
layout(std430, binding = 1) readonly buffer X { float x_[]; };                 // (rows, cols)
layout(std430, binding = 2) readonly buffer Mean { float mean_[]; };           // (rows)
layout(std430, binding = 3) readonly buffer Rstd { float rstd_[]; };           // (rows)
layout(std430, binding = 4) writeonly buffer GradGamma { float grad_gamma[]; };// (cols), unless split
layout(std430, binding = 5) writeonly buffer GradBeta { float grad_beta[]; };  // (cols), unless split
layout(std430, binding = 6) writeonly buffer Workspace { float partials[]; };  // (2, blocks, cols), if split
layout(push_constant) uniform Push { LayerNormParamGradParams p; };

shared vec2 column_partials[gl_WorkGroupSize.x * gl_WorkGroupSize.y];

void main() {
  const uint X = gl_WorkGroupSize.x, Y = gl_WorkGroupSize.y;
  const uint x = gl_LocalInvocationID.x, y = gl_LocalInvocationID.y;
  const uint block = gl_WorkGroupID.y, blocks = gl_NumWorkGroups.y;
  const uint first_row = block * p.rows_per_block;
  const uint end_row = min(first_row + p.rows_per_block, p.rows);  // no overflow: checked by the host
  for (uint first_col = gl_WorkGroupID.x * X; first_col < p.cols; first_col += gl_NumWorkGroups.x * X) {
    const uint c = first_col + x;
    // (sum of dy * xhat, sum of dy): `precise` keeps the compensation.
    precise vec2 sum = vec2(0.0), compensation = vec2(0.0);
    if (c < p.cols)
      for (uint r = first_row + y; r < end_row; r += Y) {
        float dy = grad_y[r * p.cols + c];
        float xhat = (x_[r * p.cols + c] - mean_[r]) * rstd_[r];
        precise vec2 term = vec2(dy * xhat, dy) - compensation;
        precise vec2 next = sum + term;
        compensation = (next - sum) - term;
        sum = next;
      }
    vec2 total = sum - compensation;
    if (Y > 1u) {  // uniform: every invocation reaches the barriers
      column_partials[y * X + x] = total;
      barrier();
      for (uint half_ = Y / 2u; half_ > 0u; half_ /= 2u) {
        if (y < half_) column_partials[y * X + x] += column_partials[(y + half_) * X + x];
        barrier();
      }
      total = column_partials[x];
      barrier();  // the next column block reuses column_partials
    }
    if (y == 0u && c < p.cols) {
      if (p.split != 0u) {
        partials[block * p.cols + c] = total.x;
        partials[(blocks + block) * p.cols + c] = total.y;
      } else {
        grad_gamma[c] = total.x;
        grad_beta[c] = total.y;
      }
    }
  }
}
