// The body of optimizer.comp (one float per invocation step),
// optimizer_vec4.comp (four) and optimizer_vec4_texel.comp (four, read
// through texel buffers): OPT_VALUE is float or vec4, OPT_WIDTH 1 or 4,
// OPT_TEXEL_READS 1 for texel reads. Every operation is per component, so all
// give the same bits per parameter.
layout(local_size_x_id = 0) in;  // workgroup size: specialization constant 0
layout(constant_id = 1) const uint kOptimizer = OPTIMIZER_SGD;
// A uint, not a bool: bool specialization constants are OpSpecConstantTrue/False, which
// the pipeline reflection does not list, so their values would be dropped.
layout(constant_id = 2) const uint kNesterov = 0u;

layout(std430, binding = 0) buffer Params { OPT_VALUE params[]; };            // (count)
layout(std430, binding = 1) readonly buffer Grads { OPT_VALUE grads[]; };     // (count)
layout(std430, binding = 2) buffer State1 { OPT_VALUE state1[]; };            // (count): momentum buffer or Adam m
layout(std430, binding = 3) buffer State2 { OPT_VALUE state2[]; };            // (count): Adam v
layout(std430, binding = 4) readonly buffer Step { StepParams step; };
layout(push_constant) uniform Push { OptimizerParams p; };

#ifdef OPT_LOSS_SCALE
// Mixed precision (optimizer_amp.comp): the gradients were computed from the
// loss times the loss scale. A step whose gradients hold an Inf or NaN is
// skipped (loss_scale.comp's check found it); otherwise they are unscaled
// first. Adam's bias corrections count only the steps taken, as
// torch.cuda.amp.GradScaler skips optimizer.step() altogether.
#include "mixed_precision.h"
layout(std430, binding = 5) readonly buffer Scale { LossScaleState loss_scale; };  // (never with OPT_TEXEL_READS)
// The fp16 copy of the updated parameters that the next forward pass reads
// (OPT_HALF_VALUE: the fp16 form of OPT_VALUE).
layout(std430, binding = 6) writeonly buffer ParamsHalf { OPT_HALF_VALUE params_half[]; };
#endif
#if OPT_TEXEL_READS
// The same tensors again, read as RGBA32F texels (vectorised on lavapipe, where
// storage-buffer loads go lane by lane). Each element is read before its own
// invocation writes it, and by no other invocation.
layout(binding = 5) uniform textureBuffer params_texels;
layout(binding = 6) uniform textureBuffer grads_texels;
layout(binding = 7) uniform textureBuffer state1_texels;
layout(binding = 8) uniform textureBuffer state2_texels;
#define LOAD(tensor, i) texelFetch(tensor##_texels, int(i))
#else
#define LOAD(tensor, i) tensor[i]
#endif

void main() {
  float lr = step.learning_rate;
  float bias_correction1 = step.bias_correction1, bias_correction2 = step.bias_correction2;
#ifdef OPT_LOSS_SCALE
  if (loss_scale.found_inf != 0u) return;
  const float inv_scale = 1.0 / loss_scale.scale;
  if (kOptimizer == OPTIMIZER_ADAM || kOptimizer == OPTIMIZER_ADAMW) {
    float taken = float(step.adam_step - loss_scale.skipped_steps);
    bias_correction1 = 1.0 - pow(p.beta1, taken);
    bias_correction2 = 1.0 - pow(p.beta2, taken);
  }
#endif
  uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < p.count / OPT_WIDTH; i += stride) {
    OPT_VALUE param = LOAD(params, i);
    OPT_VALUE g = LOAD(grads, i);
#ifdef OPT_LOSS_SCALE
    g *= inv_scale;
#endif
    if (kOptimizer == OPTIMIZER_ADAMW) {
      param *= 1.0 - lr * p.weight_decay;  // decoupled weight decay, before the Adam update
    } else if (p.weight_decay != 0.0) {
      g += p.weight_decay * param;         // L2 penalty folded into the gradient
    }

    if (kOptimizer == OPTIMIZER_SGD) {
      param -= lr * g;
    } else if (kOptimizer == OPTIMIZER_MOMENTUM) {
      // buf starts at 0, so the first step gives buf = g, as PyTorch's clone.
      OPT_VALUE buf = p.momentum * LOAD(state1, i) + g;
      state1[i] = buf;
      param -= lr * (kNesterov != 0u ? g + p.momentum * buf : buf);
    } else {  // Adam, AdamW
      OPT_VALUE m = p.beta1 * LOAD(state1, i) + (1.0 - p.beta1) * g;
      OPT_VALUE v = p.beta2 * LOAD(state2, i) + (1.0 - p.beta2) * g * g;
      state1[i] = m;
      state2[i] = v;
      OPT_VALUE denominator = sqrt(v) / sqrt(bias_correction2) + p.epsilon;
      param -= (lr / bias_correction1) * (m / denominator);
    }
    params[i] = param;
#ifdef OPT_LOSS_SCALE
    params_half[i] = OPT_HALF_VALUE(param);
#endif
  }
}
