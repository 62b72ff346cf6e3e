// LayerNorm backward, the input gradient (see compute/kernels/layernorm.h):
//   xhat = (x - mean) * rstd,  g = dy * gamma
//   grad_x = rstd * (g - mean_c(g) - xhat * mean_c(g * xhat))  (+ add)
// from the mean and rstd the forward saved. Two passes over each row: the two
// row sums, then grad_x. dgamma and dbeta: layernorm_back_params.comp.
// The body of layernorm_back.comp (LN_VALUE float) and layernorm_back_vec4.comp
// (LN_VALUE vec4, as layernorm_impl.glsl). Grid and row sums: layernorm_rows.glsl.
#include "layernorm.h"
#include "layernorm_rows.glsl"

layout(std430, binding = 0) readonly buffer GradY { LN_VALUE grad_y[]; };  // (rows, cols)
layout(std430, binding = 1) readonly buffer X { LN_VALUE x_[]; };          // (rows, cols)
layout(std430, binding = 2) readonly buffer Gamma { LN_VALUE gamma[]; };   // (cols)
layout(std430, binding = 3) readonly buffer Mean { float mean_[]; };       // (rows)
layout(std430, binding = 4) readonly buffer Rstd { float rstd_[]; };       // (rows)
layout(std430, binding = 5) readonly buffer Add { LN_VALUE add[]; };       // (rows, cols), if has_add
layout(std430, binding = 6) writeonly buffer GradX { LN_VALUE grad_x[]; }; // (rows, cols)
layout(push_constant) uniform Push { LayerNormBackParams p; };

void main() {
  const uint X = gl_WorkGroupSize.x, Y = gl_WorkGroupSize.y;
  const uint x = gl_LocalInvocationID.x;
  const float inv_cols = 1.0 / float(p.cols);
  const uint lanes = p.cols / LN_WIDTH;  // LN_VALUEs per row
  for (uint first_row = gl_WorkGroupID.x * Y; first_row < p.rows; first_row += gl_NumWorkGroups.x * Y) {
    const uint r = first_row + gl_LocalInvocationID.y;
    const bool in_range = r < p.rows;
    const uint base = in_range ? r * lanes : 0u;
    const float mean = in_range ? mean_[r] : 0.0, rstd = in_range ? rstd_[r] : 0.0;

    // (sum of g, sum of g * xhat) over the row.
    precise vec2 sum = vec2(0.0), compensation = vec2(0.0);
    if (in_range)
      for (uint c = x; c < lanes; c += X) {
        LN_VALUE g = grad_y[base + c] * gamma[c];
        LN_VALUE xhat = (x_[base + c] - mean) * rstd;
        KahanAdd(sum, compensation, vec2(Total(g), Total(g * xhat)));
      }
    const vec2 row_means = RowSum(sum - compensation) * inv_cols;

    if (in_range)
      for (uint c = x; c < lanes; c += X) {
        LN_VALUE g = grad_y[base + c] * gamma[c];
        LN_VALUE xhat = (x_[base + c] - mean) * rstd;
        LN_VALUE dx = rstd * (g - row_means.x - xhat * row_means.y);
        grad_x[base + c] = p.has_add != 0u ? dx + add[base + c] : dx;
      }
  }
}
