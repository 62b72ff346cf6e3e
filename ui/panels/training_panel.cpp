#include "ui/panels/training_panel.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

#include "imgui_internal.h"  // FindWindowByName: is the panel hidden under another window?
#include "ui/controller.h"
#include "ui/panel_layout.h"
#include "ui/parallel_window.h"
#include "ui/run.h"
#include "ui/format.h"
#include "ui/metrics_csv.h"
#include "ui/panels/data_panel.h"
#include "ui/panels/text_panel.h"
#include "ui/test_hooks.h"
#include "ui/widgets/chart_png.h"
#include "ui/widgets/image_tile.h"
#include "ui/widgets/number_field.h"
#include "ui/widgets/plot.h"
#include "ui/widgets/text.h"
#include "compute/kernels/mixed_precision.h"

namespace ts::ui {
namespace {

const char* kOptimizers[] = {"sgd", "momentum", "adam", "adamw"};
constexpr ImGuiInputTextFlags kNumberFlags = ImGuiInputTextFlags_CharsScientific | ImGuiInputTextFlags_AutoSelectAll;
const char* kSchedules[] = {"constant", "step", "cosine"};

bool IsActive(nn::SessionState s) { return s == nn::SessionState::kRunning || s == nn::SessionState::kPaused; }

// Mixed precision: fp16 activations and weight copy, fp32 master weights and
// sums, dynamic loss scaling. Chosen before a run (the plan's buffers change).
void DrawPrecision(AppState& state, bool active) {
  nn::TrainConfig& config = state.project.training;
  const std::string unavailable = state.device ? kernels::Fp16Unavailable(*state.device) : "";
  // Two radio buttons: both choices in sight, each one click.
  ImGui::AlignTextToFramePadding();
  ImGui::TextUnformatted("precision");
  bool hovered = ImGui::IsItemHovered();
  ImGui::BeginDisabled(active);
  for (nn::Precision p : {nn::Precision::kFp32, nn::Precision::kFp16}) {
    ImGui::SameLine();
    const bool fp16 = p == nn::Precision::kFp16;
    ImGui::BeginDisabled(fp16 && !unavailable.empty());
    if (ImGui::RadioButton(fp16 ? "fp16 (mixed)" : "fp32", config.precision == p) && config.precision != p) {
      config.precision = p;
      state.dirty = true;
    }
    ImGui::EndDisabled();
    RecordItemRect(fp16 ? "precision_fp16" : "precision_fp32");
    hovered = hovered || ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled);
  }
  ImGui::EndDisabled();
  if (hovered)
    ImGui::SetTooltip("fp16 (mixed precision): activations, their gradients and a copy of the weights stored in fp16\n"
                      "(half the bytes: the dots move right on the roofline), every sum in fp32, fp32 master\n"
                      "weights and optimizer state, and dynamic loss scaling as PyTorch's GradScaler.\n"
                      "Every layer but the sequence model's (embedding, layer_norm, transformer_block). %s",
                      !unavailable.empty() ? unavailable.c_str() : active ? "Stop to change it (a new run)." : "");
  std::string note;
  bool refused = false;  // a run would be refused: say so before Train is clicked
  if (!unavailable.empty()) {
    note = "fp16 unavailable on this device";
  } else if (config.precision == nn::Precision::kFp16) {
    const std::string layers = state.model ? nn::Fp16UnsupportedLayers(*state.model) : "";
    refused = config.replicas > 1 || !layers.empty();
    note = config.replicas > 1 ? "fp16 trains on one device: set replicas to 1"
           : !layers.empty()   ? layers
                               : "loss scale from " + Printf("%g", config.loss_scale.init_scale);
  }
  if (!note.empty()) {
    ImGui::SameLine();
    ImGui::PushTextWrapPos(0);
    ImGui::TextColored(refused ? ImVec4(1.0f, 0.42f, 0.38f, 1.0f) : ImVec4(1.0f, 0.78f, 0.35f, 1.0f), "%s",
                       note.c_str());
    ImGui::PopTextWrapPos();
  }
  RecordText("precision_note", note);
}

void DrawSettings(AppState& state) {
  nn::TrainConfig& config = state.project.training;
  nn::TrainingSession* session = state.session;
  bool active = IsActive(state.training.state);
  // While a run trains, what the panel shows is what it uses: an edit is
  // applied (with a marker on the curves) once the field is let go.
  const nlohmann::json before = nn::TrainConfigToJson(config);
  static bool apply_pending = false;
  ImGui::PushItemWidth(Scaled(140));

  int optimizer = static_cast<int>(config.optimizer);
  if (ImGui::Combo("optimizer", &optimizer, kOptimizers, IM_ARRAYSIZE(kOptimizers))) {
    config.optimizer = static_cast<kernels::OptimizerKind>(optimizer);
    state.dirty = true;
  }
  ImGui::SameLine();
  // Number fields take typing at the first click, and keep the number as typed (0.2 stays 0.2).
  double lr = config.learning_rate;
  if (ImGui::InputDouble("learning rate", &lr, 0, 0, "%g", kNumberFlags) && lr > 0 && lr <= 10) {
    config.learning_rate = lr;
    state.dirty = true;
  }
  RecordItemRect("learning_rate");

  int batch = static_cast<int>(config.batch_size);
  if (ImGui::InputInt("batch size", &batch, 8, 64)) {
    config.batch_size = static_cast<uint32_t>(std::clamp(batch, 1, 65536));
    state.dirty = true;
  }
  ImGui::SameLine();
  int epochs = static_cast<int>(config.epochs);
  if (ImGui::InputInt("epochs", &epochs, 1, 10)) {
    config.epochs = static_cast<uint32_t>(std::clamp(epochs, 1, 100000));
    state.dirty = true;
  }

  int schedule = static_cast<int>(config.schedule.kind);
  if (ImGui::Combo("LR schedule", &schedule, kSchedules, IM_ARRAYSIZE(kSchedules))) {
    config.schedule.kind = static_cast<nn::ScheduleKind>(schedule);
    state.dirty = true;
  }
  ImGui::SameLine();
  double warmup = config.schedule.warmup_epochs;
  if (ImGui::InputDouble("warm-up epochs", &warmup, 0, 0, "%g", kNumberFlags) && warmup >= 0 && warmup <= 1e4) {
    config.schedule.warmup_epochs = warmup;
    state.dirty = true;
  }
  if (config.schedule.kind == nn::ScheduleKind::kStep) {
    double step_epochs = config.schedule.step_epochs, gamma = config.schedule.gamma;
    if (ImGui::InputDouble("step every (epochs)", &step_epochs, 0, 0, "%g", kNumberFlags) && step_epochs >= 0.5 &&
        step_epochs <= 1e5) {
      config.schedule.step_epochs = step_epochs;
      state.dirty = true;
    }
    ImGui::SameLine();
    if (ImGui::InputDouble("gamma", &gamma, 0, 0, "%g", kNumberFlags) && gamma > 0 && gamma <= 1) {
      config.schedule.gamma = gamma;
      state.dirty = true;
    }
  }
  float decay = config.hyper.weight_decay;
  if (ImGui::InputFloat("weight decay", &decay, 0, 0, "%g", kNumberFlags) && decay >= 0 && decay <= 1) {
    config.hyper.weight_decay = decay;
    state.dirty = true;
  }
  ImGui::SameLine();
  // The seed picks the run's samples (validation split, order): it cannot change mid-run.
  ImGui::BeginDisabled(active);
  int seed = static_cast<int>(config.seed);
  if (ImGui::InputInt("seed", &seed)) {
    config.seed = static_cast<uint64_t>(std::max(seed, 1));
    state.dirty = true;
  }
  ImGui::EndDisabled();
  if (active && ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled))
    ImGui::SetTooltip("The seed decides the run's validation split and sample order: Stop to change it (a new run).");
  // Clipping is part of the compiled plan (its dispatches): set when a run starts.
  ImGui::BeginDisabled(active);
  float clip = config.grad_clip;
  if (ImGui::InputFloat("grad clip", &clip, 0, 0, "%g", kNumberFlags) && clip >= 0 && clip <= 1e6) {
    config.grad_clip = clip;
    state.dirty = true;
  }
  ImGui::EndDisabled();
  RecordItemRect("grad_clip");
  if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled))
    ImGui::SetTooltip("Clip the gradients' global norm to this before each update (0: off; GPT training uses 1).%s",
                      active ? "\nStop to change it (a new run)." : "");
  ImGui::SameLine();
  // Data parallelism: replicas are devices, made when a run starts.
  ImGui::BeginDisabled(active);
  int replicas = static_cast<int>(config.replicas);
  if (ImGui::InputInt("replicas", &replicas, 0)) {  // typed: few values, and no buttons to miss
    config.replicas = static_cast<uint32_t>(std::clamp(replicas, 1, static_cast<int>(nn::kMaxReplicas)));
    state.dirty = true;
  }
  ImGui::EndDisabled();
  RecordItemRect("replicas");
  if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled))
    ImGui::SetTooltip("Data parallel: N replicas of the model, each computing the gradients of 1/N of the batch,\n"
                      "averaged by a ring all-reduce before one update everywhere. In the window all replicas\n"
                      "share this device (logical devices: simulated). %s",
                      active ? "Stop to change it (a new run)." : "The batch must be a multiple of it.");
  if (config.replicas > 1) {
    ImGui::SameLine();
    const bool splits = config.batch_size % config.replicas == 0;
    const std::string note =
        splits ? "simulated on one device (" + std::to_string(config.batch_size / config.replicas) + " per replica)"
               : "the batch " + std::to_string(config.batch_size) + " does not split over " +
                     std::to_string(config.replicas) + " replicas";
    ImGui::TextColored(splits ? ImVec4(1.0f, 0.78f, 0.35f, 1.0f) : ImVec4(1.0f, 0.42f, 0.38f, 1.0f), "%s", note.c_str());
    RecordText("replicas_note", note);
  } else {
    RecordText("replicas_note", "");
  }
  DrawPrecision(state, active);
  ImGui::PopItemWidth();
  if (nn::TrainConfigToJson(config) != before) apply_pending = true;
  if (apply_pending && !ImGui::IsAnyItemActive()) {
    apply_pending = false;
    if (active && session) session->SetConfig(config);
  }
}

void DrawControls(AppState& state) {
  nn::TrainingSession* session = state.session;
  nn::SessionState s = state.training.state;
  std::string why = WhyTrainingIsDisabled(state);
  bool can_train = why.empty();

  // Train starts a fresh run; while paused it resumes; a stopped or finished
  // run (or one restored from a checkpoint) can also Continue.
  const bool resume = s == nn::SessionState::kPaused;
  const bool has_results = state.training.last_step.has_value() || s == nn::SessionState::kFinished;
  ImGui::BeginDisabled(!can_train || s == nn::SessionState::kRunning);
  if (ImGui::Button(resume ? "Resume" : has_results ? "Train anew" : "Train", ImVec2(Scaled(90), 0))) {
    if (resume)
      session->Start();
    else
      StartTraining(state);
  }
  ImGui::EndDisabled();
  RecordItemRect("train");
  if (!can_train && ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled)) ImGui::SetTooltip("%s", why.c_str());
  else if (has_results && !resume && ImGui::IsItemHovered())
    ImGui::SetTooltip("Start a new run from fresh weights (this run's curves and results are cleared).");
  ImGui::SameLine();
  if (s == nn::SessionState::kFinished) {
    const std::string why_not = WhyContinueIsDisabled(state);
    ImGui::BeginDisabled(!why_not.empty());
    if (ImGui::Button("Continue")) ContinueTraining(state);
    ImGui::EndDisabled();
    RecordItemRect("continue");
    if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled))
      ImGui::SetTooltip("%s", why_not.empty() ? "Train this network further, with the settings shown (e.g. more epochs)."
                                              : why_not.c_str());
    ImGui::SameLine();
  }
  ImGui::BeginDisabled(s != nn::SessionState::kRunning);
  if (ImGui::Button("Pause")) session->Pause();
  ImGui::EndDisabled();
  RecordItemRect("pause");
  ImGui::SameLine();
  ImGui::BeginDisabled(!can_train || s == nn::SessionState::kRunning);
  if (ImGui::Button("Step")) {
    if (s == nn::SessionState::kPaused || s == nn::SessionState::kReady)
      session->Step();
    else if (s == nn::SessionState::kFinished && WhyContinueIsDisabled(state).empty()) {
      session->SetConfig(state.project.training);
      session->Step();
    } else {
      StartTraining(state);
      session->Pause();
    }
  }
  ImGui::EndDisabled();
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("Run one batch, then pause.");
  ImGui::SameLine();
  ImGui::BeginDisabled(!IsActive(s));
  if (ImGui::Button("Stop")) session->Stop();
  ImGui::EndDisabled();
  RecordItemRect("stop");
  ImGui::SameLine();
  ImGui::BeginDisabled(s == nn::SessionState::kEmpty || s == nn::SessionState::kRunning);
  if (ImGui::Button("Reset")) ResetRun(state);
  ImGui::EndDisabled();
  ImGui::SameLine();
  ImGui::TextDisabled("%s", nn::SessionStateName(s));
  // On the same row when it fits (a narrow panel wraps it).
  const float fast_width = ImGui::CalcTextSize("train fast").x + ImGui::GetFrameHeight() * 2;
  if (ImGui::GetContentRegionAvail().x - ImGui::GetItemRectMax().x + ImGui::GetCursorScreenPos().x > fast_width)
    ImGui::SameLine();
  bool fast = state.train_fast;
  if (ImGui::Checkbox("train fast", &fast)) SetTrainFast(state, fast);
  RecordItemRect("train_fast");
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("Draw the window a few times a second and refresh the boundary, neuron maps and\n"
                      "inside views rarely, so training runs at nearly the command line's speed.\n"
                      "The curves and progress keep coming.");
  // A sequence model's Text window, opened from the row the floating windows leave uncovered.
  if (OffersText(state)) {
    const float text_width = ImGui::CalcTextSize("Close Text").x + ImGui::GetStyle().FramePadding.x * 2;
    if (ImGui::GetContentRegionAvail().x - ImGui::GetItemRectMax().x + ImGui::GetCursorScreenPos().x > text_width)
      ImGui::SameLine();
    DrawOpenTextButton(state);
  }
  if (!can_train) {
    ImGui::PushStyleColor(ImGuiCol_Text, IM_COL32(255, 170, 90, 255));
    ImGui::TextWrapped("Train is disabled: %s", why.c_str());
    ImGui::PopStyleColor();
  }
  if (!state.training.warning.empty()) {
    ImGui::PushStyleColor(ImGuiCol_Text, IM_COL32(255, 200, 90, 255));
    ImGui::TextWrapped("%s", state.training.warning.c_str());
    ImGui::PopStyleColor();
  }
}

// A sequence model's training FLOPs per token (nanoGPT's 6N + 12LHQT) and the
// model FLOP utilisation: FLOPs/token x tokens/s over the measured fp32 peak.
// On the loss line when it fits.
void DrawThroughput(AppState& state) {
  ThroughputShown& shown = state.throughput;
  if (!state.model || nn::TokensPerSample(*state.model) <= 1) return;
  const double flops_per_token = double(nn::TrainingFlopsPerToken(*state.model));
  const double tokens = nn::TokensPerSample(*state.model);
  // The rate of the run while it runs (a stopped run's last rate says nothing of now).
  const bool running = state.training.state == nn::SessionState::kRunning;
  const double tokens_per_second = running ? state.training.samples_per_second * tokens : 0;
  const double model_flops = flops_per_token * tokens_per_second;
  if (!state.insight.ceilings && state.device && shown.cache_read_for != state.device) {
    shown.cache_read_for = state.device;
    shown.cached_peak.reset();
    try {
      if (auto cached = profile::LoadCachedCeilings(*state.device)) shown.cached_peak = cached->ceilings;
    } catch (const std::exception&) {  // an unreadable cache: GPU insight measures again
    }
  }
  const profile::Ceilings* peak = state.insight.ceilings ? &state.insight.ceilings->ceilings
                                  : shown.cached_peak    ? &*shown.cached_peak
                                                         : nullptr;
  const bool known_peak = peak && peak->fp32_gflops > 0;
  shown.flops_per_token = flops_per_token;
  shown.model_gflops = model_flops / 1e9;
  std::string line = "FLOPs/token " + FormatCount(flops_per_token);
  if (tokens_per_second > 0) {
    line += "   " + Printf("%.2f", model_flops / 1e9) + " GFLOP/s";
    if (known_peak) {
      shown.mfu = model_flops / (peak->fp32_gflops * 1e9);
      line += "   MFU " + Printf(shown.mfu < 0.1 ? "%.2f%%" : "%.1f%%", 100 * shown.mfu);
    } else {
      line += "   MFU: measure the peak in GPU insight > Ceilings";
    }
  }
  shown.text = line;
  const float width = ImGui::CalcTextSize(line.c_str()).x + ImGui::GetStyle().ItemSpacing.x * 3;
  if (ImGui::GetContentRegionAvail().x - (ImGui::GetItemRectMax().x - ImGui::GetCursorScreenPos().x) > width)
    ImGui::SameLine(0, ImGui::GetStyle().ItemSpacing.x * 3);
  ImGui::TextDisabled("%s", line.c_str());
  RecordItemRect("throughput");
  if (!ImGui::IsItemHovered()) return;
  const double n = tokens_per_second > 0 ? tokens_per_second : 0;
  std::string tip =
      "FLOPs per token (nanoGPT's estimate, from the PaLM paper): 6 N + 12 L H Q T\n"
      "  N parameters without the position table, L blocks, H heads of Q dimensions, context T\n"
      "  = " + FormatCount(flops_per_token, 3) + " FLOPs (forward and backward) per token\n\n"
      "Model FLOP/s = FLOPs/token x tokens/s = " + FormatCount(flops_per_token, 3) + " x " + FormatCount(n, 3) +
      " (" + Printf("%.1f", state.training.samples_per_second) + " samples/s x T " + Printf("%.0f", tokens) +
      ")\n  = " + Printf("%.3f", model_flops / 1e9) + " GFLOP/s\n"
      "  (samples/s as the progress bar: the training steps' own time, without\n"
      "  evaluations, snapshots and the Text window's samples between them)\n\n";
  if (known_peak)
    tip += "MFU = model FLOP/s / peak fp32 FLOP/s = " + Printf("%.3f", model_flops / 1e9) + " / " +
           Printf("%.1f", peak->fp32_gflops) + " GFLOP/s = " + Printf("%.2f%%", 100 * model_flops / (peak->fp32_gflops * 1e9)) +
           "\n(the peak is GPU insight's measured FMA ceiling; attention's softmax and the\n"
           "optimizer are not counted, so MFU is below the kernels' own utilisation)";
  else
    tip += "MFU needs the device's peak: open GPU insight > Ceilings to measure it\n(or run tensorscope bench --ceilings).";
  ImGui::SetTooltip("%s", tip.c_str());
}

void DrawProgress(AppState& state) {
  const TrainingView& view = state.training;
  const nn::TrainConfig& config = state.project.training;
  if (!view.last_step) {
    ImGui::ProgressBar(0.0f, ImVec2(-1, 0), "not started");
    return;
  }
  const nn::StepReport& r = *view.last_step;
  double done = double(r.epoch) * view.steps_per_epoch + r.step_in_epoch + 1;
  double total = std::max(1.0, double(config.epochs) * view.steps_per_epoch);
  char text[160];
  int length = std::snprintf(text, sizeof text, "epoch %u/%u  step %u/%u", r.epoch + 1, config.epochs,
                             r.step_in_epoch + 1, view.steps_per_epoch);
  // A run restored from a checkpoint has no rate until it trains again, and a
  // stopped or paused run has no time left to estimate.
  if (view.state == nn::SessionState::kRunning && view.samples_per_second > 0 && length > 0 &&
      length < int(sizeof text))
    std::snprintf(text + length, sizeof text - length, "  %.0f samples/s  ETA %s", view.samples_per_second,
                  FormatDuration(view.eta_seconds).c_str());
  ImGui::ProgressBar(static_cast<float>(done / total), ImVec2(-1, 0), text);
  ImGui::Text("loss %.4f   accuracy %.1f%%   lr %.2e", r.loss, 100 * r.accuracy, r.learning_rate);
  DrawThroughput(state);
  if (view.last_epoch && view.last_epoch->validation)
    ImGui::Text("validation: loss %.4f   accuracy %.2f%%", view.last_epoch->validation->loss,
                100 * view.last_epoch->validation->accuracy);
  if (view.last_test) ImGui::Text("test: loss %.4f   accuracy %.2f%%", view.last_test->loss, 100 * view.last_test->accuracy);
}

void DrawCurves(AppState& state) {
  static PlotState loss_view, accuracy_view;
  static float smoothing = 0.6f;
  static bool log_loss = true;
  const TrainingView& view = state.training;
  ImGui::SetNextItemWidth(Scaled(140));
  NumberField("smoothing", smoothing, 0.0f, 0.99f, {.format = "%.2f"});
  ImGui::SameLine();
  ImGui::Checkbox("log loss", &log_loss);
  ImGui::SameLine();
  DrawMetricsCsvButton(state);
  ImGui::SameLine();
  DrawParallelButton(state);
  DrawParallelWindow(state);
  std::vector<PlotMarker> markers;
  for (const Marker& m : view.markers) markers.push_back({m.step, m.label.c_str()});
  float width = ImGui::GetContentRegionAvail().x;
  float plot_width = std::max(200.0f, (width - ImGui::GetStyle().ItemSpacing.x) / 2);
  // Train (per step, smoothed) and validation (per epoch, raw) of one metric.
  auto curves = [&](const Series& train, const Series& validation) {
    return std::array<PlotSeries, 2>{PlotSeries{"train", train.x, train.y},
                                     PlotSeries{"validation", validation.x, validation.y, 0, 2.0f, false, false}};
  };
  PlotOptions options;
  options.x_label = "step";
  options.smoothing = smoothing;
  options.size = ImVec2(plot_width, Scaled(220));
  options.data_id = view.run_id;  // a new run (or Reset) fits the axes to its own curves

  PlotOptions loss_options = options;
  loss_options.title = "Loss";
  loss_options.log_y = log_loss;
  Plot("loss plot", loss_view, loss_options, curves(view.train_loss, view.validation_loss), markers);
  ImGui::SameLine();
  PlotOptions accuracy_options = options;
  accuracy_options.title = "Accuracy";
  accuracy_options.y_fit_min = 0;
  accuracy_options.y_fit_max = 1;
  auto accuracy = curves(view.train_accuracy, view.validation_accuracy);
  Plot("accuracy plot", accuracy_view, accuracy_options, accuracy, markers);

  // Mixed precision: the dynamic loss scale, halved at each overflow and
  // doubled after a run of good steps (log scale: each change is one step).
  if (!view.loss_scale.x.empty()) {
    static PlotState scale_view;
    PlotOptions scale_options = options;
    scale_options.title = "Loss scale (fp16)";
    scale_options.log_y = true;
    scale_options.smoothing = 0;
    scale_options.size = ImVec2(-1, Scaled(130));
    const std::array<PlotSeries, 1> scale{PlotSeries{"loss scale", view.loss_scale.x, view.loss_scale.y}};
    Plot("loss scale plot", scale_view, scale_options, scale, markers);
    const std::string note = "loss scale " + Printf("%g", view.loss_scale.y.back()) + "; " +
                             std::to_string(view.skipped_steps) + " step(s) skipped (gradients overflowed fp16)";
    Muted(note.c_str());
    RecordText("loss_scale_note", note);
  } else {
    RecordText("loss_scale_note", "");
  }
}

void DrawConfusionTable(const nn::EvalResult& result, const data::Dataset* dataset, const char* title) {
  ImGui::Text("%s", title);
  ImGui::TextDisabled("rows: true class, columns: predicted");
  uint32_t n = result.classes;
  if (n > 20) ImGui::TextDisabled("(%u classes: too many to draw as a table)", n);
  if (n == 0 || n > 20) return;
  uint64_t largest = 1;
  for (uint64_t v : result.confusion) largest = std::max(largest, v);
  if (!ImGui::BeginTable("confusion", static_cast<int>(n) + 1, ImGuiTableFlags_Borders | ImGuiTableFlags_SizingFixedFit))
    return;
  ImGui::TableSetupColumn("");
  for (uint32_t c = 0; c < n; ++c) ImGui::TableSetupColumn(std::to_string(c).c_str());
  ImGui::TableHeadersRow();
  for (uint32_t t = 0; t < n; ++t) {
    ImGui::TableNextRow();
    ImGui::TableNextColumn();
    std::string name = dataset && t < dataset->class_names.size() ? dataset->class_names[t] : std::to_string(t);
    ImGui::TextUnformatted(name.c_str());
    for (uint32_t p = 0; p < n; ++p) {
      ImGui::TableNextColumn();
      uint64_t v = result.confusion[size_t(t) * n + p];
      float share = float(v) / float(largest);
      ImU32 colour = t == p ? IM_COL32(60, 140, 90, static_cast<int>(40 + 200 * share))
                            : IM_COL32(190, 70, 60, static_cast<int>(v ? 40 + 200 * share : 0));
      ImGui::TableSetBgColor(ImGuiTableBgTarget_CellBg, colour);
      ImGui::Text("%llu", static_cast<unsigned long long>(v));
    }
  }
  ImGui::EndTable();
}

// The matrix with its title as one chart (its context menu saves it as PNG).
void DrawConfusion(const nn::EvalResult& result, const data::Dataset* dataset, const char* title) {
  ImGui::BeginGroup();
  DrawConfusionTable(result, dataset, title);
  ImGui::EndGroup();
  ChartPngMenu("confusion matrix");
}

std::string ClassName(const data::Dataset* dataset, uint32_t label) {
  return dataset && label < dataset->class_names.size() ? dataset->class_names[label] : std::to_string(label);
}

// A token as it reads in a table cell: line breaks and spaces made visible.
std::string VisibleToken(const data::Dataset& dataset, uint32_t id) {
  if (id >= dataset.class_names.size()) return std::to_string(id);
  const std::string& token = dataset.class_names[id];
  return token == "\n" ? "\xC2\xB6" : token == " " ? "\xC2\xB7" : token;
}

// Text (labels_per_sample T > 1): an example is one position (index = sample * T + t);
// the text the network read up to it, the character that comes next, and its guess.
void DrawNextCharacterPredictions(const nn::EvalResult& result, const data::Dataset& dataset, ImU32 right, ImU32 wrong) {
  const uint32_t tokens = dataset.labels_per_sample;
  if (dataset.format != data::FeatureFormat::kFloat32 || dataset.feature_size() != tokens) return;
  if (!ImGui::BeginTable("predictions", 3, ImGuiTableFlags_Borders | ImGuiTableFlags_SizingFixedFit)) return;
  ImGui::TableSetupColumn("text read so far");
  ImGui::TableSetupColumn("next");
  ImGui::TableSetupColumn("predicted");
  ImGui::TableHeadersRow();
  constexpr uint32_t kShownCharacters = 24;
  for (const nn::SamplePrediction& example : result.examples) {
    const uint64_t sample = example.index / tokens, position = example.index % tokens;
    if (sample >= dataset.count()) continue;
    ImGui::TableNextRow();
    ImGui::TableNextColumn();
    std::string read = position + 1 > kShownCharacters ? "..." : "";
    for (uint64_t t = position + 1 > kShownCharacters ? position + 1 - kShownCharacters : 0; t <= position; ++t)
      read += VisibleToken(dataset, static_cast<uint32_t>(dataset.features_f32[sample * tokens + t]));
    ImGui::TextUnformatted(read.c_str());
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(VisibleToken(dataset, example.label).c_str());
    ImGui::TableNextColumn();
    ImGui::PushStyleColor(ImGuiCol_Text, example.predicted == example.label ? right : wrong);
    ImGui::Text("%s  %.0f%%", VisibleToken(dataset, example.predicted).c_str(), 100 * example.confidence);
    ImGui::PopStyleColor();
  }
  ImGui::EndTable();
}

// The same few samples after every epoch: the input (an image, or its first
// features), the true class, and what the network answers with what confidence.
void DrawSamplePredictions(const nn::EvalResult& result, const data::Dataset* dataset) {
  if (result.examples.empty() || !dataset) return;
  ImGui::Spacing();
  ImGui::Text("Sample predictions");
  ImGui::SameLine();
  ImGui::TextDisabled("(?)");
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("The same samples, spread evenly over the set, after every epoch:\n"
                      "green = right, red = wrong; the percentage is the network's confidence.");
  const ImU32 right = IM_COL32(110, 200, 130, 255), wrong = IM_COL32(240, 110, 100, 255);
  if (dataset->labels_per_sample > 1) {
    DrawNextCharacterPredictions(result, *dataset, right, wrong);
    return;
  }
  if (IsImageDataset(*dataset)) {
    ImDrawList* draw = ImGui::GetWindowDrawList();
    const uint32_t height = dataset->sample_shape[1], width = dataset->sample_shape[2];
    const float text = ImGui::GetTextLineHeight();
    const float column = std::max(76.0f, ImGui::GetContentRegionAvail().x / float(result.examples.size()));
    const float cell = std::clamp((column - 8) / float(width), 1.0f, 2.5f);
    const ImVec2 origin = ImGui::GetCursorScreenPos();
    for (size_t i = 0; i < result.examples.size(); ++i) {
      const nn::SamplePrediction& example = result.examples[i];
      ImVec2 corner(origin.x + i * column, origin.y);
      if (corner.x + width * cell > origin.x + ImGui::GetContentRegionAvail().x) break;
      ImVec2 size = DrawImageTile(draw, corner, *dataset, example.index, cell);
      bool correct = example.predicted == example.label;
      draw->AddRect(corner, ImVec2(corner.x + size.x, corner.y + size.y), correct ? right : wrong, 0, 0, 2);
      std::string answer = ClassName(dataset, example.predicted);
      char confidence[16];
      std::snprintf(confidence, sizeof confidence, " %.0f%%", 100 * example.confidence);
      draw->AddText(ImVec2(corner.x, corner.y + size.y + 2), correct ? right : wrong, (answer + confidence).c_str());
      draw->AddText(ImVec2(corner.x, corner.y + size.y + 2 + text), ImGui::GetColorU32(ImGuiCol_TextDisabled),
                    ("true: " + ClassName(dataset, example.label)).c_str());
    }
    ImGui::Dummy(ImVec2(column * result.examples.size(), height * cell + 2 * text + 6));
    return;
  }
  if (!ImGui::BeginTable("predictions", 3, ImGuiTableFlags_Borders | ImGuiTableFlags_SizingFixedFit)) return;
  ImGui::TableSetupColumn("input");
  ImGui::TableSetupColumn("true");
  ImGui::TableSetupColumn("predicted");
  ImGui::TableHeadersRow();
  for (const nn::SamplePrediction& example : result.examples) {
    ImGui::TableNextRow();
    ImGui::TableNextColumn();
    std::string features;
    const size_t shown = std::min<size_t>(dataset->feature_size(), 3);
    for (size_t j = 0; j < shown && example.index < dataset->count(); ++j) {
      char value[24];
      std::snprintf(value, sizeof value, "%s%.2f", j ? ", " : "", dataset->normalized(example.index, j));
      features += value;
    }
    if (dataset->feature_size() > shown) features += ", ...";
    ImGui::Text("(%s)", features.c_str());
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(ClassName(dataset, example.label).c_str());
    ImGui::TableNextColumn();
    ImGui::PushStyleColor(ImGuiCol_Text, example.predicted == example.label ? right : wrong);
    ImGui::Text("%s  %.0f%%", ClassName(dataset, example.predicted).c_str(), 100 * example.confidence);
    ImGui::PopStyleColor();
  }
  ImGui::EndTable();
}

}  // namespace

// Whether the window named `other` (an opaque window above this one, e.g. GPU
// insight) covers the rest of the current window: from the cursor down.
static bool CoveredByAnotherWindow(const char* other) {
  const ImGuiWindow* cover = ImGui::FindWindowByName(other);
  if (!cover || !cover->WasActive || cover->Collapsed || cover->Hidden) return false;
  const ImVec2 from = ImGui::GetCursorScreenPos();
  const ImVec2 to(ImGui::GetWindowPos().x + ImGui::GetWindowSize().x, ImGui::GetWindowPos().y + ImGui::GetWindowSize().y);
  return cover->Rect().Contains(ImRect(ImVec2(ImGui::GetWindowPos().x, from.y), to));
}

void DrawTrainingPanel(AppState& state) {
  state.throughput = {};
  if (!ImGui::Begin("Training")) {
    ImGui::End();
    return;
  }
  DrawSettings(state);
  ImGui::Separator();
  DrawControls(state);
  DrawProgress(state);
  KeepUncovered();  // the floating windows stay below the controls and progress lines
  ImGui::Separator();
  if (CoveredByAnotherWindow("GPU insight")) {
    // The curves, boundary and tables would be drawn only to be painted over:
    // on a software rasteriser that is a frame's worth of fill for nothing.
    ImGui::End();
    return;
  }
  DrawCurves(state);
  const data::Dataset* train = state.train_data.get();
  bool two_d = train && train->feature_size() == 2 && train->labels_per_sample == 1;  // points, not text
  // The decision boundary (2D data) and the confusion matrix side by side.
  float height = std::max(240.0f, ImGui::GetContentRegionAvail().y - ImGui::GetStyle().ItemSpacing.y);
  if (two_d) {
    ImGui::BeginChild("boundary view", ImVec2(ImGui::GetContentRegionAvail().x * 0.58f, height));
    ImGui::Text("Decision boundary");
    DrawDataMap(state, "boundary", height - ImGui::GetFrameHeightWithSpacing() * 2);
    ImGui::EndChild();
    ImGui::SameLine();
  }
  ImGui::BeginChild("confusion view", ImVec2(0, height));
  const TrainingView& view = state.training;
  // The run's own sets: the Data panel's may already be another choice.
  if (view.last_test) {
    DrawConfusion(*view.last_test, view.test_data.get(), "Confusion matrix, test set");
    DrawSamplePredictions(*view.last_test, view.test_data.get());
  } else if (view.last_epoch && view.last_epoch->validation) {
    DrawConfusion(*view.last_epoch->validation, view.validation_data.get(), "Confusion matrix, validation set");
    DrawSamplePredictions(*view.last_epoch->validation, view.validation_data.get());
  } else {
    ImGui::TextWrapped("The confusion matrix and sample predictions appear after the first epoch.");
  }
  ImGui::EndChild();
  ImGui::End();
}

}  // namespace ts::ui
