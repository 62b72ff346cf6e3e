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
#include "compute/common/shell_quote.h"
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

// Tensor parallel: one split dense layer's answer (bench --tensor-parallel --json).
struct TensorAnswer {
  uint32_t devices = 0, batch = 0, inputs = 0, outputs = 0;
  std::vector<uint32_t> first_column;
  bool simulated = false;
  std::string device;
  double max_split_difference = 0, max_reference_error = 0, split_ms = 0, unsplit_ms = 0;
  uint64_t bytes_received = 0, weight_bytes = 0;
  struct Event {
    bool gather = false;
    uint32_t device = 0;
    double start_ms = 0, end_ms = 0;
  };
  std::vector<Event> events;
};

// One measurement by a child `tensorscope bench ... --json`: filled by its
// thread from the child's output, read by the window.
struct BenchJob {
  std::mutex mutex;
  bool running = false;
  std::string error;
  nlohmann::json answer;  // the child's JSON line (null until it came)
  std::optional<parallel::ScalingResult> scaling;  // data parallel: the answer, read
  std::optional<TensorAnswer> tensor;              // tensor parallel: the answer, read
  std::thread thread;
  ~BenchJob() {
    if (thread.joinable()) thread.join();
  }
};

struct ParallelUi {
  bool open = false;
  int max_replicas = 4, steps = 20, rounds = 3;
  int tensor_devices = 2;
  int pipeline_stages = 3, micro_batches = 8;
  std::unique_ptr<BenchJob> job, tensor_job, pipeline_job;
  GanttState pipeline_views[2];
  std::vector<std::string> tensor_rows, pipeline_rows;  // the Gantt charts' row labels
  std::vector<const char*> tensor_row_ptrs, pipeline_row_ptrs;
  std::vector<GanttBar> pipeline_bars[2];
  std::vector<std::string> pipeline_labels[2];
  GanttState tensor_view;
  std::vector<GanttBar> tensor_bars;
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

// Runs `tensorscope bench ARGUMENTS --json` and keeps its JSON answer (or the error it printed).
// "stage 0", "stage 1", ...: a Gantt chart's row labels, and the pointers it takes.
void RowLabels(const char* prefix, uint32_t count, std::vector<std::string>& labels, std::vector<const char*>& pointers) {
  labels.clear();
  pointers.clear();
  for (uint32_t i = 0; i < count; ++i) labels.push_back(std::string(prefix) + " " + std::to_string(i));
  for (const std::string& label : labels) pointers.push_back(label.c_str());
}

enum class Answer { kScaling, kTensor, kPipeline };

TensorAnswer ReadTensorAnswer(const nlohmann::json& j);

void RunBenchChild(BenchJob* job, std::string arguments, std::string model_path, Answer kind) {
  std::error_code error;
  const std::string self = fs::read_symlink("/proc/self/exe", error).string();
  const std::string command = ShellQuote(self) + " bench " + arguments + " --json 2>&1";
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
    job->answer = nlohmann::json::parse(answer);
    if (kind == Answer::kScaling) job->scaling = parallel::ScalingFromJson(job->answer);
    if (kind == Answer::kTensor) job->tensor = ReadTensorAnswer(job->answer);
  } catch (const std::exception& e) {
    job->error = e.what();
  }
  job->running = false;
  if (!model_path.empty()) fs::remove(model_path, error);
}

void StartScaling(AppState& state, ParallelUi& ui) {
  if (!state.model) throw Error("the model has errors; fix them first.");
  std::error_code error;
  const std::string path = (fs::temp_directory_path(error) / ("tensorscope-parallel-" + std::to_string(getpid()) +
                                                             "-" + std::to_string(++ui.job_number) + ".json")).string();
  nn::SaveModel(*state.model, path);  // its training section holds the project's batch and optimizer
  if (ui.job && ui.job->thread.joinable()) ui.job->thread.join();
  ui.job = std::make_unique<BenchJob>();
  ui.job->running = true;
  ui.scaling_view = {};
  ui.gantt_view = {};
  ui.shown_point = -1;
  ui.bars_for = -2;
  const std::string arguments = "--replicas " + std::to_string(ui.max_replicas) + " --model " + ShellQuote(path) +
                                " --data " + ShellQuote(LoadedDataSpec(state)) + " --steps " + std::to_string(ui.steps) +
                                " --rounds " + std::to_string(ui.rounds);
  ui.job->thread = std::thread(RunBenchChild, ui.job.get(), arguments, path, Answer::kScaling);
}

// The model's first dense layer: (inputs, units); a 256 -> 128 layer when it has none.
std::pair<uint32_t, uint32_t> FirstDenseLayer(const AppState& state) {
  if (state.model) {
    const std::vector<nn::LayerShape> shapes = nn::InferShapes(*state.model);
    for (size_t i = 1; i < state.model->layers.size() && i < shapes.size(); ++i)
      if (state.model->layers[i].kind == nn::LayerKind::kDense)
        return {static_cast<uint32_t>(nn::ShapeElements(shapes[i - 1].output)), state.model->layers[i].units};
  }
  return {256, 128};
}

void StartTensor(AppState& state, ParallelUi& ui) {
  const auto [inputs, outputs] = FirstDenseLayer(state);
  if (ui.tensor_job && ui.tensor_job->thread.joinable()) ui.tensor_job->thread.join();
  ui.tensor_job = std::make_unique<BenchJob>();
  ui.tensor_job->running = true;
  ui.tensor_view = {};
  ui.tensor_bars.clear();
  const uint32_t batch = state.model ? nn::ParseTrainConfig(state.model->training, "the project").batch_size : 64;
  const std::string arguments = "--tensor-parallel " + std::to_string(ui.tensor_devices) + " --batch " +
                                std::to_string(batch) + " --inputs " + std::to_string(inputs) + " --outputs " +
                                std::to_string(outputs);
  ui.tensor_job->thread = std::thread(RunBenchChild, ui.tensor_job.get(), arguments, std::string(), Answer::kTensor);
}

TensorAnswer ReadTensorAnswer(const nlohmann::json& j) {
  TensorAnswer a;
  a.devices = j.at("devices").get<uint32_t>();
  a.batch = j.at("batch").get<uint32_t>();
  a.inputs = j.at("inputs").get<uint32_t>();
  a.outputs = j.at("outputs").get<uint32_t>();
  a.first_column = j.at("first_column").get<std::vector<uint32_t>>();
  a.simulated = j.at("simulated").get<bool>();
  a.device = j.at("device").get<std::string>();
  a.max_split_difference = j.at("max_split_difference").get<double>();
  a.max_reference_error = j.at("max_reference_error").get<double>();
  a.split_ms = j.at("split_ms").get<double>();
  a.unsplit_ms = j.at("unsplit_ms").get<double>();
  a.bytes_received = j.at("bytes_received_per_device").get<uint64_t>();
  a.weight_bytes = j.at("weight_bytes_per_device").get<uint64_t>();
  for (const nlohmann::json& e : j.at("events"))
    a.events.push_back({e.at("kind").get<std::string>() == "all-gather", e.at("device").get<uint32_t>(),
                        e.at("start_ms").get<double>(), e.at("end_ms").get<double>()});
  if (a.first_column.size() != a.devices + 1) throw Error("first_column: expected one entry per device and the end.");
  return a;
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
  if (r.trainer_samples_per_second > 0)
    ImGui::TextWrapped("One device without replicas (the trainer's several steps per submission): %.0f samples/s.",
                       r.trainer_samples_per_second);
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

bool Running(const std::unique_ptr<BenchJob>& job) {
  if (!job) return false;
  std::lock_guard lock(job->mutex);
  return job->running;
}

void DrawDataParallelTab(AppState& state, ParallelUi& ui) {
  const bool running = Running(ui.job);
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
  if (!ui.job) return;
  std::lock_guard lock(ui.job->mutex);
  BenchJob& job = *ui.job;
  state.parallel.error = job.error;
  state.parallel.points = job.scaling ? job.scaling->points.size() : 0;
  state.parallel.simulated = job.scaling && job.scaling->simulated;
  if (running) Muted("Training the model with each number of replicas in turn (a separate process)...");
  if (!job.error.empty()) ImGui::TextColored(ImVec4(1.0f, 0.42f, 0.38f, 1.0f), "%s", job.error.c_str());
  if (job.scaling) DrawResult(state, ui, *job.scaling);
}

ImU32 DeviceColor(uint32_t device) { return ClassColor(static_cast<int>(device)); }

// W (inputs x outputs) and Y (batch x outputs), their column blocks coloured by device.
void DrawSplitDiagram(const TensorAnswer& a) {
  ImDrawList* draw = ImGui::GetWindowDrawList();
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  const float height = Scaled(90), width = std::min(Scaled(260), ImGui::GetContentRegionAvail().x * 0.4f);
  const float gap = Scaled(40);
  auto matrix = [&](float x0, const char* name, const char* rows) {
    for (uint32_t d = 0; d < a.devices; ++d) {
      const float left = x0 + width * a.first_column[d] / a.outputs, right = x0 + width * a.first_column[d + 1] / a.outputs;
      const ImU32 colour = DeviceColor(d);
      draw->AddRectFilled(ImVec2(left, origin.y + Scaled(18)), ImVec2(right, origin.y + Scaled(18) + height),
                          (colour & 0x00FFFFFF) | 0x90000000);
      draw->AddRect(ImVec2(left, origin.y + Scaled(18)), ImVec2(right, origin.y + Scaled(18) + height), colour);
      const std::string label = "device " + std::to_string(d);
      draw->AddText(ImVec2(left + Scaled(4), origin.y + Scaled(22)), IM_COL32(255, 255, 255, 230), label.c_str());
    }
    const std::string title = std::string(name) + " (" + rows + " x " + std::to_string(a.outputs) + ")";
    draw->AddText(ImVec2(x0, origin.y), ImGui::GetColorU32(ImGuiCol_Text), title.c_str());
  };
  const std::string inputs = std::to_string(a.inputs), batch = std::to_string(a.batch);
  matrix(origin.x, "W: output columns split", inputs.c_str());
  draw->AddText(ImVec2(origin.x + width + Scaled(8), origin.y + Scaled(18) + height / 2 - Scaled(8)),
                ImGui::GetColorU32(ImGuiCol_Text), "->");
  matrix(origin.x + width + gap, "Y = relu(X W + b): all-gathered", batch.c_str());
  ImGui::Dummy(ImVec2(2 * width + gap, height + Scaled(24)));
}

void DrawTensorParallelTab(AppState& state, ParallelUi& ui) {
  const bool running = Running(ui.tensor_job);
  const auto [inputs, outputs] = FirstDenseLayer(state);
  ImGui::TextWrapped(
      "Tensor parallel (Megatron-LM's column-parallel linear): a dense layer's weight matrix W is split by output "
      "columns, each device holding X whole and its columns of W and b, so each stores and multiplies 1/K of the "
      "weights. Each computes its columns of Y = relu(X W + b); an all-gather then gives every device the whole Y. "
      "Here: the model's first dense layer, %u inputs -> %u outputs.",
      inputs, outputs);
  ImGui::SetNextItemWidth(Scaled(120));
  ImGui::SliderInt("devices", &ui.tensor_devices, 2, 4);
  ImGui::SameLine();
  ImGui::BeginDisabled(running);
  if (ImGui::Button(running ? "Running..." : "Run split and unsplit")) StartTensor(state, ui);
  ImGui::EndDisabled();
  RecordItemRect("parallel_tensor_run");
  if (!ui.tensor_job) return;
  std::lock_guard lock(ui.tensor_job->mutex);
  BenchJob& job = *ui.tensor_job;
  state.parallel.tensor_error = job.error;
  if (!job.error.empty()) ImGui::TextColored(ImVec4(1.0f, 0.42f, 0.38f, 1.0f), "%s", job.error.c_str());
  if (!job.tensor) return;
  const TensorAnswer& a = *job.tensor;
  if (a.simulated) {
    ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(1.0f, 0.78f, 0.35f, 1.0f));
    ImGui::TextWrapped("Simulated on one device: %s.", a.device.c_str());
    ImGui::PopStyleColor();
  }
  DrawSplitDiagram(a);
  const bool equal = a.max_split_difference <= 1e-6;
  ImGui::PushStyleColor(ImGuiCol_Text, equal ? ImVec4(0.45f, 0.85f, 0.45f, 1.0f) : ImVec4(1.0f, 0.42f, 0.38f, 1.0f));
  ImGui::TextWrapped("%s: max |split - unsplit| = %.3g over all %u x %u outputs on every device",
                     equal ? "The split layer's output equals the unsplit layer's" : "The outputs differ",
                     a.max_split_difference, a.batch, a.outputs);
  ImGui::PopStyleColor();
  ImGui::TextWrapped("Unsplit against the double-precision reference: %.3g (relative). Each device holds %s of weights "
              "and receives %s in the all-gather.",
              a.max_reference_error, vk::FormatBytes(a.weight_bytes).c_str(), vk::FormatBytes(a.bytes_received).c_str());
  ImGui::TextWrapped("Split (compute + all-gather): %.3f ms; unsplit on one device: %.3f ms.", a.split_ms, a.unsplit_ms);
  if (ui.tensor_bars.empty()) {
    RowLabels("device", a.devices, ui.tensor_rows, ui.tensor_row_ptrs);
    for (const TensorAnswer::Event& e : a.events)
      ui.tensor_bars.push_back({.row = e.device,
                                .start = e.start_ms * 1e3,
                                .end = std::max(e.end_ms * 1e3, e.start_ms * 1e3 + 0.5),
                                .color = e.gather ? PhaseColor(parallel::PhaseKind::kAllReduce) : DeviceColor(e.device),
                                .label = e.gather ? "all-gather" : "X W + b, relu (its columns)"});
  }
  Gantt("tensor gantt", ui.tensor_view, ui.tensor_row_ptrs, ui.tensor_bars,
        {.x_label = "us", .row_height = ImGui::GetFrameHeight() * 1.2f});
  state.parallel.tensor_bars = ui.tensor_bars.size();
  state.parallel.tensor_equal = equal;
}

uint32_t DenseLayers(const AppState& state) {
  uint32_t n = 0;
  if (state.model)
    for (const nn::LayerDesc& layer : state.model->layers) n += layer.kind == nn::LayerKind::kDense;
  return n;
}

void StartPipeline(AppState& state, ParallelUi& ui) {
  if (!state.model) throw Error("the model has errors; fix them first.");
  std::error_code error;
  const std::string path = (fs::temp_directory_path(error) / ("tensorscope-pipeline-" + std::to_string(getpid()) +
                                                             "-" + std::to_string(++ui.job_number) + ".json")).string();
  nn::SaveModel(*state.model, path);
  if (ui.pipeline_job && ui.pipeline_job->thread.joinable()) ui.pipeline_job->thread.join();
  ui.pipeline_job = std::make_unique<BenchJob>();
  ui.pipeline_job->running = true;
  for (int i = 0; i < 2; ++i) ui.pipeline_views[i] = {}, ui.pipeline_bars[i].clear();
  const std::string arguments = "--pipeline " + std::to_string(ui.pipeline_stages) + " --micro-batches " +
                                std::to_string(ui.micro_batches) + " --model " + ShellQuote(path) + " --data " +
                                ShellQuote(LoadedDataSpec(state)) + " --steps 6";
  ui.pipeline_job->thread = std::thread(RunBenchChild, ui.pipeline_job.get(), arguments, path, Answer::kPipeline);
}

void DrawPipelineTab(AppState& state, ParallelUi& ui) {
  const bool running = Running(ui.pipeline_job);
  ImGui::TextWrapped(
      "Pipeline parallel: the model's dense layers are cut into K stages, one per device, and each batch into M "
      "micro-batches. A stage runs forward F(m) once the stage before has sent micro-batch m's activations, and "
      "backward B(m) once the stage after has sent its gradient. GPipe runs all forwards, then all backwards; "
      "1F1B alternates after a warm-up, keeping fewer activations alive. The idle time at the start and end is "
      "the bubble: (K-1)/(M+K-1) of the time when every operation takes as long. Gradients add up over the "
      "micro-batches, so the loss equals the unsplit model's.");
  const int most = std::max(2, static_cast<int>(std::min<uint32_t>(DenseLayers(state), 4)));
  ui.pipeline_stages = std::clamp(ui.pipeline_stages, 2, most);
  ImGui::SetNextItemWidth(Scaled(110));
  ImGui::SliderInt("stages", &ui.pipeline_stages, 2, most);
  ImGui::SameLine();
  ImGui::SetNextItemWidth(Scaled(110));
  ImGui::SliderInt("micro-batches", &ui.micro_batches, 1, 16);
  ImGui::SameLine();
  ImGui::BeginDisabled(running || !state.model || DenseLayers(state) < 2);
  if (ImGui::Button(running ? "Running..." : "Run both schedules")) {
    try {
      StartPipeline(state, ui);
    } catch (const Error& e) {
      state.Notify(Notice::Level::kError, std::string("Parallelism: ") + e.what());
    }
  }
  ImGui::EndDisabled();
  RecordItemRect("parallel_pipeline_run");
  if (state.model && DenseLayers(state) < 2) Muted("The model needs two dense layers or more to be cut into stages.");
  if (!ui.pipeline_job) return;
  std::lock_guard lock(ui.pipeline_job->mutex);
  BenchJob& job = *ui.pipeline_job;
  state.parallel.pipeline_error = job.error;
  if (!job.error.empty()) ImGui::TextColored(ImVec4(1.0f, 0.42f, 0.38f, 1.0f), "%s", job.error.c_str());
  if (job.answer.is_null()) return;
  try {
    const nlohmann::json& a = job.answer;
    if (a.at("simulated").get<bool>()) {
      ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(1.0f, 0.78f, 0.35f, 1.0f));
      ImGui::TextWrapped("Simulated on one device: %s.", a.at("device").get<std::string>().c_str());
      ImGui::PopStyleColor();
    }
    const uint32_t stages = a.at("stages").get<uint32_t>();
    ImGui::Text("Batch %u in %u micro-batches of %u.", a.at("batch").get<uint32_t>(), a.at("micro_batches").get<uint32_t>(),
                a.at("batch").get<uint32_t>() / std::max(1u, a.at("micro_batches").get<uint32_t>()));
    size_t drawn = 0;
    bool equal = true;
    for (size_t r = 0; r < a.at("runs").size() && r < 2; ++r) {
      const nlohmann::json& run = a.at("runs")[r];
      const double difference = run.at("max_relative_loss_difference").get<double>();
      equal = equal && difference < 1e-4;
      std::string layout;
      for (size_t s = 0; s < run.at("stage_layers").size(); ++s) {
        std::string names;
        for (const auto& n : run.at("stage_layers")[s]) names += (names.empty() ? "" : "+") + n.get<std::string>();
        layout += (layout.empty() ? "" : ", ") + std::string("stage ") + std::to_string(s) + ": " + names;
      }
      ImGui::Separator();
      ImGui::TextWrapped("%s (%s): bubble measured %.1f%%, ideal (K-1)/(M+K-1) = %.1f%%; the losses of %zu steps "
                         "equal the unsplit model's to %.2g (relative).",
                         run.at("schedule").get<std::string>().c_str(), layout.c_str(),
                         100 * run.at("measured_bubble").get<double>(), 100 * run.at("ideal_bubble").get<double>(),
                         run.at("losses").size(), difference);
      if (ui.pipeline_bars[r].empty()) {
        ui.pipeline_labels[r].clear();
        for (const auto& e : run.at("events"))
          ui.pipeline_labels[r].push_back((e.at("forward").get<bool>() ? "F" : "B") +
                                          std::to_string(e.at("micro_batch").get<uint32_t>()));
        size_t i = 0;
        for (const auto& e : run.at("events")) {
          const bool forward = e.at("forward").get<bool>();
          // Odd micro-batches a shade lighter, so back-to-back operations stay apart.
          ImU32 color = PhaseColor(forward ? parallel::PhaseKind::kForward : parallel::PhaseKind::kBackward);
          if (e.at("micro_batch").get<uint32_t>() % 2) {
            ImVec4 c = ImGui::ColorConvertU32ToFloat4(color);
            color = ImGui::ColorConvertFloat4ToU32(ImVec4(c.x + (1 - c.x) * 0.35f, c.y + (1 - c.y) * 0.35f,
                                                          c.z + (1 - c.z) * 0.35f, c.w));
          }
          ui.pipeline_bars[r].push_back({.row = e.at("stage").get<uint32_t>(),
                                         .start = e.at("start_ms").get<double>() * 1e3,
                                         .end = e.at("end_ms").get<double>() * 1e3,
                                         .color = color,
                                         .label = ui.pipeline_labels[r][i++].c_str()});
        }
      }
      if (ui.pipeline_rows.size() != stages) RowLabels("stage", stages, ui.pipeline_rows, ui.pipeline_row_ptrs);
      Gantt(r == 0 ? "pipeline gantt 0" : "pipeline gantt 1", ui.pipeline_views[r], ui.pipeline_row_ptrs,
            ui.pipeline_bars[r],
            {.x_label = "us", .row_height = ImGui::GetFrameHeight() * 1.1f});
      drawn += ui.pipeline_bars[r].size();
    }
    RecordItemRect("parallel_pipeline_gantt");
    state.parallel.pipeline_bars = drawn;
    state.parallel.pipeline_equal = equal;
  } catch (const std::exception& e) {
    job.error = std::string("the answer could not be read: ") + e.what();
  }
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
  if (ImGui::BeginTabBar("parallelism kinds")) {
    if (ImGui::BeginTabItem("Data parallel")) {
      DrawDataParallelTab(state, ui);
      ImGui::EndTabItem();
    }
    RecordItemRect("parallel_tab_data");
    if (ImGui::BeginTabItem("Pipeline parallel")) {
      DrawPipelineTab(state, ui);
      ImGui::EndTabItem();
    }
    RecordItemRect("parallel_tab_pipeline");
    if (ImGui::BeginTabItem("Tensor parallel")) {
      DrawTensorParallelTab(state, ui);
      ImGui::EndTabItem();
    }
    RecordItemRect("parallel_tab_tensor");
    ImGui::EndTabBar();
  }
  ImGui::End();
}

}  // namespace ts::ui
