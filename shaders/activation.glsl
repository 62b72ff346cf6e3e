// The activations of bias_act.comp and bias_act_back.comp and their
// derivatives, chosen by the `kActivation` specialization constant (id 2), so
// each pipeline compiles only its own branch.
#ifndef TENSORSCOPE_SHADERS_ACTIVATION_GLSL
#define TENSORSCOPE_SHADERS_ACTIVATION_GLSL
#include "bias_act.h"
#include "math.glsl"

layout(constant_id = 2) const uint kActivation = ACTIVATION_IDENTITY;

// act(z).
float Activate(float z, float leaky_slope) {
  if (kActivation == ACTIVATION_RELU) return max(z, 0.0);
  if (kActivation == ACTIVATION_LEAKY_RELU) return z > 0.0 ? z : leaky_slope * z;
  if (kActivation == ACTIVATION_SIGMOID) return Sigmoid(z);
  if (kActivation == ACTIVATION_TANH) return Tanh(z);
  // GELU, exact (erf) form: z * Phi(z), with Phi accurate in both tails.
  if (kActivation == ACTIVATION_GELU) return z * NormalCdf(z);
  return z;
}

// grad * act'(z), where y = act(z) from the forward pass. As in PyTorch, the
// sigmoid and tanh derivatives use y, and ReLU's derivative at 0 is 0.
float ActivationBackward(float grad, float z, float y, float leaky_slope) {
  if (kActivation == ACTIVATION_RELU) return z > 0.0 ? grad : 0.0;
  if (kActivation == ACTIVATION_LEAKY_RELU) return z > 0.0 ? grad : grad * leaky_slope;
  if (kActivation == ACTIVATION_SIGMOID) return grad * (y * (1.0 - y));
  if (kActivation == ACTIVATION_TANH) return grad * (1.0 - y * y);
  // GELU: Phi(z) + z * phi(z), phi the standard normal density.
  if (kActivation == ACTIVATION_GELU)
    return grad * (NormalCdf(z) + z * kInvSqrtTwoPi * exp(-0.5 * z * z));
  return grad;
}

// Whether the backward pass reads Z (pre) or act(Z) (out): only what it uses is bound for real.
const bool kBackwardReadsPre =
    kActivation == ACTIVATION_RELU || kActivation == ACTIVATION_LEAKY_RELU || kActivation == ACTIVATION_GELU;
const bool kBackwardReadsOut = kActivation == ACTIVATION_SIGMOID || kActivation == ACTIVATION_TANH;

#endif
