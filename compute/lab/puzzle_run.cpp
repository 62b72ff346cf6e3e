// Running a puzzle kernel: compile, the instrumented run, the check and the
// diagnosis, then timing against the reference solution; a session that
// re-creates its device when a kernel loses it.
#include <algorithm>
#include <cstring>

#include "compute/common/error.h"
#include "compute/lab/puzzle_internal.h"
#include "compute/vk/buffer.h"
#include "compute/vk/pipeline.h"
#include "compute/vk/sequence.h"

namespace ts::lab {
namespace {

using detail::kProbeHeaderWords;

bool IsDeviceLost(const std::exception& e) { return std::strstr(e.what(), "VK_ERROR_DEVICE_LOST") != nullptr; }

// The buffers of one run: the probe (binding 0), then each global array.
struct RunBuffers {
  vk::Buffer probe;
  std::vector<vk::Buffer> globals;
  uint64_t record_capacity = 0;
};

RunBuffers MakeBuffers(vk::Context& context, const Puzzle& puzzle, uint64_t record_capacity) {
  RunBuffers b;
  b.record_capacity = record_capacity;
  const uint64_t words = kProbeHeaderWords + 3ull * detail::TotalInvocations(puzzle) + 8ull * record_capacity;
  b.probe = vk::Buffer(context, words * 4, "puzzle probe (records and diagnosis)");
  std::vector<uint32_t> zeros(words, 0u);
  b.probe.UploadVector(std::span<const uint32_t>(zeros));
  const std::vector<std::vector<float>> inputs = puzzle.inputs();
  uint32_t input = 0;
  for (const PuzzleArray& array : puzzle.globals) {
    vk::Buffer buffer(context, std::max<uint64_t>(16, array.size() * 4ull), "puzzle array " + array.name);
    std::vector<float> values = array.output ? std::vector<float>(array.size(), 0.0f) : inputs.at(input++);
    Require(values.size() == array.size(), "Puzzle '" + puzzle.name + "': input " + array.name + " has " +
                                               std::to_string(values.size()) + " values, expected " +
                                               std::to_string(array.size()) + ".");
    buffer.UploadVector(std::span<const float>(values));
    b.globals.push_back(std::move(buffer));
  }
  return b;
}

// The dispatch, its bindings as the compiled code uses them (the compiler
// drops an array the kernel never touches).
vk::Dispatch MakeDispatch(const Puzzle& puzzle, const vk::Pipeline& pipeline, const RunBuffers& buffers,
                          bool recording) {
  vk::Dispatch d;
  d.kernel = "puzzle";
  d.label = "puzzle " + puzzle.name;
  d.pipeline = &pipeline;
  const vk::ShaderInterface& shader = pipeline.interface();
  for (size_t b = 0; b < shader.bindings.size(); ++b) {
    const vk::Buffer* buffer = b == 0 ? &buffers.probe : &buffers.globals.at(b - 1);
    d.bindings.push_back({buffer, 0, 0, shader.uses[b].writes ? vk::Access::kReadWrite : vk::Access::kRead});
  }
  if (shader.push_constant_bytes > 0) d.SetPushConstants(uint32_t(recording ? 1u : 0u));
  d.workgroups = {puzzle.grid[0], puzzle.grid[1], 1};
  return d;
}

detail::ProbeReadout ReadProbe(const Puzzle& puzzle, const RunBuffers& buffers) {
  detail::ProbeReadout probe;
  const uint32_t invocations = detail::TotalInvocations(puzzle);
  std::vector<uint32_t> words(kProbeHeaderWords + 3ull * invocations);
  buffers.probe.DownloadVector(std::span<uint32_t>(words));
  probe.header.assign(words.begin(), words.begin() + kProbeHeaderWords);
  probe.barriers.assign(words.begin() + kProbeHeaderWords, words.end());
  AccessTrace& trace = probe.trace;
  trace.workgroups_recorded = puzzle.grid[0] * puzzle.grid[1];
  trace.capacity = buffers.record_capacity;
  trace.wanted = probe.header[detail::kWanted];
  const uint64_t kept = std::min<uint64_t>(trace.wanted, trace.capacity);
  std::vector<uint32_t> record_words(kept * 8);
  if (kept) buffers.probe.DownloadVector(std::span<uint32_t>(record_words), words.size() * 4);
  trace.records.resize(kept);
  for (uint64_t i = 0; i < kept; ++i) {
    const uint32_t* w = &record_words[i * 8];
    trace.records[i] = {w[0], w[1], w[2], w[3], w[4], static_cast<Access>(w[5] & 3u), w[6], w[7]};
  }
  for (const PuzzleArray& array : puzzle.globals) trace.buffer_names.push_back(array.name);
  for (const PuzzleArray& array : puzzle.shared) trace.shared_names.push_back(array.name);
  trace.step_meaning = "barriers the invocation had passed";
  return probe;
}

// The median and middle half (25th to 75th percentile) of some times.
struct Spread {
  double median = 0, low = 0, high = 0;
};
Spread SpreadOf(std::vector<double> times) {
  std::sort(times.begin(), times.end());
  auto at = [&](double q) { return times[static_cast<size_t>(q * (times.size() - 1) + 0.5)]; };
  return {at(0.5), at(0.25), at(0.75)};
}

// GPU times of the kernels, recording off, their runs interleaved (one of
// each in turn, after a warm-up) so both see the same load on the machine.
std::vector<Spread> TimeKernels(vk::Context& context, const Puzzle& puzzle,
                                const std::vector<const vk::Pipeline*>& pipelines, uint32_t repeats) {
  Require(context.info().timestamp_valid_bits > 0,
          "Puzzles time kernels with GPU timestamps, which '" + context.info().name + "''s compute queue lacks.");
  std::vector<RunBuffers> buffers;
  std::vector<vk::Sequence> sequences;
  buffers.reserve(pipelines.size());  // the dispatches point at these buffers: no reallocation
  sequences.reserve(pipelines.size());
  for (const vk::Pipeline* pipeline : pipelines) {
    buffers.push_back(MakeBuffers(context, puzzle, 0));
    sequences.emplace_back(context, std::vector<vk::Dispatch>{MakeDispatch(puzzle, *pipeline, buffers.back(), false)});
  }
  std::vector<std::vector<double>> times(pipelines.size());
  for (uint32_t r = 0; r <= std::max(1u, repeats); ++r)  // the first round warms up
    for (size_t k = 0; k < sequences.size(); ++k) {
      context.RunOnce([&](VkCommandBuffer cb) { sequences[k].Record(cb); });
      if (r > 0) times[k].push_back(sequences[k].ReadDispatchTimesNs().at(0) * 1e-6);
    }
  std::vector<Spread> spreads;
  for (const std::vector<double>& t : times) spreads.push_back(SpreadOf(t));
  return spreads;
}

}  // namespace

PuzzleResult PuzzleRunner::Run(const Puzzle& puzzle, const std::string& body, const Options& options) {
  PuzzleResult result;
  result.puzzle = puzzle.name;
  result.device = context_.info().name;
  detail::CompiledKernel kernel = detail::CompilePuzzleKernel(puzzle, body, options.file_name);
  if (kernel.spirv.empty()) {
    result.compile_errors = kernel.errors;
    for (const CompileError& e : kernel.errors)
      result.diagnoses.push_back({DiagnosisKind::kCompileError,
                                  "compile error" + (e.line ? " on line " + std::to_string(e.line) : std::string()) +
                                      ": " + e.message});
    return result;
  }
  result.compiled = true;
  try {
    vk::Pipeline pipeline(context_, "puzzle " + puzzle.name, kernel.spirv, {});
    RunBuffers buffers = MakeBuffers(context_, puzzle, options.record_capacity);
    vk::Sequence sequence(context_, {MakeDispatch(puzzle, pipeline, buffers, true)});
    context_.RunOnce([&](VkCommandBuffer cb) {
      sequence.Record(cb, 0, false);
      vk::RecordComputeToHostBarrier(cb);
    });
    detail::ProbeReadout probe = ReadProbe(puzzle, buffers);
    for (size_t g = 0; g < puzzle.globals.size(); ++g) {
      if (!puzzle.globals[g].output) continue;
      std::vector<float> values(puzzle.globals[g].size());
      buffers.globals[g].DownloadVector(std::span<float>(values));
      result.outputs.push_back(std::move(values));
    }
    result.expected = puzzle.spec(puzzle.inputs());
    detail::Diagnose(puzzle, probe, result);
    detail::CheckOutputs(puzzle, result);
    std::stable_sort(result.diagnoses.begin(), result.diagnoses.end(),
                     [](const Diagnosis& a, const Diagnosis& b) { return a.kind < b.kind; });
    bool clean = true;
    for (const Diagnosis& d : result.diagnoses)
      if (d.kind != DiagnosisKind::kRecordsOverflowed) clean = false;
    result.passed = result.correct && result.within_budget && clean;
    if (result.correct && options.time) {
      std::unique_ptr<vk::Pipeline>& reference = reference_pipelines_[puzzle.name];
      if (!reference) {
        detail::CompiledKernel compiled = detail::CompilePuzzleKernel(puzzle, puzzle.solution, "solution.glsl");
        Require(!compiled.spirv.empty(), "Puzzle '" + puzzle.name + "': its reference solution does not compile.");
        reference = std::make_unique<vk::Pipeline>(context_, "puzzle " + puzzle.name + " (reference)",
                                                   compiled.spirv, vk::SpecConstants{});
      }
      const std::vector<Spread> spreads = TimeKernels(context_, puzzle, {&pipeline, reference.get()}, options.repeats);
      result.ms = spreads[0].median;
      result.ms_spread = {spreads[0].low, spreads[0].high};
      result.reference_ms = spreads[1].median;
      result.reference_ms_spread = {spreads[1].low, spreads[1].high};
    }
  } catch (const std::exception& e) {
    if (!IsDeviceLost(e)) throw;
    result.passed = false;
    result.diagnoses = {{DiagnosisKind::kDeviceLost,
                         std::string("device lost: the driver stopped this kernel and lost its device (") + e.what() +
                             "). Your code is kept; the device is being re-created."}};
  }
  return result;
}

PuzzleSession::PuzzleSession(vk::ContextOptions options) : options_(std::move(options)) {
  options_.robust_buffer_access = true;
  context_ = vk::Context::Create(options_);
  runner_ = std::make_unique<PuzzleRunner>(*context_);
}

PuzzleResult PuzzleSession::Run(const Puzzle& puzzle, const std::string& body, const PuzzleRunner::Options& options) {
  PuzzleResult result;
  if (lose_next_) {
    lose_next_ = false;
    result.puzzle = puzzle.name;
    result.device = context_->info().name;
    result.compiled = true;
    result.diagnoses = {{DiagnosisKind::kDeviceLost,
                         "device lost: the driver reported VK_ERROR_DEVICE_LOST (simulated for a test). Your code is "
                         "kept; the device is being re-created."}};
  } else {
    result = runner_->Run(puzzle, body, options);
  }
  if (!result.diagnoses.empty() && result.diagnoses.front().kind == DiagnosisKind::kDeviceLost) {
    // A lost device cannot be used again: drop it (pipelines, buffers and all) and make a new one.
    runner_.reset();
    context_.reset();
    context_ = vk::Context::Create(options_);
    runner_ = std::make_unique<PuzzleRunner>(*context_);
    ++recreated_;
    result.diagnoses.front().message += " Re-created: '" + context_->info().name + "' is ready; run again.";
  }
  return result;
}

}  // namespace ts::lab
