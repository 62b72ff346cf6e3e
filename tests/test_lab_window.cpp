// The Kernel Lab window without a device: its pure helpers (GLSL colouring,
// the grid picture's cells and formula, what a subgroup touched, a
// reduction's levels), the LabRunner's threading with run functions the
// tests write, and the whole window drawn headless (an ImGui context with no
// renderer) from LessonResult values built here, clicked through its tabs.
#include <gtest/gtest.h>

#include <atomic>
#include <cfloat>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "imgui.h"
#include "support/headless_imgui.h"
#include "ui/app_state.h"
#include "ui/lab/lab_geometry.h"
#include "ui/lab/lab_runner.h"
#include "ui/lab/lab_window.h"
#include "ui/test_hooks.h"

namespace ts::ui {
namespace {

using namespace lab_view;
using namespace std::chrono_literals;

// ---------------------------------------------------------------------------
// GLSL colouring
// ---------------------------------------------------------------------------

std::string Kinds(std::string_view line, bool& in_comment) {
  std::string out;
  size_t covered = 0;
  for (const GlslSpan& span : HighlightGlslLine(line, in_comment)) {
    EXPECT_EQ(span.begin, covered) << "spans cover the line in order: " << line;
    covered = span.end;
    const char letter = "pktbcnd"[static_cast<int>(span.kind)];
    out += std::string(span.end - span.begin, letter);
  }
  EXPECT_EQ(covered, line.size()) << line;
  return out;
}

TEST(LabSource, ColoursKeywordsTypesBuiltinsCommentsNumbersAndDirectives) {
  bool comment = false;
  EXPECT_EQ(Kinds("uint i = gl_GlobalInvocationID.x; // one", comment),
            "ttttppppp" + std::string(21, 'b') + "pppp" + std::string(6, 'c'));
  EXPECT_EQ(Kinds("if (x < 1.5e-3f) shared float t[16];", comment), "kkppppppnnnnnnnppkkkkkkptttttpppnnpp");
  EXPECT_EQ(Kinds("#include \"lab_record.glsl\"", comment), std::string(26, 'd'));
  EXPECT_EQ(Kinds("  barrier(); x = 0x1Fu;", comment), "ppbbbbbbbppppppppnnnnnp");
  EXPECT_FALSE(comment);
}

TEST(LabSource, ABlockCommentRunsAcrossLines) {
  bool comment = false;
  EXPECT_EQ(Kinds("a /* b", comment), "pp" + std::string(4, 'c'));
  EXPECT_TRUE(comment);
  EXPECT_EQ(Kinds("still", comment), "ccccc");
  EXPECT_EQ(Kinds("end */ uint", comment), std::string(6, 'c') + "ptttt");
  EXPECT_FALSE(comment);
  EXPECT_EQ(Kinds("", comment), "");
}

// ---------------------------------------------------------------------------
// The grid picture
// ---------------------------------------------------------------------------

// What a 1D kernel of `length` elements in workgroups of `size` (subgroups of
// `subgroup`) writes: each element's workgroup, invocation and subgroup.
lab::GridPicture Grid1D(uint32_t length, uint32_t size, uint32_t subgroup) {
  lab::GridPicture picture;
  picture.width = length;
  picture.height = 1;
  picture.workgroup_x = size;
  picture.grid_x = (length + size - 1) / size;
  picture.subgroup_size = subgroup;
  for (uint32_t e = 0; e < length; ++e) {
    picture.workgroup_of.push_back(e / size);
    picture.invocation_of.push_back(e % size);
    picture.subgroup_of.push_back(e % size / subgroup);
  }
  picture.idle_invocations = picture.grid_x * size - length;
  return picture;
}

// The same for a width x height array in workgroups of wx x wy.
lab::GridPicture Grid2D(uint32_t width, uint32_t height, uint32_t wx, uint32_t wy, uint32_t subgroup) {
  lab::GridPicture picture;
  picture.width = width, picture.height = height;
  picture.workgroup_x = wx, picture.workgroup_y = wy;
  picture.grid_x = (width + wx - 1) / wx, picture.grid_y = (height + wy - 1) / wy;
  picture.subgroup_size = subgroup;
  for (uint32_t y = 0; y < height; ++y)
    for (uint32_t x = 0; x < width; ++x) {
      const uint32_t invocation = x % wx + (y % wy) * wx;
      picture.workgroup_of.push_back(x / wx + (y / wy) * picture.grid_x);
      picture.invocation_of.push_back(invocation);
      picture.subgroup_of.push_back(invocation / subgroup);
    }
  picture.idle_invocations = picture.grid_x * wx * picture.grid_y * wy - width * height;
  return picture;
}

TEST(LabGrid, OneDimensionalCellsFormulaAndIdleInvocations) {
  const lab::GridPicture picture = Grid1D(10, 4, 2);
  EXPECT_EQ(LaunchedX(picture), 12u);
  EXPECT_EQ(LaunchedY(picture), 1u);
  const GridCell cell = CellAt(picture, 5, 0);
  EXPECT_TRUE(cell.inside);
  EXPECT_EQ(cell.workgroup, 1u);
  EXPECT_EQ(cell.invocation, 1u);
  EXPECT_EQ(cell.subgroup, 0u);
  EXPECT_EQ(GlobalIdFormula(picture, cell),
            "gl_GlobalInvocationID.x = gl_WorkGroupID.x * gl_WorkGroupSize.x + gl_LocalInvocationID.x = 1 * 4 + 1 = 5");
  const GridCell idle = CellAt(picture, 11, 0);
  EXPECT_FALSE(idle.inside);
  EXPECT_EQ(idle.workgroup, 2u);
  EXPECT_EQ(idle.invocation, 3u);
  EXPECT_NE(GlobalIdFormula(picture, idle).find("= 2 * 4 + 3 = 11: past the array's 10 elements, so this invocation is idle"),
            std::string::npos);
  // A kernel that wrote the wrong IDs is called out, not hidden.
  lab::GridPicture wrong = picture;
  wrong.invocation_of[5] = 2;
  EXPECT_NE(GlobalIdFormula(wrong, CellAt(wrong, 5, 0)).find("do not add up"), std::string::npos);
}

TEST(LabGrid, TwoDimensionalCellsAndFormula) {
  lab::GridPicture picture;
  picture.width = 5, picture.height = 3;
  picture.workgroup_x = 2, picture.workgroup_y = 2;
  picture.grid_x = 3, picture.grid_y = 2;
  picture.subgroup_size = 4;
  for (uint32_t y = 0; y < 3; ++y)
    for (uint32_t x = 0; x < 5; ++x) {
      picture.workgroup_of.push_back(x / 2 + (y / 2) * 3);
      picture.invocation_of.push_back(x % 2 + (y % 2) * 2);
      picture.subgroup_of.push_back(0);
    }
  const GridCell cell = CellAt(picture, 3, 2);
  EXPECT_TRUE(cell.inside);
  EXPECT_EQ(cell.element, 13u);
  EXPECT_EQ(cell.workgroup, 4u);
  EXPECT_EQ(GlobalIdFormula(picture, cell),
            "gl_GlobalInvocationID = gl_WorkGroupID * gl_WorkGroupSize + gl_LocalInvocationID = (1, 1) * (2, 2) + "
            "(1, 0) = (3, 2)");
  const GridCell idle = CellAt(picture, 5, 3);
  EXPECT_FALSE(idle.inside);
  EXPECT_EQ(idle.workgroup, 5u);
  EXPECT_EQ(idle.invocation, 3u);
  EXPECT_NE(GlobalIdFormula(picture, idle).find("outside the 5 x 3 array"), std::string::npos);
}

// ---------------------------------------------------------------------------
// Instrumented runs
// ---------------------------------------------------------------------------

// A record of a kernel with subgroups of 8 lanes.
lab::AccessRecord Record(uint32_t workgroup, uint32_t subgroup, uint32_t lane, uint32_t step, lab::Access access,
                         uint32_t buffer, uint32_t index) {
  return {workgroup, subgroup * 8 + lane, subgroup, lane, step, access, buffer, index};
}

TEST(LabTrace, ContiguousStridedAndBankConflictedSubgroupAccesses) {
  lab::AccessTrace trace;
  trace.buffer_names = {"in", "tile"};
  for (uint32_t lane = 0; lane < 8; ++lane) {
    trace.records.push_back(Record(0, 0, lane, 0, lab::Access::kGlobalRead, 0, 100 + lane));    // contiguous
    trace.records.push_back(Record(0, 0, lane, 1, lab::Access::kGlobalRead, 0, lane * 4));      // stride 4
    trace.records.push_back(Record(0, 0, lane, 2, lab::Access::kGlobalRead, 0, lane * 64));     // stride 64
    trace.records.push_back(Record(0, 0, lane, 3, lab::Access::kSharedRead, 1, lane * 32));     // one bank
    trace.records.push_back(Record(0, 0, lane, 4, lab::Access::kSharedRead, 1, lane * 33));     // padded
    trace.records.push_back(Record(0, 1, lane, 0, lab::Access::kGlobalWrite, 0, 7));            // another subgroup
  }
  std::vector<SubgroupTouch> touches = SubgroupTouches(trace, 0, 0, 0);
  ASSERT_EQ(touches.size(), 1u);
  EXPECT_EQ(touches[0].lane_index.size(), 8u);
  EXPECT_TRUE(touches[0].contiguous);
  EXPECT_EQ(touches[0].span, 8u);
  EXPECT_EQ(touches[0].segments, 1u);  // 100..107 lie in 96..127
  touches = SubgroupTouches(trace, 0, 0, 1);
  EXPECT_FALSE(touches[0].contiguous);
  EXPECT_EQ(touches[0].span, 29u);
  EXPECT_EQ(touches[0].segments, 1u);
  touches = SubgroupTouches(trace, 0, 0, 2);
  EXPECT_EQ(touches[0].segments, 8u);
  touches = SubgroupTouches(trace, 0, 0, 3);
  EXPECT_EQ(touches[0].access, lab::Access::kSharedRead);
  EXPECT_EQ(touches[0].bank_ways, 8u);
  touches = SubgroupTouches(trace, 0, 0, 4);
  EXPECT_EQ(touches[0].bank_ways, 1u);
  EXPECT_EQ(RecordedSubgroups(trace, 0), (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(RecordedSteps(trace, 0), (std::vector<uint32_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(WorkgroupIndices(trace, 0, 0, true, 0, UINT32_MAX), (std::vector<uint32_t>{7}));
  EXPECT_EQ(WorkgroupIndices(trace, 0, 0, false, 1, 1).size(), 8u);   // the stride-4 reads
  EXPECT_EQ(WorkgroupIndices(trace, 0, 0, false, 0, 2).size(), 23u);  // with the contiguous and stride-64 ones (0 twice)
  EXPECT_EQ(BufferNamed(trace, "tile"), 1);
  EXPECT_EQ(BufferNamed(trace, "out"), -1);
}

// A sequential-addressing tree of 16 elements in shared memory: at level s,
// invocation i < half reads i and i + half and writes i.
lab::AccessTrace ReductionTrace(uint32_t elements) {
  lab::AccessTrace trace;
  trace.buffer_names = {"partial"};
  trace.workgroups_recorded = 1;
  uint32_t step = 0;
  for (uint32_t half = elements / 2; half > 0; half /= 2, ++step)
    for (uint32_t i = 0; i < half; ++i) {
      trace.records.push_back(Record(0, i / 8, i % 8, step, lab::Access::kSharedRead, 0, i));
      trace.records.push_back(Record(0, i / 8, i % 8, step, lab::Access::kSharedRead, 0, i + half));
      trace.records.push_back(Record(0, i / 8, i % 8, step, lab::Access::kSharedWrite, 0, i));
    }
  trace.capacity = trace.wanted = trace.records.size();
  return trace;
}

TEST(LabTrace, ReductionLevelsFromTheRecords) {
  const std::vector<TreeLevel> levels = ReductionLevels(ReductionTrace(32), 0);
  ASSERT_EQ(levels.size(), 5u);
  EXPECT_EQ(levels[0].moves.size(), 16u);
  EXPECT_EQ(levels[0].subgroups, 2u);
  EXPECT_EQ(levels[4].moves.size(), 1u);
  EXPECT_EQ(levels[4].subgroups, 1u);
  EXPECT_EQ(levels[1].moves[3].reads, (std::vector<uint32_t>{3, 11}));
  EXPECT_EQ(levels[1].moves[3].writes, (std::vector<uint32_t>{3}));
}

// ---------------------------------------------------------------------------
// The runner
// ---------------------------------------------------------------------------

lab::LessonResult Result(const std::string& lesson, const lab::Settings& settings) {
  lab::LessonResult result;
  result.lesson = lesson;
  result.settings = settings;
  return result;
}

template <typename Predicate>
bool WaitFor(Predicate done, std::chrono::milliseconds limit = 10s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

TEST(LabRunner, AnswersWithTheResultAndProgress) {
  std::atomic<int> news{0};
  LabRunner runner(
      [](const std::string& lesson, const lab::Settings& settings, const lab::RunOptions& options) {
        options.progress("naive", 0.5);
        return Result(lesson, settings);
      },
      [&] { ++news; });
  const uint64_t request = runner.Start("matmul", {{"size", 64}});
  std::optional<LabRunner::Answer> answer;
  ASSERT_TRUE(WaitFor([&] { return (answer = runner.TakeAnswer()).has_value(); }));
  EXPECT_EQ(answer->request, request);
  EXPECT_EQ(answer->lesson, "matmul");
  ASSERT_TRUE(answer->result);
  EXPECT_EQ(answer->result->settings.at("size"), 64);
  EXPECT_TRUE(answer->error.empty());
  EXPECT_FALSE(runner.TakeAnswer().has_value());  // once
  EXPECT_GE(news.load(), 2);                       // started, finished
  EXPECT_TRUE(WaitFor([&] { return !runner.status().busy; }));
}

TEST(LabRunner, ANewRequestCancelsTheRunUnderWayAndOnlyItAnswers) {
  std::mutex mutex;
  std::condition_variable started;
  int runs = 0;
  LabRunner runner([&](const std::string& lesson, const lab::Settings& settings, const lab::RunOptions& options) {
    {
      std::lock_guard lock(mutex);
      ++runs;
    }
    started.notify_all();
    if (lesson == "slow")
      while (!options.cancel->load()) std::this_thread::sleep_for(1ms);
    if (options.cancel->load()) throw std::runtime_error("cancelled");
    return Result(lesson, settings);
  });
  runner.Start("slow", {});
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(started.wait_for(lock, 10s, [&] { return runs == 1; }));
  }
  EXPECT_TRUE(runner.status().busy);
  const uint64_t second = runner.Start("grid", {});
  std::optional<LabRunner::Answer> answer;
  ASSERT_TRUE(WaitFor([&] { return (answer = runner.TakeAnswer()).has_value(); }));
  EXPECT_EQ(answer->request, second);
  EXPECT_EQ(answer->lesson, "grid");
  EXPECT_TRUE(answer->error.empty()) << answer->error;
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(runner.TakeAnswer().has_value());  // the cancelled run never answers
}

TEST(LabRunner, AFailedRunAnswersWithItsErrorAndCancelDropsARun) {
  LabRunner runner([](const std::string& lesson, const lab::Settings&, const lab::RunOptions& options) -> lab::LessonResult {
    if (lesson == "bad") throw std::runtime_error("workgroup 2048 is above the device's 256");
    while (!options.cancel->load()) std::this_thread::sleep_for(1ms);
    throw std::runtime_error("cancelled");
  });
  runner.Start("bad", {});
  std::optional<LabRunner::Answer> answer;
  ASSERT_TRUE(WaitFor([&] { return (answer = runner.TakeAnswer()).has_value(); }));
  EXPECT_FALSE(answer->result);
  EXPECT_EQ(answer->error, "workgroup 2048 is above the device's 256");
  runner.Start("endless", {});
  ASSERT_TRUE(WaitFor([&] { return runner.status().busy; }));
  runner.Cancel();
  EXPECT_TRUE(WaitFor([&] { return !runner.status().busy; }));
  EXPECT_FALSE(runner.TakeAnswer().has_value());
  runner.Start("endless", {});  // the destructor cancels a run under way and returns
}

// ---------------------------------------------------------------------------
// The window, headless
// ---------------------------------------------------------------------------

lab::Variant Variant(const std::string& name, double ms, bool passed, lab::Ceiling ceiling) {
  lab::Variant v;
  v.name = name;
  v.what_changed = "what " + name + " does";
  v.shader = "lab_test";
  v.grid[0] = 4, v.workgroup[0] = 64;
  v.flops = ceiling == lab::Ceiling::kFma ? 2e6 : 0;
  v.bytes = 1e6;
  v.ms = ms;
  v.gflops = v.flops / (ms * 1e6);
  v.gbs = v.bytes / (ms * 1e6);
  v.judged_against = ceiling;
  v.percent_of_ceiling = 10;
  v.check_passed = passed;
  v.check_message = passed ? "all 4096 elements within 1e-4" : "element 17: expected 3.5, got 0";
  return v;
}

// A matmul-like result: a ladder with one failed check, a chart, notes and a
// trace of one 4x4 workgroup over a 8x8x8 product in steps of 4.
lab::LessonResult MatmulResult(const lab::Settings& settings) {
  lab::LessonResult result = Result("matmul", settings);
  result.device = "test device";
  result.shape = {8, 8, 8};
  result.ceilings.fp32_gflops = 50;
  result.ceilings.bandwidth_gbs = 10;
  result.variants = {Variant("naive", 2.0, true, lab::Ceiling::kFma), Variant("shared 16x16", 1.0, false, lab::Ceiling::kFma),
                     Variant("register 2D", 0.5, true, lab::Ceiling::kFma)};
  result.variants[1].bank_conflicts = 12;
  result.variants[1].shared_memory_bytes = 2048;
  result.variants[1].figures["cpu_ms_one_thread"] = 4.5;
  result.charts.push_back({"GFLOP/s by size", "size", "GFLOP/s", true, false, {{"naive", {16, 32, 64}, {1, 2, 3}}}, 50.0});
  result.notes = {"The register-blocked kernel is 4x the naive one here."};
  lab::AccessTrace trace;
  trace.buffer_names = {"A", "B", "C"};
  trace.workgroups_recorded = 1;
  for (uint32_t step = 0; step < 2; ++step)
    for (uint32_t i = 0; i < 16; ++i) {
      const uint32_t row = i / 4, column = i % 4;
      trace.records.push_back(Record(0, i / 8, i % 8, step, lab::Access::kGlobalRead, 0, row * 8 + step * 4 + column));
      trace.records.push_back(Record(0, i / 8, i % 8, step, lab::Access::kGlobalRead, 1, (step * 4 + row) * 8 + column));
      if (step == 1) trace.records.push_back(Record(0, i / 8, i % 8, step, lab::Access::kGlobalWrite, 2, row * 8 + column));
    }
  trace.capacity = trace.wanted = trace.records.size();
  result.trace = trace;
  result.traced_variant = "shared 16x16";
  return result;
}

std::vector<lab::LessonInfo> TestLessons() {
  lab::Knob size{"size", "matrix size", "the side of the square matrices", 16, 1024, 256, true, {}};
  lab::Knob tile{"tile", "tile", "the shared tile's side", 8, 32, 16, false, {{8, "8"}, {16, "16"}, {32, "32"}}};
  lab::Knob length{"size", "array length", "elements", 1, 100000, 1000, false, {}};
  lab::Knob height{"height", "height", "rows; 1 makes the grid 1D", 1, 4096, 1, false, {}};
  return {{"grid", "1. The grid", "workgroups and invocations", {length, height}},
          {"matmul", "3. Matrix multiply", "rung by rung", {size, tile}},
          {"reduction", "4. Reduction", "a tree", {}}};
}

class LabWindow : public ::testing::Test {
 protected:
  void SetUp() override {
    context_ = testing::CreateHeadlessImGui();
    state_.lab.lessons = TestLessons();
    state_.lab.shader_source = [this](const std::string& shader) -> const std::string& {
      if (shader != "lab_test") throw std::runtime_error("no shader " + shader);
      return source_;
    };
    runner_ = std::make_unique<LabRunner>([this](const std::string& lesson, const lab::Settings& settings,
                                                 const lab::RunOptions&) {
      ++runs_;
      if (lesson == "matmul") return MatmulResult(settings);
      lab::LessonResult result = Result(lesson, settings);
      result.variants = {Variant("copy", 1.0, true, lab::Ceiling::kBandwidth)};
      const auto width = static_cast<uint32_t>(settings.count("size") ? settings.at("size") : 0);
      const auto height = static_cast<uint32_t>(settings.count("height") ? settings.at("height") : 1);
      if (lesson == "grid") result.grid = height > 1 ? Grid2D(width, height, 8, 4, 8) : Grid1D(width, 64, 8);
      if (lesson == "reduction") result.trace = ReductionTrace(64), result.traced_variant = "copy";
      return result;
    });
    state_.lab.runner = runner_.get();
  }
  void TearDown() override {
    runner_.reset();
    ImGui::DestroyContext(context_);
  }

  void Frame(ImVec2 mouse = ImVec2(-FLT_MAX, -FLT_MAX), bool down = false) {
    ImGuiIO& io = ImGui::GetIO();
    io.MousePos = mouse;
    io.MouseDown[0] = down;
    ImGui::NewFrame();
    DrawLabWindow(state_);
    ImGui::Render();
  }
  // Frames until the lesson shown has an outcome and nothing runs, and a few
  // more (a tab bar places a new tab in the frame after it first appears).
  bool Settle() {
    const bool settled = WaitFor([&] {
      Frame();
      return !state_.lab.busy && state_.lab.outcomes.count(state_.lab.lesson);
    });
    for (int i = 0; i < 3; ++i) Frame();
    return settled;
  }
  void Click(const std::string& rect) {
    testing::ClickRecordedRect(rect, [this](ImVec2 mouse, bool down) { Frame(mouse, down); });
  }

  AppState state_;
  std::string source_ = "#version 450\n// the test kernel\nvoid main() {\n  uint i = gl_GlobalInvocationID.x;\n}\n";
  std::atomic<int> runs_{0};

 private:
  ImGuiContext* context_ = nullptr;
  std::unique_ptr<LabRunner> runner_;
};

TEST_F(LabWindow, OpensOnTheFirstLessonRunsItAndDrawsTheGrid) {
  OpenLab(state_);
  EXPECT_EQ(state_.lab.lesson, "grid");
  ASSERT_TRUE(Settle());
  EXPECT_EQ(runs_.load(), 1);
  const LabView::Outcome& outcome = state_.lab.outcomes.at("grid");
  ASSERT_TRUE(outcome.result);
  EXPECT_EQ(outcome.settings.at("size"), 1000);  // the knob's default
  EXPECT_EQ(state_.lab.drawn.tab, "Results");
  EXPECT_EQ(state_.lab.drawn.rows, 1u);
  EXPECT_EQ(state_.lab.drawn.source_lines, 5u);
  Click("lab_tab_Grid");
  EXPECT_EQ(state_.lab.drawn.tab, "Grid");
  EXPECT_EQ(state_.lab.drawn.grid_cells, 1000u);
  EXPECT_EQ(state_.lab.drawn.idle_cells, 24u);  // 16 workgroups of 64 launch 1024
  // Hovering a cell spells out its formula.
  const auto& grid = RecordedItemRects().at("lab_grid");
  Frame(ImVec2(grid[0] + 1, grid[1] + 1));
  Frame(ImVec2(grid[0] + 1, grid[1] + 1));
  EXPECT_NE(state_.lab.drawn.hovered_formula.find("= 0 * 64 + 0 = 0"), std::string::npos) << state_.lab.drawn.hovered_formula;
  const nlohmann::json log = LabTestLog(state_);
  EXPECT_EQ(log["lesson"], "grid");
  EXPECT_EQ(log["outcomes"]["grid"]["variants"], 1);
}

TEST_F(LabWindow, ATwoDimensionalGridIsDrawnWithItsIdleInvocations) {
  state_.lab.settings["grid"] = {{"size", 30}, {"height", 10}};
  OpenLab(state_);
  ASSERT_TRUE(Settle());
  EXPECT_EQ(state_.lab.outcomes.at("grid").settings.at("height"), 10);
  Click("lab_tab_Grid");
  EXPECT_EQ(state_.lab.drawn.grid_cells, 300u);
  EXPECT_EQ(state_.lab.drawn.idle_cells, 4u * 8 * 3 * 4 - 300);  // 4 x 3 workgroups of 8 x 4
  const auto& grid = RecordedItemRects().at("lab_grid");
  const float cell = (grid[2] - grid[0]) / 32;  // the launched grid is 32 invocations wide
  const ImVec2 at(grid[0] + cell * 9.5f, grid[1] + cell * 5.5f);  // element (9, 5)
  for (int i = 0; i < 3; ++i) Frame(at);
  EXPECT_NE(state_.lab.drawn.hovered_formula.find("= (1, 1) * (8, 4) + (1, 1) = (9, 5)"), std::string::npos)
      << state_.lab.drawn.hovered_formula;  // the picture stays where it was when the formula appears
}

TEST_F(LabWindow, MatmulShowsItsLadderWithTheFailedCheckChartsRooflineAndTiles) {
  OpenLab(state_, "matmul");
  ASSERT_TRUE(Settle());
  EXPECT_EQ(state_.lab.drawn.rows, 3u);
  EXPECT_EQ(state_.lab.drawn.failed_checks, 1u);
  EXPECT_EQ(state_.lab.drawn.notes, 1u);
  EXPECT_EQ(state_.lab.variant, "");  // the traced variant is shown until one is picked
  Click("lab_variant_2");
  EXPECT_EQ(state_.lab.variant, "register 2D");
  Click("lab_tab_Charts");
  EXPECT_EQ(state_.lab.drawn.tab, "Charts");
  EXPECT_EQ(state_.lab.drawn.chart_series, 1u);
  Click("lab_tab_Roofline");
  EXPECT_EQ(state_.lab.drawn.dots, 3u);
  Click("lab_tab_Tiles");
  EXPECT_EQ(state_.lab.drawn.tab, "Tiles");
  // Step 0 of workgroup 0: its 4x4 tile of C, and a 4x4 tile each of A and B.
  EXPECT_EQ(state_.lab.drawn.touched, 48u);
  // A knob changed runs the lesson again with it.
  Click("lab_knob_tile_32");
  ASSERT_TRUE(Settle());
  EXPECT_EQ(runs_.load(), 2);
  EXPECT_EQ(state_.lab.outcomes.at("matmul").settings.at("tile"), 32);
}

TEST_F(LabWindow, ReductionTreeAndLessonsKeepTheirResults) {
  OpenLab(state_, "reduction");
  ASSERT_TRUE(Settle());
  Click("lab_tab_Tree");
  EXPECT_EQ(state_.lab.drawn.tab, "Tree");
  EXPECT_EQ(state_.lab.drawn.tree_levels, 6u);
  Click("lab_lesson_grid");
  ASSERT_TRUE(Settle());
  Click("lab_lesson_reduction");
  Frame();
  EXPECT_EQ(runs_.load(), 2);  // visited again: its result is kept, not run again
  EXPECT_FALSE(state_.lab.busy);
}

TEST_F(LabWindow, AnUnknownShaderOrAFailedRunIsSaidOnScreen) {
  state_.lab.shader_source = [](const std::string& shader) -> const std::string& {
    throw std::runtime_error("no shader " + shader);
  };
  OpenLab(state_, "matmul");
  ASSERT_TRUE(Settle());
  EXPECT_EQ(state_.lab.drawn.source_lines, 0u);
  state_.lab.outcomes["matmul"].error = "tile 64 needs 32 KiB of shared memory; the device has 16 KiB";
  state_.lab.outcomes["matmul"].result = nullptr;
  Frame();
  EXPECT_TRUE(RecordedItemRects().count("lab_error"));
  CloseLab(state_);
  EXPECT_FALSE(state_.lab.open);
}

}  // namespace
}  // namespace ts::ui
