// LayerNorm forward over the last dimension of a (rows, cols) tensor (see
// compute/kernels/layernorm.h): two passes over each row, the mean and then
// the variance of x - mean (no E[x^2] - E[x]^2 cancellation, and corrected
// for the mean's rounding), then y = (x - mean) * rstd * gamma + beta.
// The body of layernorm.comp (LN_VALUE float: one column per step) and
// layernorm_vec4.comp (LN_VALUE vec4: four, for cols % 4 == 0 and 16-byte
// aligned views; software devices load storage buffers lane by lane, so 4x
// fewer loads pay there). Below a "column" is LN_WIDTH floats. Grid and row
// sums: layernorm_rows.glsl.
#include "layernorm.h"
#include "layernorm_rows.glsl"

layout(std430, binding = 0) readonly buffer X { LN_VALUE x_[]; };        // (rows, cols)
layout(std430, binding = 1) readonly buffer Gamma { LN_VALUE gamma[]; }; // (cols)
layout(std430, binding = 2) readonly buffer Beta { LN_VALUE beta[]; };   // (cols)
layout(std430, binding = 3) writeonly buffer Y { LN_VALUE y_[]; };       // (rows, cols)
layout(std430, binding = 4) writeonly buffer Mean { float mean_[]; }; // (rows)
layout(std430, binding = 5) writeonly buffer Rstd { float rstd_[]; }; // (rows)
layout(push_constant) uniform Push { LayerNormParams p; };

void main() {
  const uint X = gl_WorkGroupSize.x, Y = gl_WorkGroupSize.y;
  const uint x = gl_LocalInvocationID.x;
  const float cols = float(p.cols);
  const uint lanes = p.cols / LN_WIDTH;  // LN_VALUEs per row
  // Uniform loop over the workgroup's blocks of Y rows: RowSum's barriers are
  // reached by every invocation; lanes past the last row add zeros.
  for (uint first_row = gl_WorkGroupID.x * Y; first_row < p.rows; first_row += gl_NumWorkGroups.x * Y) {
    const uint r = first_row + gl_LocalInvocationID.y;
    const bool in_range = r < p.rows;
    const uint base = in_range ? r * lanes : 0u;

    precise vec2 sum = vec2(0.0), compensation = vec2(0.0);
    if (in_range)
      for (uint c = x; c < lanes; c += X) KahanAdd(sum, compensation, vec2(Total(x_[base + c]), 0.0));
    const float mean = RowSum(sum - compensation).x / cols;

    // The second pass also sums d = x - mean: mean is rounded, and the sum of
    // d corrects for that ("corrected two-pass"): the variance is
    // (sum d^2 - (sum d)^2 / cols) / cols, and xhat = (d - shift) * rstd with
    // shift = sum d / cols, so a constant row gives variance 0 and y = beta.
    sum = vec2(0.0), compensation = vec2(0.0);
    if (in_range)
      for (uint c = x; c < lanes; c += X) {
        LN_VALUE d = x_[base + c] - mean;
        KahanAdd(sum, compensation, vec2(Total(d * d), Total(d)));
      }
    const vec2 centered = RowSum(sum - compensation);  // (sum d^2, sum d)
    const float shift = centered.y / cols;
    const float variance = max(centered.x / cols - shift * shift, 0.0);  // biased, as PyTorch's
    const float rstd = 1.0 / sqrt(variance + p.epsilon);

    if (in_range) {
      for (uint c = x; c < lanes; c += X)
        y_[base + c] = ((x_[base + c] - mean) - shift) * rstd * gamma[c] + beta[c];
      if (x == 0u && p.save_statistics != 0u) {
        mean_[r] = mean + shift;
        rstd_[r] = rstd;
      }
    }
  }
}
