#include "app/gui.h"

#include <GLFW/glfw3.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <numeric>
#include <thread>

#include <nlohmann/json.hpp>

#include "app/arguments.h"
#include "compute/common/error.h"
#include "compute/lab/lab.h"
#include "compute/nn/session.h"
#include "compute/vk/context.h"
#include "imgui.h"
#include "ui/app_state.h"
#include "ui/controller.h"
#include "ui/frame_pacer.h"
#include "ui/lab/lab_runner.h"
#include "ui/lab/lab_window.h"
#include "ui/lab/puzzles_window.h"
#include "ui/panel_layout.h"
#include "ui/panels/data_panel.h"
#include "ui/panels/gpu_panel.h"
#include "ui/panels/insight_panel.h"
#include "ui/panels/inside_panel.h"
#include "ui/panels/model_panel.h"
#include "ui/panels/text_panel.h"
#include "ui/panels/training_panel.h"
#include "ui/project.h"
#include "ui/renderer.h"
#include "ui/run.h"
#include "ui/run_history.h"
#include "ui/test_hooks.h"
#include "ui/widgets/chart_png.h"

namespace ts::app {
namespace {

// SIGUSR1 asks for a screenshot (for scripted runs and GUI tests).
volatile sig_atomic_t g_screenshot_requested = 0;
void OnScreenshotSignal(int) { g_screenshot_requested = 1; }

// Closing the window asks about unsaved changes first: the close request is
// cancelled here and turned into the prompt in the main loop.
bool g_close_requested = false;
void OnWindowClose(GLFWwindow* window) {
  glfwSetWindowShouldClose(window, GLFW_FALSE);
  g_close_requested = true;
}

// How much lower training's threads are on the CPU than the window's (nice).
constexpr int kTrainingNice = 5;

// The session's worker has queued news (a state change, a snapshot, an epoch):
// set on the worker thread, with a wake-up for the frame loop's wait.
std::atomic<bool> g_session_news{false};
// The same for the Kernel Lab's runner (progress, a finished run).
std::atomic<bool> g_lab_news{false};

// While a Lab picture plays its steps, a frame at least this often.
constexpr double kLabAnimationInterval = 0.2;

ui::FramePacer::Mode PacingMode(const ui::AppState& state) {
  if (state.training.state != nn::SessionState::kRunning) return ui::FramePacer::Mode::kIdle;
  return state.train_fast ? ui::FramePacer::Mode::kTrainingFast : ui::FramePacer::Mode::kTraining;
}

// Error and info notices, bottom centre, until dismissed (errors) or for a few seconds (info).
void DrawNotices(ui::AppState& state) {
  constexpr double kInfoSeconds = 6.0;
  double now = ImGui::GetTime();
  std::erase_if(state.notices, [&](const ui::Notice& n) {
    return n.level == ui::Notice::Level::kInfo && now - n.shown_at > kInfoSeconds;
  });
  if (state.notices.empty()) return;
  const ImVec2 display = ImGui::GetIO().DisplaySize;
  // Bottom centre: the top holds the settings a notice often asks to change.
  ImGui::SetNextWindowPos(ImVec2(display.x * 0.5f, display.y - 8), ImGuiCond_Always, ImVec2(0.5f, 1.0f));
  ImGui::SetNextWindowSizeConstraints(ImVec2(display.x * 0.3f, 0), ImVec2(display.x * 0.6f, display.y * 0.5f));
  ImGui::SetNextWindowBgAlpha(0.95f);
  ImGui::Begin("##notices", nullptr,
               ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_AlwaysAutoResize | ImGuiWindowFlags_NoSavedSettings |
                   ImGuiWindowFlags_NoFocusOnAppearing);
  for (size_t i = 0; i < state.notices.size(); ++i) {
    ui::Notice& notice = state.notices[i];
    bool error = notice.level == ui::Notice::Level::kError;
    ImGui::PushID(static_cast<int>(i));
    ImGui::PushStyleColor(ImGuiCol_Text, error ? IM_COL32(255, 120, 110, 255) : IM_COL32(200, 220, 255, 255));
    ImGui::PushTextWrapPos(display.x * 0.55f);
    ImGui::TextUnformatted(notice.text.c_str());
    ImGui::PopTextWrapPos();
    ImGui::PopStyleColor();
    if (ImGui::SmallButton("Dismiss")) notice.shown_at = -1e9, notice.level = ui::Notice::Level::kInfo;
    ImGui::PopID();
  }
  ImGui::End();
}

// A chart's Save as PNG... (ui/widgets/chart_png.h): its part of the frame just drawn.
void SaveChart(ui::Renderer& renderer, ui::AppState& state, const ui::ChartCapture& chart) {
  const std::string what = "the chart '" + chart.chart + "'";
  if (!chart.drawn) {
    state.Notify(ui::Notice::Level::kError, "Could not save " + what + ": it was no longer on screen; nothing was written.");
    return;
  }
  const ImVec2 scale = ImGui::GetIO().DisplayFramebufferScale;
  const int x0 = static_cast<int>(std::floor(chart.min.x * scale.x)), y0 = static_cast<int>(std::floor(chart.min.y * scale.y));
  const int x1 = static_cast<int>(std::ceil(chart.max.x * scale.x)), y1 = static_cast<int>(std::ceil(chart.max.y * scale.y));
  try {
    if (!renderer.SaveRegion(chart.path, x0, y0, x1 - x0, y1 - y0)) throw Error("the window has no frame to read (minimised?).");
    state.Notify(ui::Notice::Level::kInfo, "Saved " + what + " (" + std::to_string(x1 - x0) + "x" +
                                               std::to_string(y1 - y0) + " pixels) to " + chart.path);
  } catch (const Error& e) {
    state.Notify(ui::Notice::Level::kError, "Could not save " + what + " to " + chart.path + ": " + e.what());
  }
}

// The test hook: one JSON line per state change and about once a second, with
// what a GUI test needs to drive the window with real input events and check
// the outcome (where the Train button is, the training state, the last loss).
class TestLog {
 public:
  explicit TestLog(const std::string& path) : out_(path, std::ios::app) {}
  bool enabled() const { return out_.is_open(); }
  // `build_ms`: the frame's panels (ImGui); `timing`: its drawing and presenting.
  void Write(const ui::AppState& state, double frame_ms, double build_ms, const ui::FrameTiming& timing, double now) {
    if (!enabled()) return;
    frame_ms_.push_back(frame_ms);
    for (auto [part, ms] : {std::pair{"build", build_ms}, {"acquire", timing.acquire_ms}, {"draw", timing.draw_ms},
                            {"present", timing.present_ms}})
      frame_parts_[part].push_back(ms);
    const ui::InsideView& inside = state.inside;
    std::string snapshot = nn::SessionStateName(state.training.state) + std::to_string(state.notices.size()) +
                           std::to_string(state.training.run_id) + state.loaded_data + state.data_error +
                           std::to_string(state.dirty) + state.project_path + std::to_string(inside.open) +
                           inside.drawn.tab + state.insight.drawn.tab + std::to_string(state.insight.open) +
                           std::to_string(state.insight.ceilings != nullptr) +
                           std::to_string(inside.canvas_prediction ? inside.canvas_prediction->request : 0) +
                           ui::LabLogSnapshot(state) + ui::PuzzlesLogSnapshot(state) + TextLogSnapshot(state);
    if (snapshot == last_snapshot_ && now - last_write_ < 1.0) return;
    last_snapshot_ = snapshot;
    last_write_ = now;
    nlohmann::json line = {{"time", now},
                           {"state", nn::SessionStateName(state.training.state)},
                           {"dirty", state.dirty},
                           {"project_path", state.project_path},
                           {"layers", state.project.layers.size()},
                           {"model_error", state.model_error},
                           {"notices", state.notices.size()},
                           {"frame_ms", frame_ms_},
                           {"frame_parts_ms", frame_parts_},
                           // What the last frame asked the rasteriser for (lavapipe draws on the CPU).
                           {"vertices", ImGui::GetIO().MetricsRenderVertices}};
    frame_ms_.clear();
    frame_parts_.clear();
    if (!state.notices.empty()) line["last_notice"] = state.notices.back().text;
    line["parallel"] = {{"running", state.parallel.running}, {"points", state.parallel.points},
                        {"simulated", state.parallel.simulated}, {"gantt_bars", state.parallel.gantt_bars},
                        {"error", state.parallel.error}, {"tensor_bars", state.parallel.tensor_bars},
                        {"tensor_equal", state.parallel.tensor_equal}, {"tensor_error", state.parallel.tensor_error},
                        {"pipeline_bars", state.parallel.pipeline_bars},
                        {"pipeline_equal", state.parallel.pipeline_equal},
                        {"pipeline_error", state.parallel.pipeline_error}};
    line["parity"] = {{"running", state.parity.running}, {"steps", state.parity.steps},
                      {"verdict", state.parity.verdict}, {"error", state.parity.error}};
    WriteRun(state, line);
    // The first frames are drawn before the panels are placed.
    if (++lines_ > 2)
      for (const auto& [name, rect] : ui::RecordedItemRects()) line["rects"][name] = rect;
    for (const auto& [name, text] : ui::RecordedTexts()) line["texts"][name] = text;
    line["train_fast"] = state.train_fast;
    if (const auto& step = state.training.last_step) {
      line["global_step"] = step->global_step;
      line["epoch"] = step->epoch;
      line["loss"] = step->loss;
    }
    if (!state.training.train_loss.y.empty()) line["first_loss"] = state.training.train_loss.y.front();
    if (const auto& snapshot = state.training.snapshot) line["snapshot_ms"] = snapshot->seconds * 1e3;
    if (const auto& epoch = state.training.last_epoch) {
      line["epochs_done"] = epoch->epoch + 1;
      line["train_accuracy"] = epoch->train_accuracy;
      if (epoch->validation) line["validation_accuracy"] = epoch->validation->accuracy;
    }
    if (const auto& test = state.training.last_test) {
      line["test_accuracy"] = test->accuracy;
      for (const nn::SamplePrediction& example : test->examples)
        line["test_examples"].push_back({{"index", example.index}, {"label", example.label},
                                         {"predicted", example.predicted}, {"confidence", example.confidence}});
    }
    WriteInside(state, line);
    WriteInsight(state, line);
    WriteText(state, line);
    line["lab"] = ui::LabTestLog(state);
    line["puzzles"] = ui::PuzzlesTestLog(state);
    out_ << line.dump() << std::endl;
  }

 private:
  // The run and the data as the panels see them: which set is loaded, which
  // sets the run trains and is judged on, what it produced, and why buttons are off.
  static void WriteRun(const ui::AppState& state, nlohmann::json& line) {
    const ui::TrainingView& view = state.training;
    const ui::DataChoice& data = state.project.data;
    line["data"] = {{"kind", data.kind}, {"samples", data.samples}, {"classes", data.classes}};
    if (state.train_data)
      line["loaded"] = {{"name", state.train_data->name}, {"count", state.train_data->count()},
                        {"classes", state.train_data->num_classes}};
    line["data_error"] = state.data_error;
    line["run_id"] = view.run_id;
    line["run"] = view.identity.has_value();
    const data::Dataset* judged = view.test_data ? view.test_data.get() : view.validation_data.get();
    if (judged) line["run_data"] = {{"name", judged->name}, {"classes", judged->num_classes}};
    line["train_points"] = view.train_loss.x.size();
    line["metrics_rows"] = view.metrics.rows();
    if (view.last_test) line["confusion_classes"] = view.last_test->classes;
    line["why_train_disabled"] = ui::WhyTrainingIsDisabled(state);
    line["why_continue_disabled"] = ui::WhyContinueIsDisabled(state);
    line["warning"] = view.warning;
    line["epochs"] = state.project.training.epochs;
    // The GPU panel's "GPU time per training step" (0 before a timed step came).
    line["gpu_step_ms"] = std::accumulate(view.dispatch_ns.begin(), view.dispatch_ns.end(), 0.0) / 1e6;
    nlohmann::json errors = nlohmann::json::object();
    for (size_t i = 0; i < state.project.layers.size(); ++i)
      if (!state.project.layers[i].error.empty()) errors[std::to_string(i)] = state.project.layers[i].error;
    line["row_errors"] = errors;
    line["title"] = ui::WindowTitle(state);
  }

  // The Inside window: what it drew, what the worker sent for it, the canvas's answer.
  static void WriteInside(const ui::AppState& state, nlohmann::json& line) {
    const ui::InsideView& inside = state.inside;
    line["inside_open"] = inside.open;
    line["inside_tab"] = inside.drawn.tab;
    line["inside_drawn"] = {{"filters", inside.drawn.filters},
                            {"feature_tiles", inside.drawn.feature_tiles},
                            {"histograms", inside.drawn.histograms},
                            {"mistakes", inside.drawn.mistakes},
                            {"bars", inside.drawn.bars}};
    line["test_mistakes"] = inside.test_mistakes.size();
    line["canvas_requests"] = inside.canvas_request;
    // The k largest of `outputs` as [class, probability] pairs, and the sum of all.
    auto top = [](const std::vector<float>& outputs) {
      std::vector<std::pair<uint32_t, float>> ranked;
      for (uint32_t c = 0; c < outputs.size(); ++c) ranked.push_back({c, outputs[c]});
      std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
      ranked.resize(std::min<size_t>(ranked.size(), 5));
      nlohmann::json pairs = nlohmann::json::array();
      for (const auto& [c, p] : ranked) pairs.push_back({c, p});
      double sum = 0;
      for (float p : outputs) sum += p;
      return std::pair{pairs, sum};
    };
    if (const auto& answer = inside.canvas_prediction) {
      auto [pairs, sum] = top(answer->outputs);
      size_t ink = std::count_if(inside.canvas_input.begin(), inside.canvas_input.end(), [](uint8_t v) { return v > 0; });
      line["canvas"] = {{"request", answer->request}, {"step", answer->global_step}, {"error", answer->error},
                        {"top", pairs}, {"sum", sum}, {"ink_pixels", ink}};
    }
    const nn::InsideSnapshot* probe = state.training.snapshot ? state.training.snapshot->inside.get() : nullptr;
    if (!probe) return;
    nlohmann::json dead = nlohmann::json::object();
    for (const auto& layer : probe->layers)
      if (layer.relu) dead[layer.name] = layer.units ? double(layer.dead_units) / layer.units : 0.0;
    auto [sample_top, sample_sum] = top(probe->sample_outputs);
    line["inside"] = {{"step", probe->global_step},     {"sample", probe->sample},
                      {"sample_label", probe->sample_label}, {"sample_top", sample_top},
                      {"feature_maps", probe->feature_maps.size()}, {"layers", probe->layers.size()},
                      {"probe_batch", probe->probe_batch}, {"dead", dead},
                      {"ms", probe->seconds * 1e3}};
  }

  // What changes in the Text window (a line is written at once when it does).
  static std::string TextLogSnapshot(const ui::AppState& state) {
    const ui::TextView& text = state.text;
    std::string snapshot = std::to_string(text.open) + text.drawn.tab + std::to_string(text.samples.size()) +
                           std::to_string(text.drawn.hovered_query) + std::to_string(text.drawn.hovered_key) +
                           std::to_string(text.attention ? text.attention->request.request : 0);
    if (!text.samples.empty()) snapshot += std::to_string(text.samples.front().request) + std::to_string(text.samples.front().done);
    return snapshot;
  }

  // The Text window: its samples, the attention maps it drew and what is hovered; the Training panel's MFU.
  static void WriteText(const ui::AppState& state, nlohmann::json& line) {
    const ui::TextView& text = state.text;
    nlohmann::json samples = nlohmann::json::array();
    for (const ui::TextView::Sample& sample : text.samples)
      samples.push_back({{"request", sample.request}, {"step", sample.step}, {"loss", sample.loss},
                         {"prompt", sample.prompt}, {"text", sample.text}, {"done", sample.done},
                         {"error", sample.error}});
    nlohmann::json top = nlohmann::json::array();
    for (const auto& [key, weight] : text.drawn.hovered_top) top.push_back({key, weight});
    line["text"] = {{"open", text.open},
                    {"tab", text.drawn.tab},
                    {"requests", text.requests},
                    {"samples", samples},
                    {"drawn_samples", text.drawn.samples},
                    {"heatmaps", text.drawn.heatmaps},
                    {"cells", text.drawn.cells},
                    {"layer", text.layer},
                    {"head", text.head},
                    {"query", text.query},
                    {"hovered_query", text.drawn.hovered_query},
                    {"hovered_key", text.drawn.hovered_key},
                    {"hovered_weight", text.drawn.hovered_weight},
                    {"hovered_top", top}};
    if (const auto& answer = text.attention) {
      const nn::AttentionMaps& maps = answer->maps;
      std::string prompt;
      for (const std::string& token : maps.tokens) prompt += token;
      line["text"]["attention"] = {{"request", answer->request.request}, {"step", answer->global_step},
                                   {"error", answer->error}, {"layers", maps.layers}, {"heads", maps.heads},
                                   {"tokens", maps.tokens.size()}, {"prompt", prompt}};
    }
    // The run's characters, while the window is open (the GUI test checks samples against them).
    const data::Dataset* train = state.train_data.get();
    if (text.open && train && train->labels_per_sample > 1) line["text"]["vocabulary"] = train->class_names;
    line["throughput"] = {{"flops_per_token", state.throughput.flops_per_token},
                          {"model_gflops", state.throughput.model_gflops},
                          {"mfu", state.throughput.mfu},
                          {"text", state.throughput.text}};
  }

  // The GPU insight window: which tab it drew and what was in it, and what the session sent for it.
  static void WriteInsight(const ui::AppState& state, nlohmann::json& line) {
    const ui::InsightView& insight = state.insight;
    const ui::InsightView::Drawn& drawn = insight.drawn;
    line["insight_open"] = insight.open;
    line["insight_tab"] = drawn.tab;
    line["insight_drawn"] = {{"rows", drawn.rows},
                             {"dots", drawn.dots},
                             {"timeline_events", drawn.timeline_events},
                             {"bandwidth_points", drawn.bandwidth_points},
                             {"memory_categories", drawn.memory_categories},
                             {"occupancy_kernels", drawn.occupancy_kernels},
                             {"device_extensions", drawn.device_extensions},
                             {"workgroup_records", drawn.workgroup_records},
                             {"experiments", drawn.experiments},
                             {"forced_rows", drawn.forced_rows},
                             {"occupancy_model", drawn.occupancy_model},
                             {"ceilings", drawn.ceilings},
                             {"first_layer_row", drawn.first_layer_row}};
    line["insight"] = {{"selected_layer", insight.selected_layer},
                       {"ceilings", insight.ceilings != nullptr},
                       {"measuring", insight.measuring},
                       {"profile_step", insight.profile ? int64_t(insight.profile_step) : int64_t(-1)},
                       {"trace", insight.trace != nullptr},
                       {"trace_requested", insight.trace_requested},
                       {"experiments", insight.experiments.size()},
                       {"forced_variant", nn::ForcedVariantName(insight.forced_variant)},
                       {"export_message", insight.export_message},
                       {"export_failed", insight.export_failed}};
    if (insight.ceilings) {
      const profile::Ceilings& c = insight.ceilings->ceilings;
      line["insight"]["bandwidth_gbs"] = c.bandwidth_gbs;
      line["insight"]["fp32_gflops"] = c.fp32_gflops;
    }
    if (state.device) line["insight"]["software_device"] = state.device->is_software();
  }

  std::ofstream out_;
  std::string last_snapshot_;
  double last_write_ = -1e9;
  int lines_ = 0;
  std::vector<double> frame_ms_;
  std::map<std::string, std::vector<double>> frame_parts_;  // where each frame's time went
};

}  // namespace

bool DisplayAvailable() {
  const char* x11 = std::getenv("DISPLAY");
  const char* wayland = std::getenv("WAYLAND_DISPLAY");
  return (x11 && *x11) || (wayland && *wayland);
}

int RunGui(const std::vector<std::string>& words, const std::optional<std::string>& open_lab) {
  Arguments args(words, {"device", "project", "test-log", "screenshot-dir"}, {"validate"});
  vk::ContextOptions options;
  options.device_index = args.Int("device").value_or(-1);
  options.validation = args.Has("validate");
  vk::ContextOptions window_options = options;
  ui::Renderer::AddRequiredExtensions(window_options);
  std::unique_ptr<vk::Context> window_context = vk::Context::Create(window_options);
  ui::Renderer renderer(*window_context);
  // Training gets a device of its own, on the same GPU: the window's drawing
  // and training then never wait for each other in one queue. On a CPU driver
  // (lavapipe) each device has its own queue thread, so they run side by side;
  // through one queue a frame's 30 ms of drawing stopped training each time.
  options.device_index = static_cast<int>(window_context->info().index);
  std::unique_ptr<vk::Context> context;
  std::unique_ptr<vk::PipelineCache> pipelines;
  std::unique_ptr<nn::TrainingSession> training;
  {
    // The window's frames come first: training's threads (the session's
    // worker, and on a CPU driver the device's queue and compute threads, all
    // made here and inheriting it) run at a lower CPU priority, nice +5. On a
    // GPU they mostly wait; on lavapipe the frames stay smooth while training
    // takes every cycle they leave.
    std::exception_ptr failure;
    std::thread maker([&] {
      try {
        setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), kTrainingNice);
        context = vk::Context::Create(options);
        pipelines = std::make_unique<vk::PipelineCache>(*context);
        training = std::make_unique<nn::TrainingSession>(*context, *pipelines, options);
      } catch (...) {
        failure = std::current_exception();
      }
    });
    maker.join();
    if (failure) std::rethrow_exception(failure);
  }
  nn::TrainingSession& session = *training;

  ui::AppState state;
  state.session = &session;
  state.device_name = context->info().name;
  state.device_type = std::string(vk::DeviceTypeName(context->info().type)) + ", " + context->info().driver_name +
                      " " + context->info().driver_info;
  state.device = &context->info();
  state.context = context.get();
  ui::Autosaver autosaver;
  if (auto path = args.String("project")) {
    try {
      state.project = ui::LoadProject(*path);
      state.project_path = *path;
    } catch (const Error& e) {
      state.project = ui::DefaultProject();
      state.Notify(ui::Notice::Level::kError, e.what());
    }
  } else {
    ui::LoadStartupProject(state, autosaver.path());
  }
  ui::RebuildModel(state);
  ui::LoadProjectData(state);
  ui::RestoreLastRun(state, ui::LastCheckpointPath(), ui::LastRunPath());
  if (!renderer.font_note().empty()) state.Notify(ui::Notice::Level::kInfo, renderer.font_note());
  // The Kernel Lab runs its lessons on a device of its own, made by its worker
  // at the first run (at normal priority: its kernels are being timed; the
  // window draws few frames meanwhile, see LabRunner's progress news).
  ui::LabRunner lab_runner(ui::DeviceLessonRunner(options), [] {
    g_lab_news = true;
    ui::Renderer::Wake();
  });
  state.lab.runner = &lab_runner;
  state.lab.lessons = lab::Lessons();
  state.lab.shader_source = [](const std::string& shader) -> const std::string& { return lab::ShaderSource(shader); };
  // The Lab's puzzles run the learner's kernels on a device of their own too.
  ui::InitPuzzles(state, options, [] {
    g_lab_news = true;
    ui::Renderer::Wake();
  });
  if (open_lab) ui::OpenLab(state, *open_lab);

  TestLog test_log(args.String("test-log").value_or(""));
  std::string screenshot_dir = args.String("screenshot-dir").value_or(".");
  int screenshots = 0;
  bool quitting = false, running = true, f12_was_down = false;
  auto last_frame = std::chrono::steady_clock::now();
  GLFWwindow* window = renderer.window();
  signal(SIGUSR1, OnScreenshotSignal);
  glfwSetWindowCloseCallback(window, OnWindowClose);
  // Frames are drawn when something visible may have changed (FramePacer);
  // between them the loop sleeps on window events and the session's news.
  ui::FramePacer pacer;
  session.SetEventNotifier([] {
    g_session_news = true;
    ui::Renderer::Wake();
  });
  const auto clock_start = std::chrono::steady_clock::now();
  auto seconds_now = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - clock_start).count(); };
  uint64_t inputs_seen = renderer.input_events();
  double frame_started_at = -1e9;
  while (running) {
    pacer.SetMode(PacingMode(state));
    for (;;) {
      const double now = seconds_now();
      if (renderer.input_events() != inputs_seen || g_close_requested) {
        inputs_seen = renderer.input_events();
        pacer.NoteInput(now);
      }
      if (g_session_news.exchange(false)) pacer.NoteChange(now);
      // The Lab's news (progress, a finished run) asks for one frame, not a
      // burst: on a CPU driver every frame takes time from the kernels being timed.
      if (g_lab_news.exchange(false)) break;
      double wait = pacer.SecondsUntilNextFrame(now);
      if (state.lab.animating) wait = std::min(wait, frame_started_at + kLabAnimationInterval - now);
      if (wait <= 0 || g_screenshot_requested || ui::ChartCaptureDue()) break;
      renderer.WaitEvents(wait);
    }
    // A timed training submission has the device to itself (nn::TimingGate).
    session.timing_gate().FrameBegin();
    frame_started_at = seconds_now();
    pacer.FrameStarted(frame_started_at);
    // A chart asked to be saved as PNG is saved from this frame, built without the mouse (no hover
    // read-outs) and without the notices (the last save's would cover the bottom of the panels).
    const bool chart_frame = ui::ChartCaptureDue();
    if (!renderer.BeginFrame(chart_frame)) {
      session.timing_gate().FrameEnd();
      break;
    }
    if (g_close_requested) quitting = true, g_close_requested = false;
    const auto frame_start = std::chrono::steady_clock::now();
    ui::UpdateFromSession(state, std::chrono::duration<double>(frame_start - last_frame).count());
    ui::SyncRun(state);  // the project as last edited decides the data and the run the panels draw
    ui::PlacePanels();
    ui::DrawModelPanel(state);
    ui::DrawDataPanel(state);
    ui::DrawTrainingPanel(state);
    ui::DrawGpuPanel(state);
    ui::DrawInsidePanel(state);
    ui::DrawInsightPanel(state);
    ui::DrawTextPanel(state);
    ui::DrawLabWindow(state);
    if (!chart_frame) DrawNotices(state);
    glfwSetWindowTitle(window, ui::WindowTitle(state).c_str());
    if (quitting) {
      ui::DiscardChoice choice = ui::ConfirmDiscardChanges(state, "quit");
      if (choice == ui::DiscardChoice::kProceed) running = false;
      if (choice == ui::DiscardChoice::kCancel) quitting = false;
    }
    // F12 or SIGUSR1 saves what the window shows (into --screenshot-dir, else the working directory).
    bool f12_down = glfwGetKey(window, GLFW_KEY_F12) == GLFW_PRESS;
    bool take_screenshot = (f12_down && !f12_was_down) || g_screenshot_requested;
    f12_was_down = f12_down;
    g_screenshot_requested = 0;
    autosaver.Tick(state, ImGui::GetTime());
    const auto build_end = std::chrono::steady_clock::now();
    renderer.EndFrame();
    auto now = std::chrono::steady_clock::now();
    test_log.Write(state, std::chrono::duration<double, std::milli>(now - last_frame).count(),
                   std::chrono::duration<double, std::milli>(build_end - frame_start).count(),
                   renderer.last_frame_timing(), ImGui::GetTime());
    last_frame = now;
    if (take_screenshot) {
      std::string path = screenshot_dir + "/screenshot-" + std::to_string(++screenshots) + ".png";
      if (renderer.SaveScreenshot(path)) std::printf("screenshot: %s\n", path.c_str());
      std::fflush(stdout);
    }
    if (std::optional<ui::ChartCapture> chart = ui::TakeChartCapture()) SaveChart(renderer, state, *chart);
    session.timing_gate().FrameEnd();
  }
  session.SetEventNotifier(nullptr);
  autosaver.Flush(state);
  // Keep what was trained, with its run: the session writes the parameters
  // before it stops. A diverged network is not worth keeping: the last good one stays.
  ui::KeepLastRun(state, ui::LastCheckpointPath(), ui::LastRunPath());
  return 0;
}

}  // namespace ts::app
