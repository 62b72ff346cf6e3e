// Push constants and pool-kind codes of pool.comp and pool_back.comp (shared
// by GLSL and C++). Tensors are NHWC: (batch, height, width, channels).
#ifndef TENSORSCOPE_SHADERS_POOL_H
#define TENSORSCOPE_SHADERS_POOL_H
#include "shared_types.h"
TS_SHADER_NAMESPACE_BEGIN

// Values of the pool-kind specialization constant (= kernels::PoolKind).
const uint POOL_MAX = 0u;
const uint POOL_AVERAGE = 1u;

struct PoolParams {
  uint batch;
  uint in_height;
  uint in_width;
  uint channels;
  uint out_height;
  uint out_width;
  uint window_h;
  uint window_w;
  uint stride_h;
  uint stride_w;
  uint pad_top;   // rows of padding above the input (bottom padding only sets out_height)
  uint pad_left;  // columns of padding left of the input
  // An invocation handles up to channels_per_block consecutive channels of one
  // pixel: the pixel's index arithmetic (integer divisions, slow where the
  // driver has no vector divide, as lavapipe on x86) is shared by the block.
  uint channels_per_block;
  uint channel_blocks;  // ceil(channels / channels_per_block)
};
TS_CHECK_PUSH_LAYOUT(PoolParams, 14)

TS_SHADER_NAMESPACE_END
#endif
