// The row reduction batchnorm_impl.glsl and batchnorm_back_impl.glsl share.
// Include after the push constants: BlockRows reads p.rows and p.row_blocks,
// and BN_VALUE is float or vec4.

shared BN_VALUE partial_a[gl_WorkGroupSize.x * gl_WorkGroupSize.y];
shared BN_VALUE partial_b[gl_WorkGroupSize.x * gl_WorkGroupSize.y];

// The sums over the Y row lanes of each column of (a, b), returned to every
// lane of that column in (a, b). Call in uniform control flow (it has barriers).
void ColumnTotals(inout BN_VALUE a, inout BN_VALUE b) {
  const uint X = gl_WorkGroupSize.x, Y = gl_WorkGroupSize.y;
  uint x = gl_LocalInvocationID.x, y = gl_LocalInvocationID.y;
  partial_a[y * X + x] = a;
  partial_b[y * X + x] = b;
  barrier();
  for (uint half_ = Y / 2u; half_ > 0u; half_ /= 2u) {
    if (y < half_) {
      partial_a[y * X + x] += partial_a[(y + half_) * X + x];
      partial_b[y * X + x] += partial_b[(y + half_) * X + x];
    }
    barrier();
  }
  a = partial_a[x];
  b = partial_b[x];
  barrier();  // the next call overwrites the partial sums
}

// Rows of row block b: [b * block_rows, min((b + 1) * block_rows, rows)).
uvec2 BlockRows(uint b) {
  uint block_rows = (p.rows + p.row_blocks - 1u) / p.row_blocks;
  uint begin = min(b * block_rows, p.rows);
  return uvec2(begin, min(begin + block_rows, p.rows));
}
