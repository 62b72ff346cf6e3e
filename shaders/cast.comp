#version 450
// Converts between fp32 and fp16 storage (mixed precision): dst[i] = src[i]
// rounded to the nearest fp16 (kToHalf) or widened back to fp32. The fp16 copy
// of the fp32 master weights after each update, the batch input, and the
// host's view of an fp16 tensor.
#extension GL_EXT_shader_16bit_storage : require
#include "mixed_precision.h"

layout(local_size_x_id = 0) in;  // workgroup size: specialization constant 0
// 1: fp32 -> fp16; 0: fp16 -> fp32. A uint: bool specialization constants are
// not listed by the pipeline reflection.
layout(constant_id = 1) const uint kToHalf = 1u;

layout(std430, binding = 0) readonly buffer Source { float src[]; };
layout(std430, binding = 0) readonly buffer Source16 { float16_t src16[]; };
layout(std430, binding = 1) writeonly buffer Destination { float dst[]; };
layout(std430, binding = 1) writeonly buffer Destination16 { float16_t dst16[]; };
layout(push_constant) uniform Push { CastParams p; };

void main() {
  uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < p.count; i += stride) {
    if (kToHalf != 0u)
      dst16[i] = float16_t(src[i]);
    else
      dst[i] = float(src16[i]);
  }
}
