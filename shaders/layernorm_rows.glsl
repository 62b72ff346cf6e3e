// What layernorm{,_vec4}.comp and layernorm_back{,_vec4}.comp share: their
// value type, their grid and the sum of a row across the lanes that share it.
//
// A workgroup is X lanes per row by Y rows (specialization constants 0 and 1,
// X a power of two); workgroup w takes rows w*Y .. w*Y+Y-1, then grid-strides
// by gl_NumWorkGroups.x * Y rows. Lane x of a row walks columns x, x + X, ...
// (neighbouring lanes, neighbouring addresses; a column is LN_WIDTH floats). X = 1 (software devices: no
// barrier at all) gives each invocation a whole row.

layout(local_size_x_id = 0, local_size_y_id = 1) in;

// LN_VALUE: float (one column per load) or vec4 (four); LN_WIDTH floats.
#ifndef LN_VALUE
#define LN_VALUE float
#define LN_WIDTH 1u
#endif
float Total(float v) { return v; }
float Total(vec4 v) { return (v.x + v.y) + (v.z + v.w); }

shared vec2 row_partials[gl_WorkGroupSize.x * gl_WorkGroupSize.y];

// The sum over the X lanes of this invocation's row of `value`, returned to
// every lane. A fixed tree, so the result does not depend on scheduling or the
// subgroup size. Call from uniform control flow (every invocation of the
// workgroup, the same number of times).
vec2 RowSum(vec2 value) {
  const uint X = gl_WorkGroupSize.x;
  if (X == 1u) return value;
  const uint base = gl_LocalInvocationID.y * X, x = gl_LocalInvocationID.x;
  row_partials[base + x] = value;
  barrier();
  for (uint half_ = X / 2u; half_ > 0u; half_ /= 2u) {
    if (x < half_) row_partials[base + x] += row_partials[base + x + half_];
    barrier();
  }
  vec2 total = row_partials[base];
  barrier();  // the next call overwrites row_partials
  return total;
}

// Compensated (Kahan) accumulation: `precise` keeps the compiler from
// simplifying the compensation away.
void KahanAdd(inout precise vec2 sum, inout precise vec2 compensation, vec2 value) {
  precise vec2 term = value - compensation;
  precise vec2 next = sum + term;
  compensation = (next - sum) - term;
  sum = next;
}
