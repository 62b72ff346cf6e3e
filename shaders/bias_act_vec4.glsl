// Four columns per lane for bias_act_vec4{,_texel}.comp and
// bias_act_back_vec4{,_texel}.comp: the activation and its derivative
// component by component.
#ifndef TENSORSCOPE_SHADERS_BIAS_ACT_VEC4_GLSL
#define TENSORSCOPE_SHADERS_BIAS_ACT_VEC4_GLSL
#define ACTIVATION_SPEC_ID 2
#include "activation.glsl"

#define BA_VALUE vec4
#define BA_WIDTH 4u
#define ACTIVATE Activate4
#define ACTIVATION_BACKWARD ActivationBackward4

vec4 Activate4(vec4 z, float slope) {
  return vec4(Activate(z.x, slope), Activate(z.y, slope), Activate(z.z, slope), Activate(z.w, slope));
}

vec4 ActivationBackward4(vec4 grad, vec4 z, vec4 y, float slope) {
  return vec4(ActivationBackward(grad.x, z.x, y.x, slope), ActivationBackward(grad.y, z.y, y.y, slope),
              ActivationBackward(grad.z, z.z, y.z, slope), ActivationBackward(grad.w, z.w, y.w, slope));
}
#endif
