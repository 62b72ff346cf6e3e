// The Kernel Lab's Puzzles view drawn headless (an ImGui context with no
// renderer) inside the Lab window, its runs on the puzzle worker's own device
// (validation on): the switch, the list, a wrong kernel (wrong cells drawn,
// Show solution unlocked), a compile error marked on its line, the right
// kernel (solved, timed, saved to the progress file in the data folder).
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <cfloat>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "imgui.h"
#include "support/headless_imgui.h"
#include "ui/app_state.h"
#include "ui/lab/lab_window.h"
#include "ui/lab/puzzle_progress.h"
#include "ui/lab/puzzles_window.h"
#include "ui/test_hooks.h"

namespace ts::ui {
namespace {

namespace fs = std::filesystem;

class PuzzlesWindow : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = fs::temp_directory_path() / ("tensorscope_puzzles_window_" + std::to_string(getpid()));
    fs::remove_all(data_);
    const char* old = std::getenv("XDG_DATA_HOME");
    if (old) old_data_home_ = old;
    setenv("XDG_DATA_HOME", data_.c_str(), 1);
    context_ = testing::CreateHeadlessImGui();
    vk::ContextOptions options;
    options.validation = true;
    options.on_validation_message = [this](const std::string&) { ++validation_messages_; };
    InitPuzzles(state_, options, [] {});
    state_.lab.open = true;
  }
  void TearDown() override {
    state_.puzzles.reset();  // joins the worker before the context goes
    ImGui::DestroyContext(context_);
    if (old_data_home_.empty()) unsetenv("XDG_DATA_HOME");
    else setenv("XDG_DATA_HOME", old_data_home_.c_str(), 1);
    fs::remove_all(data_);
  }
  void Frame(ImVec2 mouse = ImVec2(-FLT_MAX, -FLT_MAX), bool down = false) {
    ImGuiIO& io = ImGui::GetIO();
    io.MousePos = mouse;
    io.MouseDown[0] = down;
    ImGui::NewFrame();
    DrawLabWindow(state_);
    ImGui::Render();
  }
  void Click(const std::string& rect) {
    testing::ClickRecordedRect(rect, [this](ImVec2 mouse, bool down) { Frame(mouse, down); });
  }
  // Runs `body` in the current puzzle with the Run button; frames until its answer is drawn.
  const PuzzlesView::Outcome& Run(const std::string& body) {
    PuzzlesView& view = *state_.puzzles;
    view.progress.code[view.progress.current] = body;
    const uint64_t before = view.request;
    Click("puzzle_run");
    EXPECT_GT(view.request, before);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while ((view.busy || !view.outcomes.count(view.progress.current) ||
            view.outcomes.at(view.progress.current).body != body) &&
           std::chrono::steady_clock::now() < deadline) {
      Frame();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    Frame();
    Frame();
    return view.outcomes.at(view.progress.current);
  }

  AppState state_;
  fs::path data_;
  std::string old_data_home_;
  std::atomic<int> validation_messages_{0};

 private:
  ImGuiContext* context_ = nullptr;
};

TEST_F(PuzzlesWindow, AWrongACompileErrorAndARightKernelInTheLab) {
  Frame();
  Frame();
  Click("lab_mode_puzzles");
  ASSERT_TRUE(state_.puzzles->shown);
  Click("lab_puzzle_zip");
  PuzzlesView& view = *state_.puzzles;
  EXPECT_EQ(view.drawn.puzzle, "zip");
  EXPECT_FALSE(view.drawn.show_solution_enabled);

  const PuzzlesView::Outcome& wrong = Run("uint i = gl_GlobalInvocationID.x;\nwrite_out(i, read_a(i) - read_b(i));\n");
  ASSERT_TRUE(wrong.result) << wrong.error;
  EXPECT_FALSE(wrong.result->passed);
  EXPECT_EQ(wrong.result->wrong_count, 3u);  // a - b is right at element 0 (0 - 0) only
  EXPECT_EQ(view.drawn.wrong_cells, 3u);
  EXPECT_GT(view.drawn.touched_cells, 0u);
  EXPECT_GT(view.drawn.diagnoses, 0u);
  EXPECT_TRUE(view.drawn.show_solution_enabled);
  Click("puzzle_show_solution");
  EXPECT_TRUE(view.drawn.solution_shown);

  const PuzzlesView::Outcome& typo = Run("uint i = gl_GlobalInvocationID.x;\nwrite_out(i, read_c(i));\n");
  ASSERT_TRUE(typo.result);
  EXPECT_FALSE(typo.result->compiled);
  EXPECT_EQ(view.drawn.error_lines, 1u);
  EXPECT_EQ(view.drawn.editor_lines, 3u);

  const PuzzlesView::Outcome& right = Run(lab::FindPuzzle("zip").solution);
  ASSERT_TRUE(right.result);
  EXPECT_TRUE(right.result->passed);
  EXPECT_TRUE(right.result->ms && right.result->reference_ms);
  EXPECT_EQ(view.drawn.wrong_cells, 0u);
  EXPECT_TRUE(view.progress.solved["zip"]);

  // Saved in the data folder: solved, with the code, after two failed tries.
  PuzzleProgress saved = LoadPuzzleProgress((data_ / "tensorscope" / "puzzles.json").string());
  EXPECT_TRUE(saved.solved["zip"]);
  EXPECT_EQ(saved.code["zip"], lab::FindPuzzle("zip").solution);
  EXPECT_EQ(saved.failed_tries["zip"], 2);
  EXPECT_EQ(saved.current, "zip");

  Click("puzzle_reset");
  EXPECT_EQ(view.progress.code["zip"], lab::FindPuzzle("zip").starter);
  EXPECT_EQ(validation_messages_.load(), 0);
}

}  // namespace
}  // namespace ts::ui
