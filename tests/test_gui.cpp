// GUI tests: each runs one case of tests/gui/gui_test.py, which starts the real
// Tensorscope window (fresh XDG dirs, a private Xvfb when Xvfb is installed),
// drives it with xdotool mouse and keyboard events, and checks the app's
// --test-log and screenshots. See that script for what each case does.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>

namespace {

namespace fs = std::filesystem;

bool OnPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');)
    if (!dir.empty() && access((fs::path(dir) / program).c_str(), X_OK) == 0) return true;
  return false;
}

std::string Quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// Runs the case; returns its exit status and fills `output` with what it printed.
int RunScript(const std::string& command, std::string* output) {
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return -1;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) output->append(buffer.data(), n);
  int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void RunGuiCase(const std::string& name) {
  const char* display = std::getenv("DISPLAY");
  if (!display || !*display)
    GTEST_SKIP() << "DISPLAY is not set: the GUI tests need an X display (the test command runs CTest under "
                    "xvfb-run; by hand: xvfb-run -a ctest -R test_gui).";
  if (!OnPath("xdotool"))
    GTEST_SKIP() << "xdotool is not installed (Debian package xdotool): the GUI tests need it to drive the window.";
  if (access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "/usr/bin/python3 is missing: it runs the GUI tests.";

  fs::path out = fs::temp_directory_path() / ("tensorscope-gui-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(out);
  fs::create_directories(out);
  std::string command = "/usr/bin/python3 " + Quote(std::string(TENSORSCOPE_SOURCE_DIR) + "/tests/gui/gui_test.py") +
                        " " + name + " --binary " + Quote(TENSORSCOPE_BINARY) + " --out " + Quote(out.string()) +
                        " 2>&1";
  std::string output;
  int code = RunScript(command, &output);
  EXPECT_EQ(code, 0) << "GUI case '" << name << "' failed; logs, app output and screenshots are in " << out.string()
                     << "\n$ " << command << "\n"
                     << output;
  if (code == 0) {
    std::error_code ignored;
    fs::remove_all(out, ignored);
  }
}

// Frame pacing: an idle window draws a heartbeat only; "train fast" during a
// run drops it to a few frames a second while the steps and curves go on;
// off again, frames come at the training rate.
TEST(GuiTest, TrainFast) { RunGuiCase("train_fast"); }

// Default project (spiral MLP): click Train, wait for 10 epochs, check loss and
// accuracies, take a screenshot (size, not blank), close the window.
TEST(GuiTest, TrainDefault) { RunGuiCase("train_default"); }

// Palette: add Tanh and Dense, type the new layer's units, Save As through the
// path popup, quit, reopen with --project: same layers, and the file has them.
TEST(GuiTest, BuildAndSave) { RunGuiCase("build_and_save"); }

// --project with malformed JSON: a notice naming the file and "JSON", the
// default project, and the app keeps running.
TEST(GuiTest, BadProject) { RunGuiCase("bad_project"); }

// SGD at learning rate 1e30: a "diverged" notice, and the app keeps running.
TEST(GuiTest, Divergence) { RunGuiCase("divergence"); }

// Closing the window with unsaved changes asks before quitting.
TEST(GuiTest, UnsavedQuit) { RunGuiCase("unsaved_quit"); }

// shapes-cnn on a small shapes set: the Inside window starts collapsed along the
// bottom; opened after an epoch, every tab draws (32 filters, feature maps,
// histograms and dead-ReLU bars, the mistakes gallery), and a ring drawn on the
// canvas with mouse drags gets five top answers whose probabilities sum to 1.
TEST(GuiTest, InsideViews) { RunGuiCase("inside_views"); }

// The GPU insight window during training: ceilings measured (fresh cache),
// every tab draws its chart or table (kernel rows, stacked bandwidth, roofline
// dots, timeline events, memory categories, occupancy, device extensions), the
// trace export writes Chrome JSON, and a recorded trace has workgroup records.
TEST(GuiTest, GpuInsight) { RunGuiCase("gpu_insight"); }

// The run the window shows (tests/gui/run_cases.py). A preset carries its data:
// shapes-cnn loads the 8 shape classes, mnist-mlp then MNIST, and the run it
// trains is judged on MNIST.
TEST(GuiTest, PresetData) { RunGuiCase("preset_data"); }

// After a spiral run, picking the shapes data ends the run: no curve, confusion
// matrix or prediction of the old run stays, the shapes' defaults apply, and the
// input layer that does not fit the images is marked on its row.
TEST(GuiTest, DataChange) { RunGuiCase("data_change"); }

// A last dense layer of 16 units on 3 classes: an error on that row, Train disabled.
TEST(GuiTest, OutputMismatch) { RunGuiCase("output_mismatch"); }

// Stop a run and quit; relaunched, the network, curves and results are back,
// and Continue trains on from the same step.
TEST(GuiTest, RelaunchContinue) { RunGuiCase("relaunch_continue"); }

// Export... (tests/gui/exchange_cases.py): the trained spiral as an ONNX file that
// python3-onnx's checker accepts and as a PyTorch folder whose model.py loads.
TEST(GuiTest, Export) { RunGuiCase("export"); }
// PyTorch check... (tests/gui/exchange_cases.py): the spiral MLP's first 30 steps
// replayed in PyTorch agree, plotted in the window (or it says to install python3-torch).
TEST(GuiTest, ParityWindow) { RunGuiCase("parity"); }
// Parallelism... measures 1..4 data-parallel replicas and draws the scaling and a step's Gantt chart.
TEST(GuiTest, ParallelWindow) { RunGuiCase("parallel"); }
// replicas 2 in the Training panel trains the spiral with two data-parallel replicas.
TEST(GuiTest, ReplicasTrain) { RunGuiCase("replicas_train"); }
// precision fp16 in the Training panel: the spiral trains in mixed precision, with the
// loss-scale plot, and GPU insight's roofline shows its fp16 kernels.
TEST(GuiTest, MixedPrecisionTrain) { RunGuiCase("mixed_precision"); }
// A project in fp16 opens in fp16, and a stopped fp16 run's loss-scale plot survives a relaunch.
TEST(GuiTest, MixedPrecisionRelaunch) { RunGuiCase("mixed_precision_relaunch"); }
TEST(GuiTest, MixedPrecisionCnn) { RunGuiCase("mixed_precision_cnn"); }
// Open... of ONNX files (tests/gui/exchange_cases.py): one with an unsupported node is
// refused by op and node in the dialog, the project unchanged; a good one becomes the
// project's model and run, on data that fits it, and Continue trains it.
TEST(GuiTest, OpenOnnx) { RunGuiCase("open_onnx"); }
// Metrics CSV... and Save as PNG... (tests/gui/exchange_cases.py): every step and
// evaluation as train --metrics-csv writes them; the loss curve, decision boundary and
// confusion matrix as PNGs of the charts' size that are not blank.
TEST(GuiTest, WindowFiles) { RunGuiCase("window_files"); }
// GPU insight's Occupancy tab while training: a kernel selected by a click
// stays selected (by kernel, layer and pass, not by line) when the table is
// sorted by a column both ways and rebuilt live; the sort the user picked
// stays, in the Kernels tab (which sorts by time, live) too; a what-if field
// takes typing after one click.
TEST(GuiTest, OccupancySelectionSurvivesResort) { RunGuiCase("occupancy_selection"); }

// At 1280x720 (a display of that size): every panel lies within the display
// and its content fits its width (the GPU panel's table too), and neither GPU
// insight nor the opened Inside window covers the Train / Pause / Stop row;
// the Training panel clicked stays behind the Inside window, opaque.
TEST(GuiTest, LayoutAt1280x720) { RunGuiCase("layout_1280x720"); }

// A sequence model (tests/gui/sequence_cases.py): Presets > char-gpt loads the
// built-in text (the Data panel shows a window as its text), trains a few
// steps with the loss falling from about ln 73 = 4.3, stops; spiral-mlp and
// char-gpt again leave nothing of the old run.
TEST(GuiTest, CharGpt) { RunGuiCase("char_gpt"); }

// The Kernel Lab (tests/gui/lab_cases.py): `tensorscope lab` opens on lesson 1;
// every lesson runs with every check passed, runs again when a knob's slider
// is moved, and each of its tabs draws (a screenshot of each is kept).
TEST(GuiTest, KernelLab) { RunGuiCase("lab_lessons"); }

// The Lab's puzzles (tests/gui/puzzle_cases.py): a kernel body typed into the
// editor with xdotool runs with Ctrl+Enter: a wrong one fails with its wrong
// cells drawn red, a compile error is marked on its line, the right one passes
// and is timed; the progress file says solved (screenshots of each are kept).
TEST(GuiTest, KernelLabPuzzles) { RunGuiCase("lab_puzzles"); }

}  // namespace
