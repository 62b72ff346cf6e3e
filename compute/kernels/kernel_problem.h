// The problem a matmul, conv2d or pool dispatch of a plan solves, without
// its buffers: what "try it" (compute/profile/experiment.h) needs to run the
// same kernel again on the layer's real shapes. Only the family's fields are set.
#pragma once

#include <optional>

#include "compute/kernels/autotune.h"
#include "compute/kernels/conv2d.h"
#include "compute/kernels/pool.h"

namespace ts::kernels {

struct KernelProblem {
  // matmul: op(A) (m x k) times op(B) (k x n), and the kernel as the plan runs
  // it (variant and resolved tiling).
  std::optional<MatmulShape> matmul;
  MatmulCandidate matmul_kernel;
  // conv2d, conv2d_back_data, conv2d_back_filter: the layer's geometry, and
  // the forward kernel's variant (never kAuto once a plan recorded it).
  std::optional<Conv2DGeometry> conv;
  Conv2DVariant conv_variant = Conv2DVariant::kAuto;
  // pool, pool_back.
  std::optional<PoolShape> pool;
  PoolKind pool_kind = PoolKind::kMax;
  // conv2d*, pool*: the plan runs the fp16 kernel (mixed precision; the
  // matmul's is MatmulShape::half).
  bool half = false;
};

}  // namespace ts::kernels
