// "Try it": re-specialise a real kernel with another workgroup size and
// measure it on the device, so a learner can test what the occupancy
// calculator predicts (more occupancy is not always more speed).
//
// The kernel runs on scratch buffers of the layer's shape with random data,
// never on the training's own buffers, so training is not disturbed.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "compute/kernels/kernel_problem.h"
#include "compute/vk/context.h"
#include "compute/vk/pipeline.h"

namespace ts::profile {

// The kernels run as a plan records them, with fixed settings: bias_act and
// bias_act_back with a bias and ReLU (the backward with its bias-gradient
// workspace; only its first dispatch, the re-specialised one, is timed);
// optimizer as Adam; copy as is. matmul, conv2d, conv2d_back_data,
// conv2d_back_filter, pool and pool_back run on the layer's problem (the
// step dispatch's nn::DispatchInfo::problem): matmul with the variant and
// tiling the plan uses, conv2d with its forward variant, pool with its kind.
// Their workgroups are 2D for matmul and conv (see ExperimentShapeHelp).
struct ExperimentRequest {
  std::string kernel;            // one of ExperimentKernels()
  std::array<uint32_t, 2> shape{};  // the problem, as ExperimentShapeHelp(kernel) says (e.g. rows, columns)
  kernels::KernelProblem problem;   // matmul, conv2d*, pool*: the layer's shapes (`shape` is unused)
  uint32_t workgroup_size = 64;  // invocations per workgroup to try
  uint32_t repeats = 5;          // timed runs; the median is reported (1..100)
  // Also compare the warm-up run's outputs with the double-precision CPU
  // reference (compute/reference/): a download and a CPU pass more.
  bool check = false;
};

// The largest ExperimentResult::max_error a correct kernel shows (fp32
// against the double-precision reference, relative to 1 + |reference|).
inline constexpr double kExperimentTolerance = 1e-4;

struct ExperimentResult {
  ExperimentRequest request;
  std::array<uint32_t, 3> local_size{}, workgroups{};
  uint32_t shared_memory_bytes = 0;
  double median_ns = 0, best_ns = 0;  // GPU time (timestamps)
  double gbs = 0, gflops = 0;         // declared cost / median time
  std::string shader;                 // the shader variant that ran, e.g. "bias_act_vec4"
  std::string note;                   // e.g. how the kernel adjusted the workgroup size asked for
  // With ExperimentRequest::check: the largest |GPU - CPU| / (1 + |CPU|) over
  // every output element; -1 when not checked.
  double max_error = -1;
  std::string error;                  // why it could not run ("" when it ran)
};

// Kernel families "try it" can re-specialise (their workgroup size is a
// specialization constant and their grid adapts to it).
std::vector<std::string> ExperimentKernels();
// What `shape` means for `kernel`, e.g. "rows, columns".
std::string ExperimentShapeHelp(const std::string& kernel);
// The experiment family a step dispatch's kernel belongs to ("" when none).
std::string ExperimentKernelFor(const std::string& dispatch_kernel);
// The request's problem in words, e.g. "1000 x 37", "matmul A^T B 784x128x64",
// "conv2d 3x3/1 12x8x8x3 -> 12x8x8x4", "max_pool 2x2/2 over 12x8x8x4".
std::string ExperimentProblemText(const ExperimentRequest& request);

// Runs the experiment (a few ms to a second). Errors (a workgroup size over
// the device's limits, an unknown kernel) come back in ExperimentResult::error.
ExperimentResult RunWorkgroupExperiment(vk::Context& context, vk::PipelineCache& pipelines,
                                        const ExperimentRequest& request);

}  // namespace ts::profile
