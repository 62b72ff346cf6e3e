#version 450
// One step's metrics from the loss kernel's per-row outputs, in a single
// workgroup: sums row_loss and row_correct over the step's first valid_rows
// rows (padding rows of a partial batch are ignored) and writes
//   result = {mean loss, correct count, valid rows, 1 if any loss is NaN/Inf else 0}.
// Each invocation strides over the rows with a compensated loss sum and an
// exact integer count; the partial results meet in a shared-memory tree.
#include "math.glsl"
#include "metrics.h"
#include "step_params.h"

layout(local_size_x_id = 0) in;  // workgroup size: specialization constant 0, a power of two

layout(std430, binding = 0) readonly buffer RowLoss { float row_loss[]; };       // (rows)
layout(std430, binding = 1) readonly buffer RowCorrect { float row_correct[]; }; // (rows)
layout(std430, binding = 2) readonly buffer Step { StepParams step; };
layout(std430, binding = 3) writeonly buffer Result { float result[]; };         // (4)
layout(push_constant) uniform Push { MetricsParams p; };

shared float loss_sums[gl_WorkGroupSize.x];
shared uint correct_counts[gl_WorkGroupSize.x];
shared uint non_finite_flags[gl_WorkGroupSize.x];

void main() {
  uint lane = gl_LocalInvocationID.x;
  uint valid_rows = min(step.valid_rows, p.rows);
  precise float sum = 0.0, compensation = 0.0;  // `precise`: keep the Kahan compensation
  uint correct = 0u, non_finite = 0u;
  for (uint r = lane; r < valid_rows; r += gl_WorkGroupSize.x) {
    float loss = row_loss[r];
    if (!IsFinite(loss)) non_finite = 1u;
    precise float term = loss - compensation;
    precise float next = sum + term;
    compensation = (next - sum) - term;
    sum = next;
    if (row_correct[r] > 0.5) ++correct;
  }
  loss_sums[lane] = sum;
  correct_counts[lane] = correct;
  non_finite_flags[lane] = non_finite;
  barrier();
  for (uint half_ = gl_WorkGroupSize.x / 2u; half_ > 0u; half_ /= 2u) {
    if (lane < half_) {
      loss_sums[lane] += loss_sums[lane + half_];
      correct_counts[lane] += correct_counts[lane + half_];
      non_finite_flags[lane] |= non_finite_flags[lane + half_];
    }
    barrier();
  }
  if (lane == 0u) {
    result[0] = valid_rows > 0u ? loss_sums[0] / float(valid_rows) : 0.0;
    result[1] = float(correct_counts[0]);
    result[2] = float(valid_rows);
    // A sum of finite losses can still overflow.
    result[3] = non_finite_flags[0] != 0u || !IsFinite(loss_sums[0]) ? 1.0 : 0.0;
  }
}
