// Push constants and pass codes of grad_clip.comp (shared by GLSL and C++).
#ifndef TENSORSCOPE_SHADERS_GRAD_CLIP_H
#define TENSORSCOPE_SHADERS_GRAD_CLIP_H
#include "shared_types.h"
TS_SHADER_NAMESPACE_BEGIN

// Values of the pass specialization constant (id 1).
const uint GRAD_CLIP_PASS_PARTIAL_SUMS = 0u;  // workspace[wg] = sum of g^2 over workgroup wg's elements
const uint GRAD_CLIP_PASS_SCALE = 1u;         // norm from the partials; g *= min(1, max_norm / (norm + 1e-6))

struct GradClipParams {
  uint count;     // floats of gradient
  uint partials;  // workgroups of the first pass = floats of workspace used
  float max_norm;
};
TS_CHECK_PUSH_LAYOUT(GradClipParams, 3)

TS_SHADER_NAMESPACE_END
#endif
