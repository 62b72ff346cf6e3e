#include "ui/parallel_window.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include <imgui.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "compute/common/error.h"
#include "compute/nn/model.h"
#include "compute/parallel/scaling.h"
#include "compute/vk/buffer.h"
#include "ui/controller.h"
#include "ui/panel_layout.h"
#include "ui/test_hooks.h"
#include "ui/widgets/gantt.h"
#include "ui/widgets/plot.h"
#include "ui/widgets/text.h"

namespace ts::ui {
namespace {

namespace fs = std::filesystem;

// One measurement: filled by its thread from the child's output, read by the window.
struct ScalingJob {
  std::mutex mutex;
  bool running = false;
  std::string progress, error;
  std::optional<parallel::ScalingResult> result;
  std::thread thread;
  ~ScalingJob() {
    if (thread.joinable()) thread.join();
  }
};

struct ParallelUi {
  bool open = false;
  int max_replicas = 4, steps = 20, rounds = 3;
  std::unique_ptr<ScalingJob> job;
  int shown_point = -1;  // index into the result's points of the step drawn; -1: the most replicas
  PlotState scaling_view;
  GanttState gantt_view;
  uint64_t job_number = 0;
  // The Gantt chart's bars and labels, rebuilt when the shown point changes.
  int bars_for = -2;
  std::vector<GanttBar> bars;
  std::vector<std::string> bar_labels, row_labels;
  std::vector<const char*> row_label_ptrs;
};

ParallelUi& Ui() {
  static ParallelUi ui;
  return ui;
}

std::string Quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// Runs `tensorscope bench --replicas N --json` on the model and reads its answer.
void RunScaling(ScalingJob* job, std::string model_path, std::string data_spec, int replicas, int steps, int rounds) {
  std::error_code error;
  const std::string self = fs::read_symlink("/proc/self/exe", error).string();
  const std::string command = Quote(self) + " bench --replicas " + std::to_string(replicas) + " --model " +
                              Quote(model_path) + " --data " + Quote(data_spec) + " --steps " +
                              std::to_string(steps) + " --rounds " + std::to_string(rounds) + " --json 2>&1";
  std::string output, answer;
  int status = -1;
  if (FILE* pipe = popen(command.c_str(), "r")) {
    char buffer[1 << 16];
    while (fgets(buffer, sizeof buffer, pipe)) {
      std::string line = buffer;
      output += line;
      if (!line.empty() && line[0] == '{') answer = line;
    }
    status = pclose(pipe);
  }
  std::lock_guard lock(job->mutex);
  try {
    if (answer.empty()) {
      std::string message;
      std::istringstream lines(output);
      for (std::string line; std::getline(lines, line);)
        if (line.rfind("tensorscope: ", 0) == 0) message += line.substr(13) + "\n";
      throw Error(message.empty() ? "the measurement ended (status " + std::to_string(status) + ") without an answer:\n" +
                                        output.substr(0, 2000)
                                  : message);
    }
    job->result = parallel::ScalingFromJson(nlohmann::json::parse(answer));
  } catch (const std::exception& e) {
    job->error = e.what();
  }
  job->running = false;
  fs::remove(model_path, error);
}

void StartScaling(AppState& state, ParallelUi& ui) {
  if (!state.model) throw Error("the model has errors; fix them first.");
  std::error_code error;
  const std::string path = (fs::temp_directory_path(error) / ("tensorscope-parallel-" + std::to_string(getpid()) +
                                                             "-" + std::to_string(++ui.job_number) + ".json")).string();
  nn::SaveModel(*state.model, path);  // its training section holds the project's batch and optimizer
  if (ui.job && ui.job->thread.joinable()) ui.job->thread.join();
  ui.job = std::make_unique<ScalingJob>();
  ui.job->running = true;
  ui.scaling_view = {};
  ui.gantt_view = {};
  ui.shown_point = -1;
  ui.bars_for = -2;
  ui.job->thread = std::thread(RunScaling, ui.job.get(), path, LoadedDataSpec(state), ui.max_replicas, ui.steps,
                               ui.rounds);
}

ImU32 PhaseColor(parallel::PhaseKind kind) {
  switch (kind) {
    case parallel::PhaseKind::kForward: return IM_COL32(86, 156, 214, 255);
    case parallel::PhaseKind::kBackward: return IM_COL32(230, 145, 56, 255);
    case parallel::PhaseKind::kAllReduce: return IM_COL32(176, 122, 214, 255);
    case parallel::PhaseKind::kUpdate: return IM_COL32(106, 180, 96, 255);
  }
  return IM_COL32(128, 128, 128, 255);
}

// Two rows per replica: its device's work, and the all-reduce of its buckets.
void BuildBars(ParallelUi& ui, const parallel::ScalingPoint& point) {
  ui.bars.clear();
  ui.bar_labels.clear();
  ui.row_labels.clear();
  for (uint32_t r = 0; r < point.replicas; ++r) {
    ui.row_labels.push_back("replica " + std::to_string(r));
    ui.row_labels.push_back("  all-reduce");
  }
  ui.row_label_ptrs.clear();
  for (const std::string& label : ui.row_labels) ui.row_label_ptrs.push_back(label.c_str());
  ui.bar_labels.reserve(point.example.events.size());
  for (const parallel::PhaseEvent& e : point.example.events) {
    std::string label = parallel::PhaseKindName(e.kind);
    if (e.bucket >= 0 && e.kind != parallel::PhaseKind::kForward) label += " (bucket " + std::to_string(e.bucket) + ")";
    ui.bar_labels.push_back(label);
  }
  for (size_t i = 0; i < point.example.events.size(); ++i) {
    const parallel::PhaseEvent& e = point.example.events[i];
    GanttBar bar;
    bar.row = 2 * e.replica + (e.kind == parallel::PhaseKind::kAllReduce ? 1 : 0);
    bar.start = e.start_ns * 1e-3;
    bar.end = std::max(e.end_ns * 1e-3, bar.start + 0.5);  // a sub-microsecond all-reduce stays visible
    bar.color = PhaseColor(e.kind);
    bar.label = ui.bar_labels[i].c_str();
    ui.bars.push_back(bar);
  }
}

void DrawResult(AppState& state, ParallelUi& ui, const parallel::ScalingResult& r) {
  if (r.points.empty()) return;
  if (r.simulated) {
    ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(1.0f, 0.78f, 0.35f, 1.0f));
    ImGui::TextWrapped("Simulated on one device: %s. Compute does not divide by N here; the model line shows "
                       "what N devices of this kind would give.", r.device_description.c_str());
    ImGui::PopStyleColor();
  } else
    ImGui::TextWrapped("%s.", r.device_description.c_str());
  ImGui::TextWrapped("Global batch %u; %s of gradients in %zu bucket(s); medians of %u interleaved rounds of %u steps.",
                     r.global_batch, vk::FormatBytes(r.gradient_bytes).c_str(), r.buckets, r.rounds, r.steps);
  if (ImGui::BeginTable("scaling", 7, ImGuiTableFlags_Borders | ImGuiTableFlags_SizingFixedFit)) {
    for (const char* h : {"replicas", "samples/s", "vs 1", "ideal", "model", "step ms", "sent per replica"})
      ImGui::TableSetupColumn(h);
    ImGui::TableHeadersRow();
    for (const parallel::ScalingPoint& p : r.points) {
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::Text("%u", p.replicas);
      ImGui::TableNextColumn();
      ImGui::Text("%.0f", p.samples_per_second);
      ImGui::TableNextColumn();
      ImGui::Text("%.2fx", p.samples_per_second / r.points[0].samples_per_second);
      ImGui::TableNextColumn();
      ImGui::Text("%.0f", r.IdealSamplesPerSecond(p.replicas));
      ImGui::TableNextColumn();
      ImGui::Text("%.0f", r.ModelSamplesPerSecond(p.replicas));
      ImGui::TableNextColumn();
      ImGui::Text("%.3f", p.step_ms);
      ImGui::TableNextColumn();
      ImGui::Text("%s", vk::FormatBytes(p.bytes_sent_per_replica).c_str());
    }
    ImGui::EndTable();
  }
  std::vector<double> x, measured, ideal, model;
  for (const parallel::ScalingPoint& p : r.points) {
    x.push_back(p.replicas);
    measured.push_back(p.samples_per_second);
    ideal.push_back(r.IdealSamplesPerSecond(p.replicas));
    model.push_back(r.ModelSamplesPerSecond(p.replicas));
  }
  const PlotSeries series[] = {{.label = "measured", .x = x, .y = measured, .smooth = false},
                               {.label = "ideal (N x one replica)", .x = x, .y = ideal, .dashed = true, .smooth = false},
                               {.label = "model: compute / N + bytes / link", .x = x, .y = model, .dashed = true,
                                .smooth = false}};
  Plot("scaling chart", ui.scaling_view,
       {.title = "samples/s against replicas", .x_label = "replicas", .size = ImVec2(0, Scaled(170)), .y_fit_min = 0},
       series);
  if (r.link_bytes_per_second > 0)
  {
    char text[160];
    std::snprintf(text, sizeof text, "Link: %.2f GB/s, measured (the ring's bytes over the host's all-reduce time).",
                  r.link_bytes_per_second * 1e-9);
    Muted(text);
  }

  // One step's Gantt chart.
  ImGui::TextUnformatted("One step of");
  for (size_t i = 0; i < r.points.size(); ++i) {
    if (r.points[i].replicas < 2) continue;
    ImGui::SameLine();
    const bool shown = ui.shown_point == int(i) || (ui.shown_point < 0 && i + 1 == r.points.size());
    if (ImGui::RadioButton((std::to_string(r.points[i].replicas) + " replicas").c_str(), shown)) ui.shown_point = int(i);
  }
  const int index = ui.shown_point < 0 ? int(r.points.size()) - 1 : ui.shown_point;
  const parallel::ScalingPoint& point = r.points[index];
  if (ui.bars_for != index) {
    BuildBars(ui, point);
    ui.bars_for = index;
    ui.gantt_view = {};
  }
  for (parallel::PhaseKind kind : {parallel::PhaseKind::kForward, parallel::PhaseKind::kBackward,
                                   parallel::PhaseKind::kAllReduce, parallel::PhaseKind::kUpdate}) {
    ColorSwatch(PhaseColor(kind));
    ImGui::TextUnformatted(parallel::PhaseKindName(kind));
    ImGui::SameLine();
  }
  ImGui::NewLine();
  Gantt("replica gantt", ui.gantt_view, ui.row_label_ptrs, ui.bars,
        {.x_label = "us", .row_height = ImGui::GetFrameHeight() * 1.1f});
  RecordItemRect("parallel_gantt");
  ImGui::TextWrapped("Step %llu: %s sent per replica; all-reduce %.3f ms on the host while the backward pass goes on; "
                     "the devices waited %.3f ms for the last bucket before the update. Times: %s.",
                     static_cast<unsigned long long>(point.example.global_step + 1),
                     vk::FormatBytes(point.bytes_sent_per_replica).c_str(), point.all_reduce_ms, point.exposed_ms,
                     point.example.device_clock ? "each device's timestamps, placed on the host clock"
                                                : "the host's view (no calibrated device timestamps)");
  state.parallel.gantt_bars = ui.bars.size();
}

}  // namespace

void DrawParallelButton(AppState& state) {
  ParallelUi& ui = Ui();
  ImGui::BeginDisabled(!state.model);
  if (ImGui::Button("Parallelism...")) ui.open = true;
  ImGui::EndDisabled();
  RecordItemRect("parallel");
  if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled))
    ImGui::SetTooltip("Data parallelism: train this model with 1, 2, .. N replicas, the batch split among them and\n"
                      "the gradients averaged by a ring all-reduce; see the scaling and one step's timeline.");
}

void DrawParallelWindow(AppState& state) {
  ParallelUi& ui = Ui();
  if (!ui.open) return;
  ImGui::SetNextWindowPos(ImVec2(Scaled(60), Scaled(30)), ImGuiCond_FirstUseEver);
  ImGui::SetNextWindowSize(ImVec2(Scaled(760), Scaled(820)), ImGuiCond_FirstUseEver);
  if (!ImGui::Begin("Parallelism", &ui.open)) {
    ImGui::End();
    return;
  }
  RecordRect("parallel_window", ImGui::GetWindowPos().x, ImGui::GetWindowPos().y,
             ImGui::GetWindowPos().x + ImGui::GetWindowSize().x, ImGui::GetWindowPos().y + ImGui::GetWindowSize().y);
  const bool running = ui.job && [&] {
    std::lock_guard lock(ui.job->mutex);
    return ui.job->running;
  }();
  ImGui::TextWrapped(
      "Data parallel: every replica holds the whole model and takes 1/N of each batch. After its backward pass "
      "each replica's gradients are averaged with the others' by a ring all-reduce (in buckets, from the last "
      "layer back, so communication overlaps the rest of the backward pass, as PyTorch DDP does), and every "
      "replica applies the same update. The result equals one device's training at the same batch.");
  ImGui::SetNextItemWidth(Scaled(120));
  ImGui::SliderInt("replicas up to", &ui.max_replicas, 2, 4);
  ImGui::SameLine();
  ImGui::SetNextItemWidth(Scaled(90));
  ImGui::InputInt("steps", &ui.steps);
  ui.steps = std::clamp(ui.steps, 2, 1000);
  ImGui::SameLine();
  ImGui::SetNextItemWidth(Scaled(90));
  ImGui::InputInt("rounds", &ui.rounds);
  ui.rounds = std::clamp(ui.rounds, 1, 20);
  ImGui::SameLine();
  ImGui::BeginDisabled(running || !state.model);
  if (ImGui::Button(running ? "Measuring..." : "Measure")) {
    try {
      StartScaling(state, ui);
    } catch (const Error& e) {
      state.Notify(Notice::Level::kError, std::string("Parallelism: ") + e.what());
    }
  }
  ImGui::EndDisabled();
  RecordItemRect("parallel_run");
  state.parallel.running = running;
  if (ui.job) {
    std::lock_guard lock(ui.job->mutex);
    ScalingJob& job = *ui.job;
    state.parallel.error = job.error;
    state.parallel.points = job.result ? job.result->points.size() : 0;
    state.parallel.simulated = job.result && job.result->simulated;
    if (running) Muted("Training the model with each number of replicas in turn (a separate process)...");
    if (!job.error.empty()) ImGui::TextColored(ImVec4(1.0f, 0.42f, 0.38f, 1.0f), "%s", job.error.c_str());
    if (job.result) DrawResult(state, ui, *job.result);
  }
  ImGui::End();
}

}  // namespace ts::ui
