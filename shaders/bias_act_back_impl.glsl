// The body of bias_act_back.comp (BA_VALUE float: one column per lane),
// bias_act_back_vec4.comp (BA_VALUE vec4: four columns per lane, for
// cols % 4 == 0 and 16-byte aligned tensors) and bias_act_back_vec4_texel.comp
// (the same, reading grad_out, pre and out through uniform texel buffers,
// BA_TEXEL_READS). A "lane" below is a lane's group of BA_WIDTH columns; a row
// holds cols / BA_WIDTH of them.
//
//   grad_pre[r][c] = grad_out[r][c] * act'(pre[r][c])
//   sums[b][c]     = sum over the rows r of block b of grad_pre[r][c]
//
// A workgroup is X column lanes by Y row lanes (specialization constants 0 and
// 1, Y a power of two; 2 = activation, see activation.glsl); workgroup (i, b)
// covers column lanes i*X .. i*X+X-1 (grid-strided when the grid is narrower
// than the row) of row block b, rows [b * rows_per_block, (b + 1) *
// rows_per_block). Lane (x, y) walks rows y, y + Y, ... of its block with a
// compensated (Kahan) sum, so neighbouring invocations read neighbouring
// addresses and nothing divides; the Y lane sums of a column are then added
// in shared memory in a fixed tree (no tree, no barrier when Y = 1), and lane
// y = 0 writes the block's sum to binding 4 at [b][c]. With one row block that
// is grad_bias itself; with several it is a workspace of partial sums that
// bias_act_back_combine.comp adds up, block by block, into grad_bias. Every
// sum is taken in a fixed order, so the result is deterministic. Without a
// bias the blocks only spread the rows over the grid.
// BA_STORED: how (rows, cols) elements are stored, BA_VALUE unless set
// (bias_act_back_f16.comp: float16_t, converted on every load and store; the
// sums stay fp32).
#ifndef BA_STORED
#define BA_STORED BA_VALUE
#endif
#define ACTIVATION_SPEC_ID 2
#include "activation.glsl"

layout(local_size_x_id = 0, local_size_y_id = 1) in;

#ifdef BA_TEXEL_READS
// RGBA32F texels: texel fetches are vectorised on lavapipe, where
// storage-buffer loads run one lane at a time.
layout(binding = 0) uniform textureBuffer grad_out_texels;  // (rows, cols)
layout(binding = 1) uniform textureBuffer pre_texels;       // (rows, cols), Z
layout(binding = 2) uniform textureBuffer out_texels;       // (rows, cols), act(Z)
#define LOAD_GRAD_OUT(i) texelFetch(grad_out_texels, int(i))
#define LOAD_PRE(i) texelFetch(pre_texels, int(i))
#define LOAD_OUT(i) texelFetch(out_texels, int(i))
#else
layout(std430, binding = 0) readonly buffer GradOut { BA_STORED grad_out[]; };  // (rows, cols)
layout(std430, binding = 1) readonly buffer Pre { BA_STORED pre[]; };           // (rows, cols), Z
layout(std430, binding = 2) readonly buffer Out { BA_STORED out_[]; };          // (rows, cols), act(Z)
#define LOAD_GRAD_OUT(i) BA_VALUE(grad_out[i])
#define LOAD_PRE(i) BA_VALUE(pre[i])
#define LOAD_OUT(i) BA_VALUE(out_[i])
#endif
layout(std430, binding = 3) writeonly buffer GradPre { BA_STORED grad_pre[]; };  // (rows, cols)
layout(std430, binding = 4) writeonly buffer Sums { BA_VALUE sums[]; };         // (blocks, cols)
layout(push_constant) uniform Push { BiasActBackParams p; };

shared BA_VALUE partial_sums[gl_WorkGroupSize.x * gl_WorkGroupSize.y];

void main() {
  const uint X = gl_WorkGroupSize.x, Y = gl_WorkGroupSize.y;
  const uint x = gl_LocalInvocationID.x, y = gl_LocalInvocationID.y;
  const uint lanes = p.cols / BA_WIDTH;
  const uint block = gl_WorkGroupID.y;
  const uint first_row = block * p.rows_per_block;
  const uint end_row = min(first_row + p.rows_per_block, p.rows);  // first_row + rows_per_block < 2^32 (host)
  const uint index_stride = Y * lanes;
  for (uint first_lane = gl_WorkGroupID.x * X; first_lane < lanes; first_lane += gl_NumWorkGroups.x * X) {
    const uint lane = first_lane + x;
    // `precise` keeps the compiler from simplifying the compensation away.
    precise BA_VALUE sum = BA_VALUE(0.0), compensation = BA_VALUE(0.0);
    if (lane < lanes) {
      uint i = (first_row + y) * lanes + lane;
      for (uint r = first_row + y; r < end_row; r += Y, i += index_stride) {
        BA_VALUE z = kBackwardReadsPre ? LOAD_PRE(i) : BA_VALUE(0.0);
        BA_VALUE a = kBackwardReadsOut ? LOAD_OUT(i) : BA_VALUE(0.0);
        BA_VALUE g = ACTIVATION_BACKWARD(LOAD_GRAD_OUT(i), z, a, p.leaky_slope);
        if (p.write_grad_pre != 0u) grad_pre[i] = BA_STORED(g);
        precise BA_VALUE term = g - compensation;
        precise BA_VALUE next = sum + term;
        compensation = (next - sum) - term;
        sum = next;
      }
    }
    if (p.write_grad_bias != 0u) {  // uniform across the workgroup: barriers are safe
      sum -= compensation;          // the compensated lane sum
      if (Y > 1u) {
        partial_sums[y * X + x] = sum;
        barrier();
        for (uint half_ = Y / 2u; half_ > 0u; half_ /= 2u) {
          if (y < half_) partial_sums[y * X + x] += partial_sums[(y + half_) * X + x];
          barrier();
        }
        if (y == 0u && lane < lanes) sums[block * lanes + lane] = partial_sums[x];
        barrier();  // the next column block reuses partial_sums
      } else if (lane < lanes) {
        sums[block * lanes + lane] = sum;
      }
    }
  }
}
