// The matmul autotuner: every candidate it may choose is right at odd shapes
// in each transpose form the plan uses; it picks the fastest measured
// candidate; its disk cache round-trips, survives damage, and is keyed by
// device; and a Plan records how each matmul kernel was chosen, a forced
// variant winning over autotuning.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "compute/kernels/autotune.h"
#include "compute/nn/model.h"
#include "compute/nn/plan.h"
#include "compute/reference/matmul.h"
#include "support/vulkan_test.h"

namespace ts {
namespace {

using kernels::MatmulCandidate;
using kernels::MatmulShape;
using kernels::MatmulTuneOptions;
using kernels::MatmulTuneResult;
using kernels::MatmulVariant;
using testing::VulkanTest;

// A fresh directory under the system's temp directory, removed at the end.
class TempDirectory {
 public:
  TempDirectory() {
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            ("tensorscope-autotune-" + std::string(info->name()) + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string ReadText(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class AutotuneTest : public VulkanTest {
 protected:
  void SetUp() override {
    VulkanTest::SetUp();
    kernels::ClearMatmulTuneMemoryCache();
  }
  // A tuner that caches only in `directory` (never the user's cache).
  MatmulTuneOptions Options(const TempDirectory& directory) {
    MatmulTuneOptions options;
    options.cache_file = directory.path() / "tensorscope" / "autotune.json";
    return options;
  }
};

// The three forms Plan uses: forward Z = X W, dW = X^T dZ, dX = dZ W^T.
struct Form {
  bool transpose_a, transpose_b;
};
constexpr Form kPlanForms[] = {{false, false}, {true, false}, {false, true}};

TEST_F(AutotuneTest, CandidatesFitTheDeviceAndStartWithItsDefault) {
  const vk::DeviceInfo& info = context().info();
  std::vector<MatmulCandidate> candidates = kernels::MatmulCandidates(info, {64, 128, 784});
  ASSERT_GE(candidates.size(), 2u);
  EXPECT_EQ(candidates.front().variant, kernels::DefaultMatmulVariant(info));
  bool has_register = false, has_shared = false;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const kernels::MatmulTiling& t = candidates[i].tiling;
    has_register |= candidates[i].variant == MatmulVariant::kRegisterBlocked;
    has_shared |= candidates[i].variant == MatmulVariant::kSharedTiled;
    EXPECT_GT(t.group_cols * t.group_rows * t.rows_per_invocation * t.cols_per_invocation * t.tile_depth, 0u);
    EXPECT_LE(t.group_cols * t.group_rows, info.max_workgroup_invocations);
    for (size_t j = 0; j < i; ++j) EXPECT_FALSE(candidates[i] == candidates[j]) << candidates[i].name();
  }
  EXPECT_TRUE(has_register);
  EXPECT_TRUE(has_shared);
}

// Each candidate, in each form Plan uses, at shapes that divide no tile.
TEST_F(AutotuneTest, EveryCandidateMatchesTheReferenceAtOddShapes) {
  auto rng = testing::MakeRng();
  const MatmulShape shapes[] = {{1, 1, 1}, {37, 53, 29}, {65, 130, 67}};
  for (const Form& form : kPlanForms)
    for (const MatmulShape& base : shapes) {
      MatmulShape s = base;
      s.transpose_a = form.transpose_a, s.transpose_b = form.transpose_b;
      std::vector<float> a = testing::RandomFloats(rng, size_t(s.m) * s.k), b = testing::RandomFloats(rng, size_t(s.k) * s.n);
      vk::Buffer a_buffer = MakeBuffer(a, "A"), b_buffer = MakeBuffer(b, "B");
      reference::MatmulShape shape{s.m, s.n, s.k, s.transpose_a, s.transpose_b};
      std::vector<double> ref = reference::Matmul(a, b, shape);
      std::vector<double> magnitude = reference::MatmulTermMagnitudes(a, b, shape);
      for (const MatmulCandidate& candidate : kernels::MatmulCandidates(context().info(), s)) {
        SCOPED_TRACE(candidate.name() + " at " + s.key());
        vk::Buffer c_buffer = MakePoisonedBuffer(size_t(s.m) * s.n, "C");
        kernels::MatmulArgs args{kernels::WholeBuffer(a_buffer), kernels::WholeBuffer(b_buffer),
                                 kernels::WholeBuffer(c_buffer), s.m, s.n, s.k, s.transpose_a, s.transpose_b};
        Run({kernels::MatmulDispatch(pipelines(), args, candidate.variant, candidate.tiling)});
        std::vector<float> c = Read<float>(c_buffer, ref.size());
        int wrong = 0;
        for (size_t e = 0; e < ref.size(); ++e)
          if (!(std::abs(double(c[e]) - ref[e]) <= 1e-5 * magnitude[e] + 1e-30) && wrong++ < 3)
            ADD_FAILURE() << "C[" << e / s.n << "][" << e % s.n << "] = " << c[e] << ", reference " << ref[e];
        EXPECT_EQ(wrong, 0);
      }
    }
}

TEST_F(AutotuneTest, PicksTheFastestCorrectCandidate) {
  TempDirectory directory;
  MatmulShape shape{37, 53, 29, false, true};
  uint64_t runs_before = kernels::MatmulTuneRunCount();
  MatmulTuneResult result = kernels::TuneMatmul(context(), pipelines(), shape, Options(directory));
  EXPECT_FALSE(result.from_cache);
  EXPECT_EQ(result.shape.key(), shape.key());
  ASSERT_EQ(result.candidates.size(), kernels::MatmulCandidates(context().info(), shape).size());
  if (context().info().timestamp_valid_bits == 0) GTEST_SKIP() << "the device has no timestamps";
  EXPECT_TRUE(result.measured);
  EXPECT_GT(kernels::MatmulTuneRunCount(), runs_before);
  double best = INFINITY;
  std::string best_name;
  for (const kernels::MatmulCandidateResult& r : result.candidates) {
    EXPECT_TRUE(r.correct) << r.candidate.name() << ": " << r.rejected;
    EXPECT_GT(r.median_ns, 0) << r.candidate.name();
    EXPECT_GE(r.runs, 1u);
    if (r.median_ns < best) best = r.median_ns, best_name = r.candidate.name();
  }
  EXPECT_EQ(result.chosen.name(), best_name);
}

// Mixed precision: the fp16 kernels are tuned on their own (their own cache
// key), every candidate checked against the reference with fp16 rounding.
TEST_F(AutotuneTest, TunesTheFp16KernelsApartFromFp32) {
  if (!context().info().fp16_storage) GTEST_SKIP() << "no fp16 storage";
  TempDirectory directory;
  for (bool half_c : {true, false}) {
    MatmulShape shape{37, 53, 29, false, true, /*half=*/true, half_c};
    EXPECT_NE(shape.key(), (MatmulShape{37, 53, 29, false, true}).key());
    MatmulTuneResult result = kernels::TuneMatmul(context(), pipelines(), shape, Options(directory));
    EXPECT_FALSE(result.from_cache) << shape.key();
    EXPECT_EQ(result.shape.key(), shape.key());
    for (const kernels::MatmulCandidateResult& r : result.candidates)
      EXPECT_TRUE(r.correct) << shape.key() << " " << r.candidate.name() << ": " << r.rejected;
  }
}

// Second call: from the disk cache (memory cache cleared), nothing runs, same choice.
TEST_F(AutotuneTest, DiskCacheRoundTripsAndMeasuresNothingTheSecondTime) {
  TempDirectory directory;
  // Through XDG_CACHE_HOME, as the app finds it.
  const char* old = std::getenv("XDG_CACHE_HOME");
  std::string saved = old ? old : "";
  ::setenv("XDG_CACHE_HOME", directory.path().c_str(), 1);
  MatmulTuneOptions options;  // its default cache file
  EXPECT_EQ(options.cache_file, directory.path() / "tensorscope" / "autotune.json");
  if (old) ::setenv("XDG_CACHE_HOME", saved.c_str(), 1); else ::unsetenv("XDG_CACHE_HOME");

  MatmulShape shape{1, 1, 1};
  MatmulTuneResult first = kernels::TuneMatmul(context(), pipelines(), shape, options);
  if (!first.measured) GTEST_SKIP() << "the device has no timestamps (nothing is cached)";
  ASSERT_TRUE(std::filesystem::exists(options.cache_file));
  nlohmann::json file = nlohmann::json::parse(ReadText(options.cache_file));
  const std::string device_key = kernels::AutotuneDeviceKey(context().info());
  ASSERT_TRUE(file.contains(device_key));
  EXPECT_TRUE(file[device_key].contains(shape.key()));

  kernels::ClearMatmulTuneMemoryCache();
  uint64_t runs = kernels::MatmulTuneRunCount();
  MatmulTuneResult second = kernels::TuneMatmul(context(), pipelines(), shape, options);
  EXPECT_TRUE(second.from_cache);
  EXPECT_EQ(kernels::MatmulTuneRunCount(), runs);
  EXPECT_EQ(second.chosen.name(), first.chosen.name());
  ASSERT_EQ(second.candidates.size(), first.candidates.size());
  for (size_t i = 0; i < first.candidates.size(); ++i) {
    EXPECT_EQ(second.candidates[i].candidate.name(), first.candidates[i].candidate.name());
    EXPECT_DOUBLE_EQ(second.candidates[i].median_ns, first.candidates[i].median_ns);
  }
  // The memory cache answers too, without reading the file.
  MatmulTuneResult third = kernels::TuneMatmul(context(), pipelines(), shape, options);
  EXPECT_TRUE(third.from_cache);
  EXPECT_EQ(kernels::MatmulTuneRunCount(), runs);
  // use_cache = false measures again.
  options.use_cache = false;
  kernels::TuneMatmul(context(), pipelines(), shape, options);
  EXPECT_GT(kernels::MatmulTuneRunCount(), runs);
}

TEST_F(AutotuneTest, DamagedCacheFileIsIgnoredAndRewritten) {
  TempDirectory directory;
  MatmulTuneOptions options = Options(directory);
  std::filesystem::create_directories(options.cache_file.parent_path());
  const MatmulShape shape{1, 1, 1};
  const std::string device_key = kernels::AutotuneDeviceKey(context().info());
  // Not JSON at all; then JSON whose entry for this shape is nonsense.
  for (const std::string& damage :
       {std::string("{\"truncated"), nlohmann::json{{device_key, {{shape.key(), {{"chosen", 7}}}}}}.dump()}) {
    SCOPED_TRACE(damage);
    std::ofstream(options.cache_file) << damage;
    kernels::ClearMatmulTuneMemoryCache();
    uint64_t runs = kernels::MatmulTuneRunCount();
    MatmulTuneResult result = kernels::TuneMatmul(context(), pipelines(), shape, options);
    EXPECT_FALSE(result.from_cache);
    if (!result.measured) GTEST_SKIP() << "the device has no timestamps";
    EXPECT_GT(kernels::MatmulTuneRunCount(), runs);
    nlohmann::json file = nlohmann::json::parse(ReadText(options.cache_file), nullptr, false);
    ASSERT_TRUE(file.is_object());
    EXPECT_EQ(file[device_key][shape.key()]["chosen"], result.chosen.name());
  }
}

// A small MLP: the plan records how each matmul's kernel was chosen, and a
// forced variant wins over autotuning (nothing is measured).
TEST_F(AutotuneTest, PlanRecordsTheChoiceAndAForcedVariantWins) {
  TempDirectory directory;
  nn::ModelDesc model = nn::ParseModel(R"({"name": "tiny", "layers": [{"type": "input", "shape": [3]},
    {"type": "dense", "units": 5}, {"type": "relu"}, {"type": "dense", "units": 2}, {"type": "softmax"}]})",
                                       "tiny model");
  nn::PlanOptions options;
  options.batch = 8;
  options.slots = 1;
  options.autotune_cache_file = directory.path() / "autotune.json";
  auto matmul_labels = [](const nn::Plan& plan) {
    std::vector<std::string> labels;
    for (const vk::Dispatch& d : plan.train_step())
      if (d.kernel == "matmul") labels.push_back(d.label);
    return labels;
  };

  // Forced: no tuning although autotune is on.
  options.forced_variant = nn::ForcedVariant::kSharedTiled;
  uint64_t runs = kernels::MatmulTuneRunCount();
  std::unique_ptr<nn::Plan> forced = nn::Plan::Compile(context(), pipelines(), model, options);
  EXPECT_EQ(kernels::MatmulTuneRunCount(), runs);
  std::vector<std::string> labels = matmul_labels(*forced);
  ASSERT_EQ(labels.size(), 5u);  // 2 forward, 2 dW, 1 dX (none into the network input)
  for (const std::string& label : labels) {
    const nn::KernelChoice* choice = forced->kernel_choice(label);
    ASSERT_NE(choice, nullptr) << label;
    EXPECT_EQ(choice->how, nn::KernelChoice::How::kForced) << label;
    EXPECT_EQ(choice->variant.rfind("shared-tiled", 0), 0u) << choice->variant;
    EXPECT_TRUE(choice->alternatives_ns.empty());
  }
  EXPECT_EQ(forced->kernel_choice("no such dispatch"), nullptr);

  // Autotune off: the device's default.
  options.forced_variant = nn::ForcedVariant::kNone;
  options.autotune = false;
  std::unique_ptr<nn::Plan> plain = nn::Plan::Compile(context(), pipelines(), model, options);
  EXPECT_EQ(kernels::MatmulTuneRunCount(), runs);
  for (const std::string& label : matmul_labels(*plain))
    EXPECT_EQ(plain->kernel_choice(label)->how, nn::KernelChoice::How::kDefault) << label;

  // Autotuned: each matmul says which candidate won and what the others measured.
  options.autotune = true;
  std::unique_ptr<nn::Plan> tuned = nn::Plan::Compile(context(), pipelines(), model, options);
  if (context().info().timestamp_valid_bits == 0) GTEST_SKIP() << "the device has no timestamps";
  EXPECT_GT(kernels::MatmulTuneRunCount(), runs);
  for (const std::string& label : matmul_labels(*tuned)) {
    const nn::KernelChoice* choice = tuned->kernel_choice(label);
    ASSERT_NE(choice, nullptr) << label;
    EXPECT_EQ(choice->how, nn::KernelChoice::How::kTuned) << label;
    ASSERT_FALSE(choice->alternatives_ns.empty()) << label;
    double best = INFINITY;
    std::string best_name;
    for (const auto& [name, ns] : choice->alternatives_ns)
      if (ns < best) best = ns, best_name = name;
    EXPECT_EQ(choice->variant, best_name) << label;
  }
}

}  // namespace
}  // namespace ts
