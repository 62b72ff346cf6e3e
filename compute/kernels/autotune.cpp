#include "compute/kernels/autotune.h"

#include "compute/common/half.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <limits>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "compute/common/json_cache.h"
#include "compute/common/error.h"
#include "compute/nn/model.h"  // WriteFileAtomically
#include "compute/vk/buffer.h"
#include "compute/vk/sequence.h"

namespace ts::kernels {
namespace {

std::atomic<uint64_t> g_run_count{0};

// The process-wide memory cache: device key -> shape key -> result. One lock
// for it and the disk file, so two plans compiling at once do not interleave
// their read-modify-write of the file.
std::mutex g_mutex;
std::map<std::string, std::map<std::string, MatmulTuneResult>> g_memory;

// Elements of C checked against the reference: all of them up to this many
// multiply-adds, else a sample of rows and columns.
constexpr uint64_t kFullCheckMacs = uint64_t(1) << 22;
constexpr uint32_t kSampledElements = 512;


nlohmann::json CandidateToJson(const MatmulCandidateResult& r) {
  const MatmulTiling& t = r.candidate.tiling;
  return {{"variant", MatmulVariantName(r.candidate.variant)},
          {"tiling", {t.group_cols, t.group_rows, t.rows_per_invocation, t.cols_per_invocation, t.tile_depth}},
          {"correct", r.correct},
          {"rejected", r.rejected},
          {"median_ns", r.median_ns},
          {"runs", r.runs}};
}

MatmulCandidateResult CandidateFromJson(const nlohmann::json& j) {
  MatmulCandidateResult r;
  const std::string variant = j.at("variant").get<std::string>();
  if (variant == MatmulVariantName(MatmulVariant::kRegisterBlocked))
    r.candidate.variant = MatmulVariant::kRegisterBlocked;
  else if (variant == MatmulVariantName(MatmulVariant::kSharedTiled))
    r.candidate.variant = MatmulVariant::kSharedTiled;
  else if (variant == MatmulVariantName(MatmulVariant::kCooperativeMatrix))
    r.candidate.variant = MatmulVariant::kCooperativeMatrix;
  else
    throw Error("autotune cache: unknown variant \"" + variant + "\".");
  std::vector<uint32_t> t = j.at("tiling").get<std::vector<uint32_t>>();
  if (t.size() != 5) throw Error("autotune cache: a tiling should have 5 numbers.");
  r.candidate.tiling = {t[0], t[1], t[2], t[3], t[4]};
  r.correct = j.at("correct").get<bool>();
  r.rejected = j.at("rejected").get<std::string>();
  r.median_ns = j.at("median_ns").get<double>();
  r.runs = j.at("runs").get<uint32_t>();
  return r;
}

// A cached entry, accepted only when its chosen candidate is still one this
// build would try on this device (limits or candidate lists may have changed).
std::optional<MatmulTuneResult> ResultFromJson(const nlohmann::json& j, const MatmulShape& shape,
                                               const std::vector<MatmulCandidate>& current) {
  try {
    MatmulTuneResult result;
    result.shape = shape;
    result.measured = true;
    for (const nlohmann::json& c : j.at("candidates")) result.candidates.push_back(CandidateFromJson(c));
    const std::string chosen = j.at("chosen").get<std::string>();
    for (const MatmulCandidateResult& r : result.candidates)
      if (r.candidate.name() == chosen && r.correct) result.chosen = r.candidate;
    if (result.chosen.name() != chosen) return std::nullopt;
    if (std::find(current.begin(), current.end(), result.chosen) == current.end()) return std::nullopt;
    return result;
  } catch (const std::exception&) {
    return std::nullopt;  // a damaged entry is tuned again
  }
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

// Scratch inputs for one shape, shared by every candidate.
uint64_t AlignUp4(uint64_t bytes) { return std::max<uint64_t>((bytes + 3) / 4 * 4, 4); }

struct Scratch {
  std::vector<float> a, b;
  vk::Buffer a_buffer, b_buffer, c_buffer;
  // The elements of C checked: (row, column) and the reference value and the
  // sum of |terms| (the scale of float rounding) in double.
  struct Check {
    uint32_t row, col;
    double value, magnitude;
  };
  std::vector<Check> checks;
};

Scratch MakeScratch(vk::Context& context, const MatmulShape& s) {
  Scratch scratch;
  std::mt19937_64 rng(0x5EED0000ull ^ (uint64_t(s.m) << 40) ^ (uint64_t(s.n) << 20) ^ s.k);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  scratch.a.resize(size_t(s.m) * s.k);
  scratch.b.resize(size_t(s.k) * s.n);
  // fp16: values an fp16 tensor holds exactly, so the reference sees what the kernel reads.
  for (float& v : scratch.a) v = s.half ? RoundToHalf(uniform(rng)) : uniform(rng);
  for (float& v : scratch.b) v = s.half ? RoundToHalf(uniform(rng)) : uniform(rng);
  const uint64_t ab_bytes = s.half ? 2 : 4, c_bytes = s.half && s.half_c ? 2 : 4;
  scratch.a_buffer = vk::Buffer(context, AlignUp4(scratch.a.size() * ab_bytes), "autotune A");
  scratch.b_buffer = vk::Buffer(context, AlignUp4(scratch.b.size() * ab_bytes), "autotune B");
  scratch.c_buffer = vk::Buffer(context, AlignUp4(uint64_t(s.m) * s.n * c_bytes), "autotune C");
  auto upload = [&](vk::Buffer& buffer, const std::vector<float>& values) {
    if (!s.half) return buffer.UploadVector(std::span<const float>(values));
    std::vector<uint16_t> halves(values.size() + values.size() % 2, 0);
    for (size_t i = 0; i < values.size(); ++i) halves[i] = FloatToHalf(values[i]);
    buffer.UploadVector(std::span<const uint16_t>(halves));
  };
  upload(scratch.a_buffer, scratch.a);
  upload(scratch.b_buffer, scratch.b);

  // op(A)[i][p] and op(B)[p][j] as stored (see MatmulArgs).
  auto a_at = [&](uint32_t i, uint32_t p) {
    return double(s.transpose_a ? scratch.a[size_t(p) * s.m + i] : scratch.a[size_t(i) * s.k + p]);
  };
  auto b_at = [&](uint32_t p, uint32_t j) {
    return double(s.transpose_b ? scratch.b[size_t(j) * s.k + p] : scratch.b[size_t(p) * s.n + j]);
  };
  auto add_check = [&](uint32_t i, uint32_t j) {
    double sum = 0, magnitude = 0;
    for (uint32_t p = 0; p < s.k; ++p) {
      double term = a_at(i, p) * b_at(p, j);
      sum += term;
      magnitude += std::abs(term);
    }
    scratch.checks.push_back({i, j, sum, magnitude});
  };
  if (uint64_t(s.m) * s.n * s.k <= kFullCheckMacs) {
    for (uint32_t i = 0; i < s.m; ++i)
      for (uint32_t j = 0; j < s.n; ++j) add_check(i, j);
  } else {
    // The four corners (edge tiles) and random elements.
    add_check(0, 0), add_check(0, s.n - 1), add_check(s.m - 1, 0), add_check(s.m - 1, s.n - 1);
    for (uint32_t e = 0; e < kSampledElements; ++e) add_check(uint32_t(rng() % s.m), uint32_t(rng() % s.n));
  }
  return scratch;
}

// Runs `candidate` 1 + `timed_runs` times in one submission (C poisoned with
// NaN first), checks C and returns the timed runs' GPU ns.
std::vector<double> RunCandidate(vk::Context& context, vk::PipelineCache& pipelines, const MatmulShape& s,
                                 Scratch& scratch, const MatmulCandidate& candidate, uint32_t timed_runs,
                                 std::string* wrong) {
  const bool half_c = s.half && s.half_c;
  const uint64_t elements = uint64_t(s.m) * s.n;
  if (half_c) {  // fp16 NaNs
    std::vector<uint16_t> poison(elements + elements % 2, 0x7e00);
    scratch.c_buffer.UploadVector(std::span<const uint16_t>(poison));
  } else {
    std::vector<float> poison(elements, std::numeric_limits<float>::quiet_NaN());
    scratch.c_buffer.UploadVector(std::span<const float>(poison));
  }
  auto view = [](const vk::Buffer& buffer, uint64_t count, bool half) {
    return TensorRef{&buffer, 0, count, 0, half ? 2u : 4u};
  };
  MatmulArgs args{view(scratch.a_buffer, scratch.a.size(), s.half), view(scratch.b_buffer, scratch.b.size(), s.half),
                  view(scratch.c_buffer, elements, half_c), s.m, s.n, s.k, s.transpose_a, s.transpose_b, false};
  vk::Dispatch dispatch = MatmulDispatch(pipelines, args, candidate.variant, candidate.tiling);
  vk::Sequence sequence(context, std::vector<vk::Dispatch>(1 + timed_runs, dispatch));
  context.RunOnce([&](VkCommandBuffer cb) {
    sequence.Record(cb);
    vk::RecordComputeToHostBarrier(cb);
  });
  g_run_count += 1 + timed_runs;
  std::vector<double> times = sequence.ReadDispatchTimesNs();
  times.erase(times.begin());  // the warm-up

  if (wrong) {
    std::vector<float> c(elements);
    if (half_c) {
      std::vector<uint16_t> halves(elements + elements % 2);
      scratch.c_buffer.DownloadVector(std::span<uint16_t>(halves));
      for (size_t i = 0; i < elements; ++i) c[i] = HalfToFloat(halves[i]);
    } else {
      scratch.c_buffer.DownloadVector(std::span<float>(c));
    }
    for (const Scratch::Check& check : scratch.checks) {
      double got = c[size_t(check.row) * s.n + check.col];
      // fp32 sums; an fp16 C is also rounded to 11 significant bits.
      double bound = 1e-4 * check.magnitude + (half_c ? std::abs(check.value) / 1024 + 6e-8 : 1e-30);
      if (!(std::abs(got - check.value) <= bound)) {
        std::ostringstream why;
        why << "C[" << check.row << "][" << check.col << "] = " << got << ", the reference gives " << check.value;
        *wrong = why.str();
        break;
      }
    }
  }
  return times;
}

MatmulTuneResult Measure(vk::Context& context, vk::PipelineCache& pipelines, const MatmulShape& shape,
                         const std::vector<MatmulCandidate>& candidates, const MatmulTuneOptions& options) {
  MatmulTuneResult result;
  result.shape = shape;
  result.chosen = candidates.front();
  for (const MatmulCandidate& c : candidates) result.candidates.push_back({c});
  if (context.info().timestamp_valid_bits == 0) {
    for (MatmulCandidateResult& r : result.candidates) r.rejected = "not measured: the device has no timestamps";
    return result;  // the default, unmeasured
  }
  result.measured = true;
  Scratch scratch = MakeScratch(context, shape);
  const uint32_t repeats = std::max<uint32_t>(1, options.repeats);
  double best = 0;
  int best_index = -1;
  for (size_t i = 0; i < result.candidates.size(); ++i) {
    MatmulCandidateResult& r = result.candidates[i];
    std::string wrong;
    // First: a warm-up, a timed run and the correctness check.
    std::vector<double> times = RunCandidate(context, pipelines, shape, scratch, r.candidate, 1, &wrong);
    if (!wrong.empty()) {
      r.rejected = "wrong result: " + wrong;
      continue;
    }
    r.correct = true;
    // Far slower than the best so far: one run says enough.
    if (best_index < 0 || times[0] <= options.give_up_factor * best) {
      std::vector<double> more = RunCandidate(context, pipelines, shape, scratch, r.candidate, repeats - 1, nullptr);
      times.insert(times.end(), more.begin(), more.end());
    }
    r.runs = static_cast<uint32_t>(times.size());
    r.median_ns = Median(times);
    if (best_index < 0 || r.median_ns < best) best = r.median_ns, best_index = static_cast<int>(i);
  }
  if (best_index < 0) {
    std::string reasons;
    for (const MatmulCandidateResult& r : result.candidates) reasons += "\n  " + r.candidate.name() + ": " + r.rejected;
    throw Error("The matmul autotuner found no correct kernel for " + shape.key() + " on '" + context.info().name +
                "':" + reasons);
  }
  result.chosen = result.candidates[best_index].candidate;
  return result;
}

}  // namespace

const char* MatmulVariantName(MatmulVariant variant) {
  switch (variant) {
    case MatmulVariant::kRegisterBlocked: return "register-blocked";
    case MatmulVariant::kSharedTiled: return "shared-tiled";
    case MatmulVariant::kCooperativeMatrix: return "cooperative-matrix";
  }
  return "?";
}

std::string MatmulCandidate::name() const {
  const MatmulTiling& t = tiling;
  if (variant == MatmulVariant::kCooperativeMatrix)  // e.g. "cooperative-matrix 32x32 (2x2 subgroups) k32"
    return std::string(MatmulVariantName(variant)) + " " + std::to_string(t.rows_per_invocation) + "x" +
           std::to_string(t.cols_per_invocation) + " (" + std::to_string(t.group_rows) + "x" +
           std::to_string(t.group_cols) + " subgroups) k" + std::to_string(t.tile_depth);
  std::string s = std::string(MatmulVariantName(variant)) + " " + std::to_string(t.rows_per_invocation) + "x" +
                  std::to_string(t.cols_per_invocation) + " (" + std::to_string(t.group_rows) + "x" +
                  std::to_string(t.group_cols) + ")";
  if (variant == MatmulVariant::kSharedTiled) s += " k" + std::to_string(t.tile_depth);
  return s;
}

bool MatmulCandidate::operator==(const MatmulCandidate& o) const {
  return variant == o.variant && tiling.group_cols == o.tiling.group_cols && tiling.group_rows == o.tiling.group_rows &&
         tiling.rows_per_invocation == o.tiling.rows_per_invocation &&
         tiling.cols_per_invocation == o.tiling.cols_per_invocation &&
         (variant == MatmulVariant::kRegisterBlocked || tiling.tile_depth == o.tiling.tile_depth);
}

std::string MatmulShape::key() const {
  return std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k) + (transpose_a ? " A^T" : " A") +
         (transpose_b ? " B^T" : " B") + (!half ? "" : half_c ? " fp16" : " fp16->fp32");
}

std::vector<MatmulCandidate> MatmulCandidates(const vk::DeviceInfo& device, const MatmulShape& shape) {
  MatmulArgs args;
  args.m = shape.m, args.n = shape.n, args.k = shape.k;
  args.transpose_a = shape.transpose_a, args.transpose_b = shape.transpose_b;
  // Register-blocked: the default (32 x 4 per invocation, one subgroup
  // sharing loads of A), a squarer block, a smaller one for thin shapes, and
  // for large shapes two larger ones (32 x 8, 64 x 4) that pay where subgroups are wide: on
  // lavapipe at 512 bits (16 lanes, 32 vector registers) they ran 1024^3 at
  // 45-100 GFLOP/s against 33-54 for 32 x 4 (texel reads, a loaded host).
  // Shared-tiled: the default 64 x 64 tile, and on hardware a 128 x 128 one.
  // Every pipeline costs lavapipe about a second of compilation, so software
  // drivers get one shared-tiled candidate.
  // Workgroups one subgroup wide on software drivers (16 lanes at 512 bits).
  const uint32_t width = SoftwareGroupWidth(device);
  std::vector<std::pair<MatmulVariant, MatmulTiling>> requests = {
      {MatmulVariant::kRegisterBlocked, {}},
      {MatmulVariant::kRegisterBlocked, {width, 1, 16, 8, 0}},
      {MatmulVariant::kRegisterBlocked, {width, 2, 8, 4, 0}},
      {MatmulVariant::kSharedTiled, {}},
  };
  // The wide blocks only where C has room for them and K makes the work
  // worth their compilation (a second each on lavapipe): not for the small
  // layers of the toy models, whose plans would take seconds longer to tune.
  if (uint64_t(shape.m) * shape.n >= 64 * 64 && uint64_t(shape.m) * shape.n * shape.k >= (uint64_t(1) << 21)) {
    requests.push_back({MatmulVariant::kRegisterBlocked, {width, 1, 32, 8, 0}});
    requests.push_back({MatmulVariant::kRegisterBlocked, {width, 1, 64, 4, 0}});
  }
  if (!device.is_software()) requests.push_back({MatmulVariant::kSharedTiled, {16, 16, 8, 8, 8}});
  // Tensor cores for fp16 products where the device has them: 64 x 64 tiles of
  // C from 2 x 2 subgroups, and 128 x 64 from 4 x 2.
  if (shape.half && device.cooperative_matrix_fp16) {
    requests.push_back({MatmulVariant::kCooperativeMatrix, {}});
    requests.push_back({MatmulVariant::kCooperativeMatrix, {2, 4, 32, 32, 32}});
  }
  const MatmulVariant preferred = DefaultMatmulVariant(device);
  std::stable_partition(requests.begin(), requests.end(), [&](const auto& r) {
    return r.first == preferred && r.second.group_cols == 0;
  });
  std::vector<MatmulCandidate> candidates;
  for (const auto& [variant, requested] : requests) {
    MatmulCandidate c{variant, ChooseMatmulTiling(device, args, variant, requested)};
    if (variant == MatmulVariant::kRegisterBlocked) c.tiling.tile_depth = 1;
    if (std::find(candidates.begin(), candidates.end(), c) == candidates.end()) candidates.push_back(c);
  }
  return candidates;
}

std::filesystem::path DefaultAutotuneCacheFile() {
  std::filesystem::path root;
  if (const char* cache = std::getenv("XDG_CACHE_HOME"); cache && *cache)
    root = cache;
  else if (const char* home = std::getenv("HOME"); home && *home)
    root = std::filesystem::path(home) / ".cache";
  else
    return {};
  return root / "tensorscope" / "autotune.json";
}

std::string AutotuneDeviceKey(const vk::DeviceInfo& device) {
  return device.name + " | " + device.driver_name + " " + device.driver_info + " | Vulkan " +
         std::to_string(VK_API_VERSION_MAJOR(device.api_version)) + "." +
         std::to_string(VK_API_VERSION_MINOR(device.api_version)) + "." +
         std::to_string(VK_API_VERSION_PATCH(device.api_version));
}

MatmulTuneResult TuneMatmul(vk::Context& context, vk::PipelineCache& pipelines, const MatmulShape& shape,
                            const MatmulTuneOptions& options) {
  Require(shape.m > 0 && shape.n > 0 && shape.k > 0,
          "The matmul autotuner needs a non-empty shape, found " + shape.key() + ".");
  const std::string device_key = AutotuneDeviceKey(context.info());
  const std::string shape_key = shape.key();
  const std::vector<MatmulCandidate> candidates = MatmulCandidates(context.info(), shape);

  std::lock_guard lock(g_mutex);
  if (options.use_cache) {
    auto device = g_memory.find(device_key);
    if (device != g_memory.end())
      if (auto found = device->second.find(shape_key); found != device->second.end()) {
        MatmulTuneResult cached = found->second;
        cached.from_cache = true;
        return cached;
      }
  }
  nlohmann::json disk = options.cache_file.empty() ? nlohmann::json::object() : ReadJsonCacheObject(options.cache_file);
  if (!disk.contains(device_key) || !disk[device_key].is_object()) disk[device_key] = nlohmann::json::object();
  if (options.use_cache && disk[device_key].contains(shape_key))
    if (std::optional<MatmulTuneResult> cached = ResultFromJson(disk[device_key][shape_key], shape, candidates)) {
      g_memory[device_key][shape_key] = *cached;
      cached->from_cache = true;
      return *cached;
    }

  MatmulTuneResult result = Measure(context, pipelines, shape, candidates, options);
  g_memory[device_key][shape_key] = result;
  if (!options.cache_file.empty() && result.measured) {
    nlohmann::json entry = {{"chosen", result.chosen.name()}, {"candidates", nlohmann::json::array()}};
    for (const MatmulCandidateResult& r : result.candidates) entry["candidates"].push_back(CandidateToJson(r));
    disk[device_key][shape_key] = std::move(entry);
    try {
      std::error_code ignored;
      std::filesystem::create_directories(options.cache_file.parent_path(), ignored);
      nn::WriteFileAtomically(options.cache_file.string(), disk.dump(2) + "\n");
    } catch (const Error&) {
      // A cache that cannot be written only costs a measurement next time.
    }
  }
  return result;
}

uint64_t MatmulTuneRunCount() { return g_run_count.load(); }

void ClearMatmulTuneMemoryCache() {
  std::lock_guard lock(g_mutex);
  g_memory.clear();
}

}  // namespace ts::kernels
