#version 450
// The loss heads, one invocation per row (grid-stride over rows), each fused
// with its gradient and the row's correctness (argmax on the device):
//   row_loss[r], row_correct[r] (0 or 1), grad_logits[r][:] (scaled by
//   grad_scale), probabilities[r][:].
// See compute/kernels/loss.h for the formulas; they match PyTorch's
// CrossEntropyLoss, MSELoss and BCEWithLogitsLoss. The target of a row is
// one-hot(label), or the label as a number when cols == 1 (MSE, BCE). A label
// outside [0, cols) otherwise gives a NaN row loss, so the metrics flag the bad data;
// its gradient then uses an all-zero target.
#include "loss_impl.glsl"
