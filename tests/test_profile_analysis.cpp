// The analysis behind the GPU-insight views, on synthetic data where the
// answer is known: the roofline, the per-kernel table (grouping, shares,
// rates, the bound on both sides of the ridge, the invocation cross-check,
// sorting), the timeline's Chrome trace, the memory map and its estimate
// against real compiled plans, and the ceilings cache on disk.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compute/nn/plan.h"
#include "compute/nn/presets.h"
#include "compute/profile/ceilings.h"
#include "compute/profile/kernel_table.h"
#include "compute/profile/memory_map.h"
#include "compute/profile/occupancy.h"
#include "compute/profile/timeline.h"
#include "support/temp_files.h"
#include "support/vulkan_test.h"

namespace ts {
namespace {

using nlohmann::json;
using testing::ThrowsErrorWith;
using testing::VulkanTest;

std::string ReadText(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// ---- Roofline -----------------------------------------------------------------

TEST(Roofline, RidgeAndAttainable) {
  const profile::Roofline roof{100.0, 10.0};  // GFLOP/s, GB/s
  EXPECT_DOUBLE_EQ(roof.ridge_intensity(), 10.0);
  EXPECT_DOUBLE_EQ(roof.attainable_gflops(2.0), 20.0);    // memory side: intensity x bandwidth
  EXPECT_DOUBLE_EQ(roof.attainable_gflops(10.0), 100.0);  // the ridge
  EXPECT_DOUBLE_EQ(roof.attainable_gflops(50.0), 100.0);  // compute side: flat
  EXPECT_DOUBLE_EQ(roof.attainable_gflops(0.0), 0.0);
  EXPECT_DOUBLE_EQ(profile::Roofline{}.ridge_intensity(), 0.0);
  EXPECT_STREQ(profile::BoundName(profile::Bound::kMemory), "memory");
  EXPECT_STREQ(profile::BoundName(profile::Bound::kCompute), "compute");
  EXPECT_STREQ(profile::BoundName(profile::Bound::kUnknown), "?");
}

// ---- Kernel table -------------------------------------------------------------

nn::DispatchInfo Info(const std::string& kernel, int layer, nn::Pass pass, double flops, double read, double written,
                      std::array<uint32_t, 3> groups, std::array<uint32_t, 3> local) {
  nn::DispatchInfo d;
  d.kernel = kernel;
  d.shader = kernel;
  d.label = kernel + " of layer " + std::to_string(layer);
  d.role = {layer, pass};
  d.cost = {flops, read, written};
  d.workgroups = groups;
  d.local_size = local;
  return d;
}

struct SyntheticStep {
  nn::ModelDesc model;
  std::vector<nn::DispatchInfo> dispatches;
  std::vector<double> ns;
  profile::Ceilings ceilings;
  vk::DeviceInfo device;
  SyntheticStep() {
    model.layers.resize(3);
    model.layers[0].name = "input";
    model.layers[1].name = "dense_1";
    model.layers[2].name = "loss";
    using P = nn::Pass;
    // 0: matmul forward: 2*64*128*256 FLOPs, intensity far above the ridge (10).
    dispatches.push_back(Info("matmul", 1, P::kForward, 4194304, 163840, 32768, {4, 2, 1}, {16, 4, 1}));
    // 1: bias + relu: 1 FLOP per 8 bytes, below the ridge.
    dispatches.push_back(Info("bias_act", 1, P::kForward, 8192, 33280, 32768, {65, 1, 1}, {65, 1, 1}));
    // 2, 3: a split bias-gradient reduction: one row, two calls.
    dispatches.push_back(Info("bias_act_back", 1, P::kBackward, 8192, 65536, 2048, {8, 1, 1}, {64, 1, 1}));
    dispatches.push_back(Info("bias_act_back_combine", 1, P::kBackward, 512, 2048, 512, {1, 1, 1}, {128, 1, 1}));
    // 4, 5: the two backward matmuls (dW, dX): one row, two calls.
    dispatches.push_back(Info("matmul", 1, P::kBackward, 4194304, 163840, 131072, {4, 4, 1}, {16, 4, 1}));
    dispatches.push_back(Info("matmul", 1, P::kBackward, 4194304, 163840, 32768, {4, 2, 1}, {16, 4, 1}));
    // 6: the optimizer, no layer.
    dispatches.push_back(Info("optimizer", -1, P::kUpdate, 400000, 1600000, 1200000, {98, 1, 1}, {256, 1, 1}));
    ns = {1000, 500, 300, 100, 2000, 2000, 600};
    ceilings.fp32_gflops = 100;
    ceilings.bandwidth_gbs = 10;
    device.subgroup_size = 32;
  }
};

TEST(KernelTable, GroupsByKernelLayerAndPass) {
  SyntheticStep s;
  const auto rows = profile::BuildKernelTable(s.dispatches, s.ns, &s.model, &s.ceilings, s.device);
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[0].kernel, "matmul");
  EXPECT_EQ(rows[0].pass, nn::Pass::kForward);
  EXPECT_EQ(rows[1].kernel, "bias_act");
  EXPECT_EQ(rows[2].kernel, "bias_act_back");  // with its combine
  EXPECT_EQ(rows[2].dispatches, (std::vector<size_t>{2, 3}));
  EXPECT_EQ(rows[2].calls_per_step, 2u);
  EXPECT_EQ(rows[3].kernel, "matmul");
  EXPECT_EQ(rows[3].pass, nn::Pass::kBackward);
  EXPECT_EQ(rows[3].calls_per_step, 2u);
  EXPECT_EQ(rows[4].kernel, "optimizer");
  EXPECT_EQ(rows[4].layer, -1);
  EXPECT_EQ(rows[4].layer_name, "");
  EXPECT_EQ(rows[0].layer_name, "dense_1");
  EXPECT_EQ(rows[2].label, s.dispatches[2].label);  // the first dispatch's
  // Sums over the calls.
  EXPECT_DOUBLE_EQ(rows[2].time_ns, 400);
  EXPECT_DOUBLE_EQ(rows[3].time_ns, 4000);
  EXPECT_DOUBLE_EQ(rows[3].flops, 2 * 4194304.0);
  EXPECT_DOUBLE_EQ(rows[3].bytes, 163840.0 * 2 + 131072 + 32768);
  EXPECT_EQ(rows[2].invocations, 8u * 64 + 128);
  // Geometry of the first call; subgroups rounded up.
  EXPECT_EQ(rows[1].local_size, (std::array<uint32_t, 3>{65, 1, 1}));
  EXPECT_EQ(rows[1].subgroups_per_workgroup, 3u);  // ceil(65 / 32)
  EXPECT_EQ(rows[0].subgroups_per_workgroup, 2u);  // 64 / 32
  EXPECT_EQ(rows[4].subgroups_per_workgroup, 8u);
}

TEST(KernelTable, SharesRatesAndBound) {
  SyntheticStep s;
  const auto rows = profile::BuildKernelTable(s.dispatches, s.ns, &s.model, &s.ceilings, s.device);
  const double step = std::accumulate(s.ns.begin(), s.ns.end(), 0.0);
  double shares = 0;
  for (const auto& r : rows) {
    shares += r.share;
    EXPECT_DOUBLE_EQ(r.share, r.time_ns / step);
    EXPECT_DOUBLE_EQ(r.gflops, r.flops / r.time_ns);  // FLOPs per ns = GFLOP/s
    EXPECT_DOUBLE_EQ(r.gbs, r.bytes / r.time_ns);
    EXPECT_DOUBLE_EQ(r.intensity, r.flops / r.bytes);
    EXPECT_DOUBLE_EQ(r.percent_peak_flops, 100 * r.gflops / 100);
    EXPECT_DOUBLE_EQ(r.percent_peak_bandwidth, 100 * r.gbs / 10);
  }
  EXPECT_NEAR(shares, 1.0, 1e-12);
  // matmul forward: 4194304 FLOPs / 196608 bytes = 21.3 FLOP/B > ridge 10.
  EXPECT_EQ(rows[0].bound, profile::Bound::kCompute);
  EXPECT_NEAR(rows[0].gflops, 4194.304, 1e-9);
  // bias_act: 8192 / 66048 = 0.12 FLOP/B < 10.
  EXPECT_EQ(rows[1].bound, profile::Bound::kMemory);
  EXPECT_EQ(rows[4].bound, profile::Bound::kMemory);
  // Without ceilings: no % of peak, no verdict.
  const auto bare = profile::BuildKernelTable(s.dispatches, s.ns, &s.model, nullptr, s.device);
  for (const auto& r : bare) {
    EXPECT_EQ(r.bound, profile::Bound::kUnknown);
    EXPECT_EQ(r.percent_peak_flops, 0);
    EXPECT_GT(r.gflops, 0);
  }
  // Without a model: no layer names, layers kept.
  const auto nameless = profile::BuildKernelTable(s.dispatches, s.ns, nullptr, &s.ceilings, s.device);
  EXPECT_EQ(nameless[0].layer, 1);
  EXPECT_EQ(nameless[0].layer_name, "");
}

TEST(KernelTable, ExactlyAtTheRidgeIsComputeBound) {
  profile::Ceilings c;
  c.fp32_gflops = 100;
  c.bandwidth_gbs = 10;
  std::vector<nn::DispatchInfo> d = {Info("k", -1, nn::Pass::kForward, 1000, 100, 0, {1, 1, 1}, {1, 1, 1}),
                                     Info("k2", -1, nn::Pass::kForward, 999, 100, 0, {1, 1, 1}, {1, 1, 1}),
                                     Info("k3", -1, nn::Pass::kForward, 0, 0, 0, {1, 1, 1}, {1, 1, 1})};
  const auto rows = profile::BuildKernelTable(d, {1, 1, 1}, nullptr, &c, vk::DeviceInfo{});
  EXPECT_EQ(rows[0].bound, profile::Bound::kCompute);  // intensity 10 == ridge
  EXPECT_EQ(rows[1].bound, profile::Bound::kMemory);   // 9.99
  EXPECT_EQ(rows[2].bound, profile::Bound::kUnknown);  // no work declared
  EXPECT_EQ(rows[0].subgroups_per_workgroup, 0u);      // subgroup size unknown
}

TEST(KernelTable, InvocationCrossCheckFlagsMismatches) {
  SyntheticStep s;
  std::vector<uint64_t> measured;
  for (const auto& d : s.dispatches) measured.push_back(d.invocations());
  auto rows = profile::BuildKernelTable(s.dispatches, s.ns, &s.model, &s.ceilings, s.device, measured);
  for (const auto& r : rows) {
    ASSERT_TRUE(r.measured_invocations.has_value());
    EXPECT_EQ(*r.measured_invocations, r.invocations);
    EXPECT_FALSE(r.invocation_mismatch);
  }
  measured[3] -= 1;  // the combine ran one invocation short
  rows = profile::BuildKernelTable(s.dispatches, s.ns, &s.model, &s.ceilings, s.device, measured);
  for (const auto& r : rows) EXPECT_EQ(r.invocation_mismatch, r.kernel == "bias_act_back") << r.kernel;
  const std::string text = profile::FormatKernelTable(rows);
  EXPECT_NE(text.find("MISMATCH"), std::string::npos) << text;
  // No counts: nothing to check.
  rows = profile::BuildKernelTable(s.dispatches, s.ns, &s.model, &s.ceilings, s.device);
  for (const auto& r : rows) {
    EXPECT_FALSE(r.measured_invocations.has_value());
    EXPECT_FALSE(r.invocation_mismatch);
  }
}

TEST(KernelTable, SortsByEveryColumn) {
  SyntheticStep s;
  const auto rows = profile::BuildKernelTable(s.dispatches, s.ns, &s.model, &s.ceilings, s.device);
  auto sorted = rows;
  profile::SortKernelTable(sorted, profile::KernelColumn::kTime, false);
  for (size_t i = 1; i < sorted.size(); ++i) EXPECT_GE(sorted[i - 1].time_ns, sorted[i].time_ns);
  EXPECT_EQ(sorted[0].kernel, "matmul");
  EXPECT_EQ(sorted[0].pass, nn::Pass::kBackward);
  profile::SortKernelTable(sorted, profile::KernelColumn::kKernel, true);
  for (size_t i = 1; i < sorted.size(); ++i) EXPECT_LE(sorted[i - 1].kernel, sorted[i].kernel);
  profile::SortKernelTable(sorted, profile::KernelColumn::kIntensity, true);
  for (size_t i = 1; i < sorted.size(); ++i) EXPECT_LE(sorted[i - 1].intensity, sorted[i].intensity);
  profile::SortKernelTable(sorted, profile::KernelColumn::kLayer, true);
  EXPECT_EQ(sorted[0].layer, -1);
  profile::SortKernelTable(sorted, profile::KernelColumn::kSubgroups, false);
  EXPECT_EQ(sorted[0].subgroups_per_workgroup, 8u);
  // Every column sorts, either way, and keeps the rows.
  for (int c = 0; c <= int(profile::KernelColumn::kSharedMemory); ++c)
    for (bool ascending : {true, false}) {
      auto copy = rows;
      profile::SortKernelTable(copy, profile::KernelColumn(c), ascending);
      ASSERT_EQ(copy.size(), rows.size());
      double total = 0;
      for (const auto& r : copy) total += r.time_ns;
      EXPECT_DOUBLE_EQ(total, std::accumulate(s.ns.begin(), s.ns.end(), 0.0));
    }
}

// A selection kept as a key finds its kernel again after the rows are rebuilt
// with other times and re-sorted, wherever the kernel's line moved.
TEST(KernelTable, SelectionByKeyFollowsTheKernelThroughARebuildAndResort) {
  SyntheticStep s;
  auto rows = profile::BuildKernelTable(s.dispatches, s.ns, &s.model, &s.ceilings, s.device);
  profile::SortKernelTable(rows, profile::KernelColumn::kTime, false);
  const size_t chosen = 2;  // a line in the middle of the table
  const profile::KernelRowKey key = profile::KeyOf(rows[chosen]);
  EXPECT_EQ(profile::FindRow(rows, key), chosen);
  EXPECT_EQ(profile::KeyText(profile::KeyOf(rows[0])), "matmul/1/backward");
  // The next rebuild: the selected kernel became the slowest, so it is first now.
  std::vector<double> ns = s.ns;
  for (size_t d : rows[chosen].dispatches) ns[d] = 1e6;
  auto rebuilt = profile::BuildKernelTable(s.dispatches, ns, &s.model, &s.ceilings, s.device);
  profile::SortKernelTable(rebuilt, profile::KernelColumn::kTime, false);
  ASSERT_EQ(profile::FindRow(rebuilt, key), 0u);
  EXPECT_EQ(profile::KeyOf(rebuilt[0]), key);
  EXPECT_NE(profile::KeyOf(rebuilt[chosen]), key);  // the old index now names another kernel
  // Same family and layer, another pass: another row.
  profile::KernelRowKey other = key;
  other.pass = other.pass == nn::Pass::kForward ? nn::Pass::kBackward : nn::Pass::kForward;
  EXPECT_NE(profile::FindRow(rebuilt, other), profile::FindRow(rebuilt, key));
  // A kernel the rows no longer have (the model changed).
  EXPECT_FALSE(profile::FindRow(rebuilt, {"conv2d", 7, nn::Pass::kForward}).has_value());
  EXPECT_FALSE(profile::FindRow({}, key).has_value());
}

// The occupancy table lists kernels in step order until a column is chosen;
// the step order does not move when the times change.
TEST(KernelTable, OccupancyOrderIsTheStepOrderOrTheChosenColumn) {
  SyntheticStep s;
  auto rows = profile::BuildKernelTable(s.dispatches, s.ns, &s.model, &s.ceilings, s.device);
  profile::SortKernelTable(rows, profile::KernelColumn::kTime, false);  // as the window keeps them
  std::vector<profile::Occupancy> occupancies(rows.size());
  std::vector<double> registers(rows.size(), 0.0);
  for (size_t i = 0; i < rows.size(); ++i) occupancies[i].occupancy = 0.1 * double((i * 3) % rows.size());
  registers[1] = 40;
  const auto first_dispatches = [&](const std::vector<size_t>& order) {
    std::vector<size_t> firsts;
    for (size_t i : order) firsts.push_back(rows[i].dispatches[0]);
    return firsts;
  };
  const std::vector<size_t> step = profile::OccupancyOrder(rows, occupancies, registers, std::nullopt, true);
  EXPECT_EQ(first_dispatches(step), (std::vector<size_t>{0, 1, 2, 4, 6}));
  // Re-sorted by time the other way round: the step order is the same.
  auto resorted = rows;
  profile::SortKernelTable(resorted, profile::KernelColumn::kTime, true);
  std::vector<size_t> again = profile::OccupancyOrder(resorted, occupancies, registers, std::nullopt, true);
  std::vector<std::string> names, names_again;
  for (size_t i : step) names.push_back(profile::KeyText(profile::KeyOf(rows[i])));
  for (size_t i : again) names_again.push_back(profile::KeyText(profile::KeyOf(resorted[i])));
  EXPECT_EQ(names, names_again);
  // By occupancy, both ways; by registers, the reported one last when ascending.
  for (bool ascending : {true, false}) {
    const auto order = profile::OccupancyOrder(rows, occupancies, registers, profile::OccupancyColumn::kOccupancy, ascending);
    ASSERT_EQ(order.size(), rows.size());
    for (size_t k = 1; k < order.size(); ++k)
      if (ascending)
        EXPECT_LE(occupancies[order[k - 1]].occupancy, occupancies[order[k]].occupancy);
      else
        EXPECT_GE(occupancies[order[k - 1]].occupancy, occupancies[order[k]].occupancy);
  }
  EXPECT_EQ(profile::OccupancyOrder(rows, occupancies, registers, profile::OccupancyColumn::kRegisters, true).back(), 1u);
  // Every column gives every row once.
  for (int c = 0; c <= int(profile::OccupancyColumn::kLimiter); ++c) {
    auto order = profile::OccupancyOrder(rows, occupancies, registers, profile::OccupancyColumn(c), false);
    std::sort(order.begin(), order.end());
    EXPECT_EQ(order, (std::vector<size_t>{0, 1, 2, 3, 4}));
  }
}

TEST(KernelTable, TextAndJson) {
  SyntheticStep s;
  const auto rows = profile::BuildKernelTable(s.dispatches, s.ns, &s.model, &s.ceilings, s.device);
  const std::string text = profile::FormatKernelTable(rows);
  for (const char* part : {"kernel", "GFLOP/s", "matmul", "dense_1", "optimizer", "backward", "4.00 us", "500 ns", "compute",
                           "memory", "16x4x1"})
    EXPECT_NE(text.find(part), std::string::npos) << part << "\n" << text;
  const json table = profile::KernelTableJson(rows);
  ASSERT_TRUE(table.is_array());
  ASSERT_EQ(table.size(), rows.size());
  EXPECT_EQ(table[0]["kernel"], "matmul");
  EXPECT_EQ(table[0]["layer_name"], "dense_1");
  EXPECT_EQ(table[0]["pass"], "forward");
  EXPECT_EQ(table[0]["bound"], "compute");
  EXPECT_DOUBLE_EQ(table[3]["time_ns"].get<double>(), 4000);
  EXPECT_TRUE(table[0]["measured_invocations"].is_null());
  double shares = 0;
  for (const json& row : table) shares += row["share"].get<double>();
  EXPECT_NEAR(shares, 1.0, 1e-12);
}

TEST(KernelTable, CarriesEachDispatchsVariantAndItsMeasuredAlternatives) {
  SyntheticStep s;
  s.dispatches[0].variant = "register-blocked 32x4";
  s.dispatches[0].variant_choice = "autotuned";
  s.dispatches[0].alternatives_ns = {{"register-blocked 32x4", 2500}, {"shared-tiled 4x4", 9000}};
  const auto rows = profile::BuildKernelTable(s.dispatches, s.ns, &s.model, &s.ceilings, s.device);
  size_t with_variants = 0;
  for (const profile::KernelRow& row : rows) {
    if (row.variants.empty()) continue;
    ++with_variants;
    ASSERT_EQ(row.variants.size(), 1u);
    EXPECT_EQ(row.variants[0].label, s.dispatches[0].label);
    EXPECT_EQ(row.variants[0].how, "autotuned");
    EXPECT_EQ(row.variants[0].alternatives_ns.size(), 2u);
  }
  EXPECT_EQ(with_variants, 1u);
  const std::string text = profile::FormatKernelTable(rows);
  for (const char* part : {"Kernel variants", "register-blocked 32x4 (autotuned)", "shared-tiled 4x4 9.0 us"})
    EXPECT_NE(text.find(part), std::string::npos) << part << "\n" << text;
  const json table = profile::KernelTableJson(rows);
  size_t in_json = 0;
  for (const json& row : table)
    for (const json& v : row["variants"]) {
      ++in_json;
      EXPECT_EQ(v["variant"], "register-blocked 32x4");
      EXPECT_EQ(v["alternatives"][1]["ns"].get<double>(), 9000);
    }
  EXPECT_EQ(in_json, 1u);
}

// ---- Timeline -----------------------------------------------------------------

profile::StepTimeline SampleTimeline() {
  profile::StepTimeline t;
  t.first_global_step = 40;
  t.steps = 2;
  using profile::Lane;
  t.events = {{"write step parameters", "host", Lane::kHost, 0, 1500.5, -1, 0},
              {"submit", "host", Lane::kHost, 1500.5, 9000, -1, 0},
              {"barrier", "barrier", Lane::kDevice, 9000, 9250, 0, 0},
              {"dense_1 forward: Z = X W", "dispatch", Lane::kDevice, 9250, 21250.25, 0, 0},
              {"dense_1 forward: bias + relu_1", "dispatch", Lane::kDevice, 21300, 25300, 1, 1},
              {"wait for the GPU", "host", Lane::kHost, 9000, 26000, -1, 1}};
  return t;
}

TEST(Timeline, DurationAndBusy) {
  const profile::StepTimeline t = SampleTimeline();
  EXPECT_DOUBLE_EQ(t.duration_ns(), 26000);
  EXPECT_DOUBLE_EQ(t.device_busy_ns(), 12000.25 + 4000);  // dispatches only
  EXPECT_DOUBLE_EQ(profile::StepTimeline{}.duration_ns(), 0);
}

TEST(Timeline, ChromeTraceHasOneCompleteEventPerTimelineEvent) {
  const profile::StepTimeline t = SampleTimeline();
  const json trace = json::parse(profile::ChromeTraceJson(t));
  EXPECT_EQ(trace["displayTimeUnit"], "ns");
  const json& events = trace["traceEvents"];
  ASSERT_TRUE(events.is_array());
  std::vector<json> complete, metadata;
  for (const json& e : events) (e["ph"] == "X" ? complete : metadata).push_back(e);
  ASSERT_EQ(complete.size(), t.events.size());
  for (size_t i = 0; i < complete.size(); ++i) {
    const json& e = complete[i];
    const profile::TimelineEvent& source = t.events[i];
    EXPECT_EQ(e["name"], source.name);
    EXPECT_EQ(e["cat"], source.category);
    EXPECT_NEAR(e["ts"].get<double>(), source.start_ns / 1000, 1e-9);  // microseconds, fraction kept
    EXPECT_NEAR(e["dur"].get<double>(), (source.end_ns - source.start_ns) / 1000, 1e-9);
    EXPECT_EQ(e["pid"], 1);
    EXPECT_EQ(e["tid"], source.lane == profile::Lane::kHost ? 1 : 2);
    EXPECT_EQ(e["args"]["category"], source.category);
    EXPECT_EQ(e["args"]["dispatch"], source.dispatch);
    EXPECT_EQ(e["args"]["step"], source.step);
  }
  EXPECT_NEAR(complete[3]["dur"].get<double>(), 12.00025, 1e-12);
  bool host_named = false, device_named = false;
  for (const json& m : metadata) {
    EXPECT_EQ(m["ph"], "M");
    if (m["name"] == "thread_name" && m["tid"] == 1) host_named = m["args"]["name"] == "host";
    if (m["name"] == "thread_name" && m["tid"] == 2) device_named = true;
  }
  EXPECT_TRUE(host_named);
  EXPECT_TRUE(device_named);
  // An empty timeline is still a valid trace.
  EXPECT_TRUE(json::parse(profile::ChromeTraceJson({}))["traceEvents"].is_array());
}

class TraceFileTest : public testing::TempDirTest {};

TEST_F(TraceFileTest, WritesAtomicallyAndNamesThePathOnFailure) {
  const std::filesystem::path path = PathOf("trace.json");
  std::ofstream(path) << "old contents";
  profile::WriteChromeTrace(path, SampleTimeline());
  const json trace = json::parse(ReadText(path));
  EXPECT_EQ(trace["traceEvents"].size(), SampleTimeline().events.size() + 3);
  for (const auto& entry : std::filesystem::directory_iterator(dir_))
    EXPECT_EQ(entry.path().filename(), "trace.json") << "left behind: " << entry.path();
  const std::string missing = (dir_ / "no such folder" / "trace.json").string();
  EXPECT_TRUE(ThrowsErrorWith([&] { profile::WriteChromeTrace(missing, SampleTimeline()); }, {missing}));
}

// ---- Memory map ---------------------------------------------------------------

TEST(MemoryMap, CategoriesInOrderAgainstTheLargestDeviceLocalHeap) {
  nn::MemoryUse use;
  use.parameters = 100, use.gradients = 100, use.optimizer_state = 200, use.statistics = 8, use.activations = 1000,
  use.activation_gradients = 900, use.batch = 64, use.step_io = 36;
  std::vector<vk::HeapBudget> heaps = {{1ull << 40, 0, 0, false}, {8ull << 30, 6ull << 30, 1ull << 30, true},
                                       {256ull << 20, 200ull << 20, 0, true}};
  const profile::MemoryMap map = profile::BuildMemoryMap(use, 5000, 300, heaps);
  const std::vector<std::string> names = {"parameters",  "gradients",            "optimizer state",
                                          "statistics",  "activations",          "activation gradients",
                                          "batch and step I/O", "dataset",       "staging"};
  ASSERT_EQ(map.categories.size(), names.size());
  for (size_t i = 0; i < names.size(); ++i) EXPECT_EQ(map.categories[i].name, names[i]);
  EXPECT_EQ(map.categories[6].bytes, 100u);
  EXPECT_EQ(map.categories[7].bytes, 5000u);
  EXPECT_EQ(map.categories[8].bytes, 300u);
  EXPECT_EQ(map.total, use.total() + 5000 + 300);
  EXPECT_EQ(map.heap_size, 8ull << 30);  // the largest device-local heap, not the larger host heap
  EXPECT_EQ(map.budget, 6ull << 30);
  EXPECT_EQ(map.usage, 1ull << 30);
  EXPECT_TRUE(map.budget_reported);
  heaps = {{4ull << 30, 0, 0, true}};
  const profile::MemoryMap unreported = profile::BuildMemoryMap({}, 0, 0, heaps);
  EXPECT_FALSE(unreported.budget_reported);
  EXPECT_EQ(unreported.heap_size, 4ull << 30);
  EXPECT_EQ(unreported.total, 0u);
  EXPECT_EQ(unreported.categories.size(), names.size());  // zero-sized ones kept
}

// Every layer kind the plan treats differently: dropout, batch norm on a
// vector and on an image (with a reduction workspace), average and global
// pooling, an unfused activation, a dense layer without bias, an activation on
// the network input.
constexpr const char* kMixedModel = R"({
  "format": "tensorscope-model", "version": 1, "name": "mixed",
  "layers": [
    {"type": "input", "shape": [3, 13, 11]},
    {"type": "batch_norm"},
    {"type": "conv2d", "filters": 6, "kernel": 3, "stride": 2, "padding": "same"},
    {"type": "relu"},
    {"type": "avg_pool2d", "size": 2, "stride": 1},
    {"type": "conv2d", "filters": 5, "kernel": [2, 3], "bias": false},
    {"type": "global_avg_pool"},
    {"type": "dense", "units": 7, "bias": false},
    {"type": "batch_norm"},
    {"type": "tanh"},
    {"type": "dropout", "rate": 0.25},
    {"type": "dense", "units": 4},
    {"type": "softmax_cross_entropy"}
  ]
})";

constexpr const char* kActivationFirst = R"({
  "format": "tensorscope-model", "version": 1, "name": "activation-first",
  "layers": [
    {"type": "input", "shape": [5]},
    {"type": "sigmoid"},
    {"type": "dense", "units": 3},
    {"type": "mse"}
  ]
})";

void ExpectSameMemory(const nn::MemoryUse& estimate, const nn::MemoryUse& plan, const std::string& what) {
  EXPECT_EQ(estimate.parameters, plan.parameters) << what;
  EXPECT_EQ(estimate.gradients, plan.gradients) << what;
  EXPECT_EQ(estimate.optimizer_state, plan.optimizer_state) << what;
  EXPECT_EQ(estimate.statistics, plan.statistics) << what;
  EXPECT_EQ(estimate.activations, plan.activations) << what;
  EXPECT_EQ(estimate.activation_gradients, plan.activation_gradients) << what;
  EXPECT_EQ(estimate.batch, plan.batch) << what;
  EXPECT_EQ(estimate.step_io, plan.step_io) << what;
  EXPECT_EQ(estimate.total(), plan.total()) << what;
}

// A sequence model: embedding, two blocks (one with an MLP of twice the width), a
// layer norm, a tied head, an untied dense + GELU on every position.
constexpr const char* kSmallGpt = R"({"format": "tensorscope-model", "version": 1, "name": "gpt", "layers": [
  {"type": "input", "shape": [9]}, {"type": "embedding", "vocab": 11, "units": 12},
  {"type": "transformer_block", "heads": 3, "attention": "plain"},
  {"type": "transformer_block", "heads": 2, "mlp_ratio": 2, "attention": "plain"},
  {"type": "layer_norm"}, {"type": "dense", "units": 16}, {"type": "gelu"},
  {"type": "dense", "units": 12}, {"type": "dense", "units": 11, "tied": true, "bias": false},
  {"type": "softmax_cross_entropy"}]})";

TEST_F(VulkanTest, MemoryEstimateEqualsTheCompiledPlan) {
  const std::vector<std::pair<nn::ModelDesc, kernels::OptimizerKind>> models = {
      {nn::LoadModelOrPreset("spiral-mlp"), kernels::OptimizerKind::kAdam},
      {nn::LoadModelOrPreset("shapes-cnn"), kernels::OptimizerKind::kMomentum},
      {nn::ParseModel(kMixedModel, "mixed"), kernels::OptimizerKind::kSgd},
      {nn::ParseModel(kActivationFirst, "activation-first"), kernels::OptimizerKind::kAdamW},
      {nn::ParseModel(kSmallGpt, "gpt-plain"), kernels::OptimizerKind::kAdamW},
      {nn::ParseModel(std::regex_replace(std::string(kSmallGpt), std::regex("plain"), "fused"), "gpt-fused"),
       kernels::OptimizerKind::kAdam}};
  const std::vector<uint32_t> batches = {5, 300};  // 300 rows: dense layers' bias gradients use a workspace
  profile::MemoryEstimateOptions options;
  options.storage_alignment = context().info().min_storage_buffer_offset_alignment;
  options.slots = 3;
  for (const auto& [model, optimizer] : models) {
    const std::vector<nn::MemoryUse> estimates = profile::EstimateMemoryByBatch(model, optimizer, batches, options);
    ASSERT_EQ(estimates.size(), batches.size());
    for (size_t b = 0; b < batches.size(); ++b) {
      nn::PlanOptions plan_options;
      plan_options.batch = batches[b];
      plan_options.slots = options.slots;
      plan_options.optimizer = optimizer;
      const auto plan = nn::Plan::Compile(context(), pipelines(), model, plan_options);
      ExpectSameMemory(estimates[b], plan->memory(), model.name + " at batch " + std::to_string(batches[b]));
    }
    // The default (the largest alignment Vulkan allows) never underestimates.
    const auto upper = profile::EstimateMemoryByBatch(model, optimizer, batches);
    for (size_t b = 0; b < batches.size(); ++b) EXPECT_GE(upper[b].total(), estimates[b].total());
    // Memory grows with the batch.
    EXPECT_GT(estimates[1].activations, estimates[0].activations);
    EXPECT_EQ(estimates[1].parameters, estimates[0].parameters);
  }
}

TEST(MemoryMap, EstimateOfAnInvalidModelNamesTheLayer) {
  nn::ModelDesc model = nn::ParseModel(kActivationFirst, "activation-first");
  model.layers[0].shape = {1, 4, 4};  // an image into a dense layer, no flatten
  const uint32_t batch[] = {8};
  EXPECT_TRUE(ThrowsErrorWith([&] { profile::EstimateMemoryByBatch(model, kernels::OptimizerKind::kSgd, batch); },
                              {"layers[2]", "flatten"}));
}

// ---- Ceilings -----------------------------------------------------------------

profile::Ceilings SampleCeilings() {
  profile::Ceilings c;
  c.bandwidth_gbs = 5.5, c.copy_bytes = 1 << 20, c.fp32_gflops = 31.25, c.fma_result_error = 1e-7, c.upload_gbs = 3.5,
  c.download_gbs = 4.25, c.empty_submit_us = 14, c.single_dispatch_us = 63, c.batched_dispatch_us = 15.5;
  return c;
}

TEST(Ceilings, JsonRoundTripAndErrorsNameTheField) {
  const profile::Ceilings c = SampleCeilings();
  const json j = profile::CeilingsJson(c);
  const profile::Ceilings back = profile::CeilingsFromJson(json::parse(j.dump()));
  EXPECT_EQ(profile::CeilingsJson(back), j);
  EXPECT_EQ(back.copy_bytes, c.copy_bytes);
  EXPECT_DOUBLE_EQ(back.batched_dispatch_us, 15.5);
  json missing = j;
  missing.erase("fp32_gflops");
  EXPECT_TRUE(ThrowsErrorWith([&] { profile::CeilingsFromJson(missing); }, {"fp32_gflops", "missing"}));
  json mistyped = j;
  mistyped["upload_gbs"] = "fast";
  EXPECT_TRUE(ThrowsErrorWith([&] { profile::CeilingsFromJson(mistyped); }, {"upload_gbs", "number", "string"}));
  EXPECT_TRUE(ThrowsErrorWith([&] { profile::CeilingsFromJson(json::array()); }, {"object", "array"}));
}

TEST(Ceilings, FormatShowsTheFormulas) {
  const std::string text = profile::FormatCeilings(SampleCeilings());
  for (const char* part : {"efficiency = achieved / peak", "transfer time = bytes / bandwidth",
                           "units x clock x FLOPs per clock", "(bytes read + bytes written) / time", "31.25"})
    EXPECT_NE(text.find(part), std::string::npos) << part << "\n" << text;
}

TEST(Ceilings, DefaultCacheFileFollowsXdg) {
  const char* old_cache = std::getenv("XDG_CACHE_HOME");
  const std::string saved = old_cache ? old_cache : "";
  setenv("XDG_CACHE_HOME", "/tmp/somewhere", 1);
  EXPECT_EQ(profile::DefaultCeilingsCacheFile(), std::filesystem::path("/tmp/somewhere/tensorscope/ceilings.json"));
  unsetenv("XDG_CACHE_HOME");
  if (const char* home = std::getenv("HOME"); home && *home) {
    EXPECT_EQ(profile::DefaultCeilingsCacheFile(), std::filesystem::path(home) / ".cache/tensorscope/ceilings.json");
  }
  if (old_cache) setenv("XDG_CACHE_HOME", saved.c_str(), 1);
}

class CeilingsCacheTest : public VulkanTest {
 protected:
  void SetUp() override {
    VulkanTest::SetUp();
    dir_ = std::filesystem::temp_directory_path() /
           ("tensorscope_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    file_ = dir_ / "cache" / "tensorscope" / "ceilings.json";  // folders that do not exist yet
    options_.copy_bytes = 1 << 20;
    options_.transfer_bytes = 1 << 20;
    options_.repeats = 1;
  }
  void TearDown() override {
    std::filesystem::remove_all(dir_);
    VulkanTest::TearDown();
  }
  profile::CachedCeilings Load(bool remeasure = false) {
    return profile::LoadOrMeasureCeilings(context(), pipelines(), remeasure, file_, options_);
  }
  std::filesystem::path dir_, file_;
  profile::CeilingOptions options_;
};

TEST_F(CeilingsCacheTest, MeasuresOnceThenReadsTheCache) {
  const profile::CachedCeilings first = Load();
  EXPECT_FALSE(first.from_cache);
  EXPECT_GT(first.ceilings.bandwidth_gbs, 0);
  ASSERT_EQ(first.measured_at.size(), 20u) << first.measured_at;  // 2026-11-21T10:00:00Z
  EXPECT_EQ(first.measured_at[10], 'T');
  EXPECT_EQ(first.measured_at.back(), 'Z');
  ASSERT_TRUE(std::filesystem::exists(file_));
  for (const auto& entry : std::filesystem::directory_iterator(file_.parent_path()))
    EXPECT_EQ(entry.path().filename(), "ceilings.json") << "left behind: " << entry.path();
  const json cache = json::parse(ReadText(file_));
  const std::string key = profile::CeilingsCacheKey(context().info());
  EXPECT_NE(key.find(context().info().name), std::string::npos);
  ASSERT_TRUE(cache.contains(key)) << cache.dump();
  EXPECT_EQ(cache[key]["measured_at"], first.measured_at);

  const profile::CachedCeilings second = Load();
  EXPECT_TRUE(second.from_cache);
  EXPECT_EQ(second.measured_at, first.measured_at);
  EXPECT_EQ(profile::CeilingsJson(second.ceilings), profile::CeilingsJson(first.ceilings));

  // Other devices' entries survive a remeasure.
  json with_other = cache;
  with_other["another device | driver | Vulkan 1.3.0"] = profile::CeilingsJson(SampleCeilings());
  with_other["another device | driver | Vulkan 1.3.0"]["measured_at"] = "2020-01-01T00:00:00Z";
  std::ofstream(file_) << with_other.dump();
  EXPECT_FALSE(Load(/*remeasure=*/true).from_cache);
  const json after = json::parse(ReadText(file_));
  EXPECT_TRUE(after.contains("another device | driver | Vulkan 1.3.0"));
  EXPECT_TRUE(after.contains(key));
}

TEST_F(CeilingsCacheTest, DamagedCacheIsMeasuredOverAndRewritten) {
  std::filesystem::create_directories(file_.parent_path());
  const std::string key = profile::CeilingsCacheKey(context().info());
  for (const std::string& damaged : {std::string("{\"truncated"), std::string("[1, 2]"),
                                     json{{key, {{"bandwidth_gbs", "fast"}}}}.dump()}) {
    std::ofstream(file_, std::ios::trunc) << damaged;
    const profile::CachedCeilings measured = Load();
    EXPECT_FALSE(measured.from_cache) << damaged;
    const json cache = json::parse(ReadText(file_));
    ASSERT_TRUE(cache.contains(key)) << damaged;
    EXPECT_NO_THROW(profile::CeilingsFromJson(cache[key]));
    EXPECT_TRUE(Load().from_cache) << damaged;
  }
}

TEST_F(CeilingsCacheTest, UnwritableCacheIsNotAnError) {
  std::filesystem::create_directories(dir_);
  std::ofstream(dir_ / "a file") << "not a folder";
  file_ = dir_ / "a file" / "ceilings.json";
  EXPECT_FALSE(Load().from_cache);
  file_.clear();  // no cache at all
  EXPECT_FALSE(Load().from_cache);
}

}  // namespace
}  // namespace ts
