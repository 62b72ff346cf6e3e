#include "ui/parity_window.h"

#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include <imgui.h>
#include <unistd.h>

#include "compute/common/error.h"
#include "compute/common/shell_quote.h"
#include "compute/interop/torch_replay.h"
#include "compute/nn/model.h"
#include "ui/panel_layout.h"
#include "ui/test_hooks.h"
#include "ui/widgets/plot.h"

namespace ts::ui {
namespace {

namespace fs = std::filesystem;

// One replay: filled by its thread from the child's output, read by the window.
struct ParityJob {
  std::mutex mutex;
  bool running = false;
  std::vector<double> step, ours, theirs, relative;
  std::string verdict, error, notes;
  std::thread thread;
  ~ParityJob() {
    if (thread.joinable()) thread.join();
  }
};

struct ParityUi {
  bool open = false;
  int steps = 30;
  std::unique_ptr<ParityJob> job;
  PlotState loss_view, difference_view;
  uint64_t job_number = 0;
};

ParityUi& Ui() {
  static ParityUi ui;
  return ui;
}

// Runs `tensorscope parity MODEL --steps N` and parses its table and verdict.
void RunReplay(ParityJob* job, std::string model_path, int steps) {
  std::error_code error;
  const std::string self = fs::read_symlink("/proc/self/exe", error).string();
  const std::string command = ShellQuote(self) + " parity " + ShellQuote(model_path) + " --steps " + std::to_string(steps) + " 2>&1";
  std::string output;
  if (FILE* pipe = popen(command.c_str(), "r")) {
    char buffer[4096];
    while (fgets(buffer, sizeof buffer, pipe)) {
      output += buffer;
      unsigned long s = 0;
      double a = 0, b = 0, r = 0;
      if (std::sscanf(buffer, "%lu %lf %lf %lf", &s, &a, &b, &r) == 4) {
        std::lock_guard lock(job->mutex);
        job->step.push_back(double(s));
        job->ours.push_back(a);
        job->theirs.push_back(b);
        job->relative.push_back(std::max(r, 1e-12));  // a log axis: exact agreement at its floor
      }
    }
    const int status = pclose(pipe);
    std::lock_guard lock(job->mutex);
    std::istringstream lines(output);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("Verdict: ", 0) == 0) job->verdict = line.substr(9);
      if (line.find("for the replay: ") != std::string::npos) job->notes += line.substr(line.find(':') + 2) + "\n";
      if (line.rfind("tensorscope: ", 0) == 0) job->error += line.substr(13) + "\n";
    }
    if (job->verdict.empty() && job->error.empty())
      job->error = "the replay ended (status " + std::to_string(status) + ") without a verdict:\n" + output;
  } else {
    std::lock_guard lock(job->mutex);
    job->error = "could not start " + self + ".";
  }
  std::lock_guard lock(job->mutex);
  job->running = false;
  fs::remove(model_path, error);
}

void StartReplay(AppState& state, ParityUi& ui) {
  if (!state.model) throw Error("the model has errors; fix them first.");
  std::error_code error;
  const std::string path = (fs::temp_directory_path(error) / ("tensorscope-parity-" + std::to_string(getpid()) + "-" +
                                                             std::to_string(++ui.job_number) + ".json")).string();
  nn::SaveModel(*state.model, path);  // its training section is the project's settings and data
  if (ui.job && ui.job->thread.joinable()) ui.job->thread.join();
  ui.job = std::make_unique<ParityJob>();
  ui.job->running = true;
  ui.loss_view = {};
  ui.difference_view = {};
  ui.job->thread = std::thread(RunReplay, ui.job.get(), path, ui.steps);
}

}  // namespace

void DrawParityButton(AppState& state) {
  ParityUi& ui = Ui();
  ImGui::BeginDisabled(!state.model);
  if (ImGui::Button("PyTorch check...")) ui.open = true;
  ImGui::EndDisabled();
  RecordItemRect("parity");
  if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled))
    ImGui::SetTooltip("Check against PyTorch: replay this model's first steps in PyTorch from the same\n"
                      "weights and batches, and compare the two loss curves step by step.");
}

void DrawParityWindow(AppState& state) {
  ParityUi& ui = Ui();
  if (!ui.open) return;
  ImGui::SetNextWindowSize(ImVec2(Scaled(560), Scaled(520)), ImGuiCond_FirstUseEver);
  if (!ImGui::Begin("Check against PyTorch", &ui.open)) {
    ImGui::End();
    return;
  }
  RecordRect("parity_window", ImGui::GetWindowPos().x, ImGui::GetWindowPos().y,
             ImGui::GetWindowPos().x + ImGui::GetWindowSize().x, ImGui::GetWindowPos().y + ImGui::GetWindowSize().y);
  const bool running = ui.job && [&] {
    std::lock_guard lock(ui.job->mutex);
    return ui.job->running;
  }();
  ImGui::TextWrapped("Replays the first steps of %s in PyTorch (python3-torch) from the same initial weights and "
                     "batches, and compares the losses.", state.project.name.c_str());
  ImGui::SetNextItemWidth(Scaled(100));
  ImGui::InputInt("steps", &ui.steps);
  ui.steps = std::clamp(ui.steps, 1, 10000);
  ImGui::SameLine();
  ImGui::BeginDisabled(running || !state.model);
  if (ImGui::Button(running ? "Replaying..." : "Run")) {
    try {
      StartReplay(state, ui);
    } catch (const Error& e) {
      state.Notify(Notice::Level::kError, std::string("PyTorch check: ") + e.what());
    }
  }
  ImGui::EndDisabled();
  RecordItemRect("parity_run");
  if (ui.job) {
    std::lock_guard lock(ui.job->mutex);
    ParityJob& job = *ui.job;
    state.parity = {running, job.step.size(), job.verdict, job.error};
    if (!job.notes.empty()) ImGui::TextDisabled("For the replay: %s", job.notes.c_str());
    if (!job.error.empty()) ImGui::TextColored(ImVec4(1.0f, 0.42f, 0.38f, 1.0f), "%s", job.error.c_str());
    if (!job.verdict.empty()) ImGui::TextWrapped("%s", job.verdict.c_str());
    if (!job.step.empty()) {
      const PlotSeries losses[] = {{.label = "Tensorscope", .x = job.step, .y = job.ours, .smooth = false},
                                   {.label = "PyTorch", .x = job.step, .y = job.theirs, .dashed = true, .smooth = false}};
      PlotOptions options{.title = "loss per step", .x_label = "step", .size = ImVec2(0, Scaled(170))};
      Plot("parity losses", ui.loss_view, options, losses);
      const PlotSeries difference[] = {{.label = "relative difference", .x = job.step, .y = job.relative, .smooth = false}};
      PlotOptions log_options{.title = "|Tensorscope - PyTorch| / |PyTorch| (equal: drawn at 1e-12)", .x_label = "step",
                              .log_y = true,
                              .size = ImVec2(0, Scaled(150))};
      Plot("parity difference", ui.difference_view, log_options, difference);
    }
  }
  ImGui::End();
}

}  // namespace ts::ui
