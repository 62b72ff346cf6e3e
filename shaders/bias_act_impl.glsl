// The body of bias_act.comp (BA_VALUE float: one column per lane),
// bias_act_vec4.comp (BA_VALUE vec4: four columns per lane, for cols % 4 == 0
// and 16-byte aligned tensors) and bias_act_vec4_texel.comp (the same, reading
// pre through a uniform texel buffer, BA_TEXEL_READS). A "lane" below is a
// lane's group of BA_WIDTH columns; a row holds cols / BA_WIDTH of them.
//
// The grid is 2D, (column lanes) x (rows), so no invocation divides: lane
// (x, y) of the grid handles column group x of rows y, y + row_stride, ...,
// reading its bias once. Both axes are grid-strided, so any workgroup count
// covers any size; the host picks how many rows each invocation handles.
//
// Specialization constants: 0, 1 = workgroup size (X column lanes, Y rows);
// 2 = activation (activation.glsl).
// BA_STORED: how (rows, cols) elements are stored, BA_VALUE unless set
// (bias_act_f16.comp: float16_t, converted on every load and store; the bias
// stays fp32).
#ifndef BA_STORED
#define BA_STORED BA_VALUE
#endif
#define ACTIVATION_SPEC_ID 2
#include "activation.glsl"

layout(local_size_x_id = 0, local_size_y_id = 1) in;

#ifdef BA_TEXEL_READS
// pre read as RGBA32F texels (texel fetches are vectorised on lavapipe, where
// storage-buffer loads run one lane at a time), and written back (Z = pre +
// bias) through a storage view of the same memory. Each element is read and
// then written by one invocation only, so the two views never race.
layout(binding = 0) uniform textureBuffer pre_texels;                       // (rows, cols)
layout(std430, binding = 3) writeonly buffer PreOut { BA_STORED pre[]; };    // (rows, cols), same memory
#define LOAD_PRE(i) texelFetch(pre_texels, int(i))
#else
layout(std430, binding = 0) buffer Pre { BA_STORED pre[]; };                // (rows, cols)
#define LOAD_PRE(i) BA_VALUE(pre[i])
#endif
layout(std430, binding = 1) readonly buffer Bias { BA_VALUE bias[]; };      // (cols)
layout(std430, binding = 2) writeonly buffer Out { BA_STORED out_[]; };      // (rows, cols)
layout(push_constant) uniform Push { BiasActParams p; };

void main() {
  const uint lanes = p.cols / BA_WIDTH;
  const uint lane_stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  const uint row_stride = gl_NumWorkGroups.y * gl_WorkGroupSize.y;
  const uint index_stride = row_stride * lanes;  // elements from one row visited to the next
  for (uint lane = gl_GlobalInvocationID.x; lane < lanes; lane += lane_stride) {
    const BA_VALUE b = p.has_bias != 0u ? bias[lane] : BA_VALUE(0.0);
    uint i = gl_GlobalInvocationID.y * lanes + lane;
    for (uint r = gl_GlobalInvocationID.y; r < p.rows; r += row_stride, i += index_stride) {
      BA_VALUE z = LOAD_PRE(i);
      if (p.has_bias != 0u) {
        z += b;
        pre[i] = BA_STORED(z);
      }
      if (p.write_out != 0u) out_[i] = BA_STORED(ACTIVATE(z, p.leaky_slope));
    }
  }
}
