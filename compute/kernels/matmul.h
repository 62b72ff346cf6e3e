// matmul.comp: C = op(A) * op(B) (+ C), the dense-layer workhorse, forward and
// both backward forms (dX = dY * W^T, dW = X^T * dY) through the transpose flags.
//
// All matrices are row-major fp32. op(A) is M x K and op(B) is K x N:
//   transpose_a == false: A is stored M x K;  true: A is stored K x M.
//   transpose_b == false: B is stored K x N;  true: B is stored N x K.
#pragma once

#include <string>

#include "compute/kernels/tensor_ref.h"
#include "compute/vk/device_info.h"

namespace ts::kernels {

// The kernel variants; each is best on some devices (see the design notes).
enum class MatmulVariant {
  kRegisterBlocked,  // each invocation computes a small block of C from registers, no shared memory
  kSharedTiled,      // workgroup tiles of A and B staged in shared memory, plus register blocking
  // Tensor cores: 16 x 16 x 16 fp16 cooperative matrices with fp32 sums
  // (matmul_coopmat.comp). fp16 A and B only, and only where
  // DeviceInfo::cooperative_matrix_fp16; the autotuner offers it there.
  kCooperativeMatrix,
};

struct MatmulArgs {
  TensorRef a, b, c;
  uint32_t m = 0, n = 0, k = 0;
  bool transpose_a = false;
  bool transpose_b = false;
  bool accumulate = false;  // C += op(A) op(B) instead of C = op(A) op(B)
  // Register-blocked: how its vec4 loads of A and B read them. kAuto: through
  // RGBA32F texel views on software drivers (lavapipe gathers a texel fetch
  // for all lanes at once but loops over lanes for a storage-buffer load) where
  // the layout allows vec4 loads and the view fits; storage buffers elsewhere.
  enum class Reads { kAuto, kStorage, kTexel } reads = Reads::kAuto;
};

// How a dispatch splits C (see matmul.comp). A workgroup of group_cols x
// group_rows invocations covers (group_rows * rows_per_invocation) x
// (group_cols * cols_per_invocation) elements of C; the shared-tiled variant
// stages tile_depth steps of K at a time. A zero field means "the variant's
// default", which is what callers normally want; benchmarks and an autotuner
// set them.
//
// The cooperative-matrix variant reads the fields per subgroup instead of per
// invocation: group_cols x group_rows subgroups, each computing
// rows_per_invocation x cols_per_invocation of C (multiples of 16) from
// tile_depth-deep slices (a multiple of 16) staged in shared memory.
struct MatmulTiling {
  uint32_t group_cols = 0, group_rows = 0;                    // invocations along N and M
  uint32_t rows_per_invocation = 0, cols_per_invocation = 0;  // RM x RN outputs per invocation
  uint32_t tile_depth = 0;                                    // shared-tiled only: TK
};

// The variant used when none is forced: shared-memory tiling on GPUs, register
// blocking on software drivers, where shared memory is slow (measured).
MatmulVariant DefaultMatmulVariant(const vk::DeviceInfo& device);

// The workgroup width the register-blocked kernels use on a software driver:
// one subgroup (lavapipe's SIMD width, 4, 8 or 16 lanes at 128, 256 or 512
// bits); 8 elsewhere.
uint32_t SoftwareGroupWidth(const vk::DeviceInfo& device);

// How many invocations along x share their loads of A (a power of two, 1 to
// 16): the widest that divides the subgroup size, the workgroup width and the
// rows per invocation.
uint32_t MatmulShareWidth(const vk::DeviceInfo& device, const MatmulTiling& tiling);

// The tiling MatmulDispatch uses for `args`: `requested`'s non-zero fields,
// the rest the variant's default, shrunk where needed to fit the device's
// workgroup and shared-memory limits. The defaults do not depend on the shape
// (one tiling per variant, so that a model compiles few pipelines); `args` is
// here for choices that will, such as an autotuner's.
MatmulTiling ChooseMatmulTiling(const vk::DeviceInfo& device, const MatmulArgs& args, MatmulVariant variant,
                                const MatmulTiling& requested = {});

// Whether `variant` can run `args` on `device` ("" if so, else why not): the
// cooperative-matrix variant needs fp16 A and B and a device with
// DeviceInfo::cooperative_matrix_fp16; the others run everywhere.
std::string MatmulVariantUnavailable(const vk::DeviceInfo& device, const MatmulArgs& args, MatmulVariant variant);

// The dispatch for `args` (throws ts::Error where MatmulVariantUnavailable
// says why not). Cost: 2*M*N*K FLOPs (+ M*N adds when
// accumulating); reads A, B (and C when accumulating) once each; writes C once.
vk::Dispatch MatmulDispatch(vk::PipelineCache& pipelines, const MatmulArgs& args, MatmulVariant variant,
                            const MatmulTiling& tiling = {});

}  // namespace ts::kernels
