// The activations and their derivatives: for any kind (ActivateAs), or, with
// ACTIVATION_SPEC_ID defined, the kind of that specialization constant
// (bias_act*.comp use id 2).
#ifndef TENSORSCOPE_SHADERS_ACTIVATION_GLSL
#define TENSORSCOPE_SHADERS_ACTIVATION_GLSL
#include "bias_act.h"
#include "math.glsl"

// act(z) for the activation `kind` (an ACTIVATION_* code). Kernels pass a
// specialization constant, so each pipeline compiles only its own branch.
float ActivateAs(uint kind, float z, float leaky_slope) {
  if (kind == ACTIVATION_RELU) return max(z, 0.0);
  if (kind == ACTIVATION_LEAKY_RELU) return z > 0.0 ? z : leaky_slope * z;
  if (kind == ACTIVATION_SIGMOID) return Sigmoid(z);
  if (kind == ACTIVATION_TANH) return Tanh(z);
  // GELU, exact (erf) form: z * Phi(z), with Phi accurate in both tails.
  if (kind == ACTIVATION_GELU) return z * NormalCdf(z);
  return z;
}

// A kernel of one activation defines ACTIVATION_SPEC_ID: the activation is
// then specialization constant ACTIVATION_SPEC_ID, and Activate uses it.
#ifdef ACTIVATION_SPEC_ID
layout(constant_id = ACTIVATION_SPEC_ID) const uint kActivation = ACTIVATION_IDENTITY;

// act(z).
float Activate(float z, float leaky_slope) { return ActivateAs(kActivation, z, leaky_slope); }

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

#endif  // ACTIVATION_SPEC_ID

#endif
