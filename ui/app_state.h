// AppState: everything the GUI shows and edits, as plain data. Panels are free
// functions over it (DrawModelPanel(AppState&), ...); none of them records
// Vulkan commands: they send commands to the TrainingSession and read events.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compute/data/dataset.h"
#include "compute/lab/lab.h"
#include "compute/nn/metrics_log.h"
#include "compute/nn/model.h"
#include "compute/nn/session.h"
#include "compute/nn/train_config.h"
#include "compute/profile/ceilings.h"
#include "compute/profile/experiment.h"
#include "compute/profile/kernel_table.h"
#include "compute/vk/context.h"
#include "compute/vk/device_info.h"

namespace ts::nn {
struct Checkpoint;
}

namespace ts::ui {

class LabRunner;
struct PuzzlesView;  // ui/lab/puzzles_window.h

// One layer as the user is editing it: text fields are kept as typed, so an
// invalid entry is shown with its error and nothing the user typed is lost.
struct LayerEdit {
  std::string type = "dense";        // a ModelDesc layer type name, e.g. "dense", "relu"
  std::string name;                  // optional
  std::string units = "16";          // dense
  std::string shape = "2";           // input: "2" or "1x28x28"
  std::string slope = "0.01";        // leaky_relu
  bool bias = true;                  // dense, conv2d
  std::string init;                  // dense, conv2d; empty = default
  std::string filters = "32";        // conv2d: output channels
  std::string kernel = "3";          // conv2d kernel / pool window: "3" or "3x5" (height x width)
  std::string stride;                // conv2d, pools: "2" or "2x1"; empty = default (1; a pool's window)
  std::string padding = "valid";     // conv2d: "valid", "same", "1" or "1x2"; pools: "0", "1" ...
  std::string rate = "0.5";          // dropout: drop probability
  std::string momentum = "0.1";      // batch_norm
  std::string epsilon = "1e-05";     // batch_norm, layer_norm, transformer_block
  std::string vocab = "73";          // embedding: token ids in [0, vocab) (its width is `units`)
  std::string heads = "4";           // transformer_block: attention heads (must divide the width)
  std::string mlp_ratio = "4";       // transformer_block: the MLP's hidden width / the width
  std::string attention = "auto";    // transformer_block: auto, plain or fused
  bool tied = false;                 // dense on a sequence: shares the embedding's token table
  std::string error;                 // why this layer is invalid ("" when valid)
};

// The dataset the project trains on, with the generator settings for the
// built-in 2D sets and the points the user added by clicking.
struct DataChoice {
  std::string kind = "spiral";       // spiral, circles, xor, blobs, moons, mnist, fashion-mnist, iris, wine, digits,
                                     // csv, idx, shapes, cifar10, images, text, kjv
  uint32_t samples = 900;
  uint32_t classes = 3;
  float noise = 0.2f;
  uint32_t seed = 1;
  float test_fraction = 0.2f;        // share of the samples held out as the test set (text, kjv: val_fraction,
                                     // the tail of the text)
  std::string path;                  // csv / idx (images file; labels beside it) / text (a UTF-8 file)
  uint32_t context = 64;             // text, kjv: characters per window (the model's input [T])
  struct AddedPoint { float x, y; uint32_t label; };
  std::vector<AddedPoint> added_points;
};

// A project: what is saved to and loaded from a project file (versioned JSON).
struct Project {
  std::string name = "untitled";
  std::vector<LayerEdit> layers;
  nn::TrainConfig training;
  DataChoice data;
};

// A series of points for the shared plot widget.
struct Series {
  std::vector<double> x, y;
};

// One change made mid-run (learning rate, batch size, optimizer), drawn as a marker.
struct Marker {
  double step = 0;
  std::string label;
};

// What a run means: the model and the data it trains on, and the settings
// that decide which samples it learns from. A run's results (curves,
// predictions, checkpoints) belong to exactly one identity; see ui/run.h.
struct RunIdentity {
  std::string model;  // the model as JSON, without its name and training section
  std::string data;   // DataKey: the data spec, points added by clicking, the split
  bool operator==(const RunIdentity&) const = default;
};

// The current run: what the session holds and everything it produced. The
// panels draw only this; ui/run.h's functions are the only ones that start,
// restore or end it.
struct TrainingView {
  nn::SessionState state = nn::SessionState::kEmpty;
  // The run the session holds (nullopt: none). Set when a run is loaded; a
  // project edit that changes it ends the run (SyncRun).
  std::optional<RunIdentity> identity;
  uint64_t run_id = 0;  // counts runs: widgets that remember a view (zoom) reset when it changes
  uint64_t session_run = 0;  // the session's number for it (nn::SessionEvent::run): older events are dropped
  Series train_loss, train_accuracy, validation_loss, validation_accuracy;  // x: global step
  // Mixed precision: the loss scale each step used (x: global step) and the
  // steps skipped because their gradients overflowed. Empty in fp32.
  Series loss_scale;
  uint64_t skipped_steps = 0;
  std::vector<Marker> markers;
  std::optional<nn::StepReport> last_step;
  std::optional<nn::EpochSummary> last_epoch;
  std::optional<nn::EvalResult> last_test;
  // Every step and evaluation of the run this window saw, as `train --metrics-csv` writes them (Metrics CSV...).
  nn::MetricsLog metrics;
  // The run's own data: the validation samples split off when it started and
  // its test set (their predictions are shown with these, never the Data panel's).
  std::shared_ptr<const data::Dataset> validation_data, test_data;
  std::shared_ptr<const nn::Snapshot> snapshot;
  uint32_t steps_per_epoch = 0;
  uint64_t train_samples = 0;  // the run's training set (after the validation split)
  double samples_per_second = 0;
  double eta_seconds = 0;
  // ETA: seconds spent running (paused time excluded) and the steps run in
  // them, evaluation and epoch-end work included.
  double running_seconds = 0;
  uint64_t steps_at_start = 0;      // global step when this stretch of running began
  bool epoch_finished_while_timed = false;  // the timing includes an epoch end's work
  std::string warning;              // the latest kWarning (e.g. the loss is rising); "" when none
  // Per-dispatch GPU time, exponentially averaged over recent steps.
  std::vector<nn::DispatchInfo> dispatches;
  std::vector<double> dispatch_ns;
  // The kernels changed (a setting rebuilt the plan): the next timed step's
  // times replace the averages instead of blending into the old kernels'.
  bool dispatch_ns_stale = false;
};

// The "Inside" window: filters, feature maps, activation and gradient
// histograms, predictions of a drawing or a chosen sample, and the test set's
// mistakes. The worker runs its probe passes only while the window is open.
struct InsideView {
  bool open = false;                 // the window is expanded (not collapsed); the worker probes only then
  uint64_t sample = 0;               // the chosen sample of probe_data
  std::optional<nn::InsideRequest> sent;  // the last request sent to the session
  // What the worker probes: the test set, else the validation set, else the
  // training set (as nn::InsideSnapshot says), kept from StartTraining.
  std::shared_ptr<const data::Dataset> probe_data;
  // After each epoch: the test images answered wrong with the highest confidence.
  std::vector<nn::SamplePrediction> test_mistakes;
  // The drawing canvas: its input as sent (bytes, the model's input shape),
  // the number of the request, and the latest answer to it.
  std::vector<uint8_t> canvas_input;
  uint64_t canvas_request = 0;
  uint64_t canvas_first_answer = 0;  // answers to earlier requests are stale (the canvas was cleared since)
  double canvas_sent_at = -1e9;      // ImGui::GetTime() of the last request
  uint64_t canvas_sent_step = 0;     // the snapshot step it was sent at (re-sent as training moves on)
  std::shared_ptr<const nn::InputPrediction> canvas_prediction;
  // What the panel drew in its last frame (for the GUI tests' log).
  struct Drawn {
    std::string tab;
    uint32_t filters = 0, feature_tiles = 0, histograms = 0, mistakes = 0, bars = 0;
  } drawn;
};

// The "GPU insight" window: per-kernel table, bandwidth over time, roofline,
// step timeline, memory, occupancy, device facts and ceilings. Everything here
// is updated from session events (never per frame from the GPU).
struct InsightView {
  bool open = false;                 // the window is shown (profiles are requested only then)
  double last_profile_request = -1e9;  // ImGui::GetTime() of the last RequestProfile
  bool ceilings_asked = false;         // the ceilings were asked of the session (on first opening)
  // The shared selection: a layer (index into ModelDesc::layers, -1: none),
  // set by a kernel row, the Model panel's layer table or the network diagram.
  int selected_layer = -1;
  // Ceilings: the latest kCeilings answer, and whether a measurement is under way.
  std::shared_ptr<const profile::CachedCeilings> ceilings;
  bool measuring = false;
  // The latest profiled submission (timeline, invocation counts) and the latest trace.
  std::shared_ptr<const nn::StepProfile> profile;
  uint64_t profile_step = 0;
  std::shared_ptr<const nn::StepProfile> trace;
  uint64_t trace_step = 0;
  bool trace_requested = false;
  // Per-kernel table: rebuilt at most a few times a second from the averaged times.
  std::vector<profile::KernelRow> rows;
  double rows_built_at = -1e9;
  profile::KernelColumn sort_column = profile::KernelColumn::kTime;
  bool sort_ascending = false;
  // Bandwidth history: x = global step, per kernel family the GB/s it contributes
  // to the step's achieved bandwidth (its bytes / the step's GPU time).
  std::vector<std::string> families;       // kernel family per group
  std::vector<size_t> family_of_dispatch;  // dispatch -> group
  std::vector<double> bandwidth_x;
  std::vector<std::vector<double>> bandwidth_by_family;
  // Memory of the plan (from kStep events).
  nn::MemoryUse plan_memory;
  uint64_t dataset_bytes = 0;
  // "Force variant" (Kernels tab): what the user asked the session to force;
  // each dispatch's DispatchInfo::variant_choice says what is in force.
  nn::ForcedVariant forced_variant = nn::ForcedVariant::kNone;
  // "Try it" experiments, newest last.
  std::vector<profile::ExperimentResult> experiments;
  bool experiment_running = false;
  std::string export_path = "tensorscope-trace.json";
  std::string export_message;              // the result of the last export
  bool export_failed = false;
  // What the window drew in its last frame (for the GUI tests' log).
  struct Drawn {
    std::string tab;
    uint32_t rows = 0, dots = 0, timeline_events = 0, bandwidth_points = 0, memory_categories = 0,
             occupancy_kernels = 0, device_extensions = 0, workgroup_records = 0, experiments = 0;
    uint32_t forced_rows = 0;  // kernel rows whose variant is forced (Kernels tab)
    // Occupancy tab: the model its table used ("this device" or a reference
    // GPU's label), and each line's key and occupancy text as shown.
    std::string occupancy_model;
    std::vector<std::pair<std::string, std::string>> occupancy_cells;
    bool ceilings = false;
    int first_layer_row = -1;  // the layer of the first kernel row that has one (its rect: insight_kernel_layer_row)
  } drawn;
};

// The "Text" window of a sequence model (ui/panels/text_panel.h): samples of
// what it writes while it trains, and where its attention heads look. The
// answers come from the session's worker (nn::SampleAnswer, nn::AttentionAnswer).
struct TextView {
  bool open = false;
  uint64_t run_id = 0;  // TrainingView::run_id the samples and maps belong to (a new run clears them)
  // Samples: the settings of the next request, and the latest samples, newest first.
  std::string prompt;
  float temperature = 0.8f;
  int top_k = 0;          // 0: every character
  int length = 120;       // characters per sample
  bool every = true;      // sample every `interval` seconds while training
  float interval = 5.0f;
  uint64_t requests = 0;  // sample requests sent (each its number)
  double sent_at = -1e9;  // ImGui::GetTime() of the last sample request
  struct Sample {
    uint64_t request = 0;
    uint64_t step = 0;    // the parameters' training step
    double loss = -1;     // the training loss at that step (-1: none yet)
    std::string prompt, text, error;
    bool done = false;
  };
  static constexpr size_t kKept = 6;
  std::deque<Sample> samples;
  // Attention: the prompt, the picks, and the latest answer.
  std::string attention_prompt = "In the beginning God created";
  int layer = 0, head = 0;
  bool all_heads = false;
  bool absolute = false;  // shade by the weight itself (0 to 1), not against the row's largest
  int query = -1;         // the token whose attention is shown (-1: none)
  uint64_t attention_requests = 0;
  double attention_sent_at = -1e9;
  bool attention_pending = false;
  std::shared_ptr<const nn::AttentionAnswer> attention;
  // What the window drew in its last frame (for the GUI tests' log).
  struct Drawn {
    std::string tab;
    uint32_t samples = 0, heatmaps = 0, cells = 0;
    int hovered_query = -1, hovered_key = -1;
    float hovered_weight = 0;
    std::vector<std::pair<int, float>> hovered_top;  // the hovered query's top keys and weights
  } drawn;
};

// The Training panel's throughput of a sequence model: nanoGPT's model FLOPs
// per token, the achieved model FLOP/s and MFU against the measured fp32 peak
// (for the GUI tests' log; 0 / -1 when not shown).
struct ThroughputShown {
  double flops_per_token = 0, model_gflops = 0, mfu = -1;
  std::string text;
  // The peak cached on disk (bench --ceilings, an earlier GPU insight), read
  // once per device: MFU without opening GPU insight.
  const vk::DeviceInfo* cache_read_for = nullptr;
  std::optional<profile::Ceilings> cached_peak;
};

// The "Kernel Lab" window (ui/lab/): lessons that run real kernels on a
// device of their own (LabRunner's worker), their results and what the
// window drew. The lesson list and shader sources come from compute/lab
// (set by the app; the widget tests set their own).
struct LabView {
  bool open = false;
  std::vector<lab::LessonInfo> lessons;                                   // lab::Lessons()
  std::function<const std::string&(const std::string& shader)> shader_source;  // lab::ShaderSource
  LabRunner* runner = nullptr;       // owned by the app; null: nothing can run (the window says so)
  std::string lesson;                // the lesson shown (a name in `lessons`)
  std::map<std::string, lab::Settings> settings;  // per lesson: the knobs as set
  // Per lesson: the latest finished run (its result, or why it failed).
  struct Outcome {
    lab::Settings settings;  // as run
    std::shared_ptr<const lab::LessonResult> result;
    std::string error;
    double seconds = 0;
  };
  std::map<std::string, Outcome> outcomes;
  uint64_t request = 0;              // the run asked for last (0: none)
  std::string request_lesson;        // ...of this lesson
  bool busy = false;                 // it is under way (as of this frame)
  std::string progress_what;
  double progress = 0;
  std::string variant;               // the selected variant (source, pictures): a name in the result
  bool animating = false;            // a picture plays its steps: the window draws a few frames a second
  // What the window drew in its last frame (for the GUI tests' log).
  struct Drawn {
    std::string tab;
    uint32_t rows = 0, failed_checks = 0, source_lines = 0, chart_series = 0, dots = 0, grid_cells = 0,
             idle_cells = 0, touched = 0, tree_levels = 0, notes = 0;
    std::string hovered_formula;     // the grid picture's formula for the hovered cell
  } drawn;
};

// A message shown to the user (an error banner, or a note).
struct Notice {
  enum class Level { kInfo, kError } level = Level::kInfo;
  std::string text;
  double shown_at = 0;  // ImGui::GetTime() when raised
};

struct AppState {
  Project project;
  std::string project_path;          // empty until saved or opened
  bool dirty = false;                // unsaved changes
  std::string model_error;           // why the model cannot be trained ("" when it can)
  std::optional<nn::ModelDesc> model;  // the valid model built from project.layers
  // A checkpoint opened with the project (Open of a .ckpt, or the network kept
  // at the last exit): it becomes the run once the project's data is loaded (SyncRun).
  std::shared_ptr<const nn::Checkpoint> pending_checkpoint;
  std::string pending_checkpoint_source;

  std::shared_ptr<const data::Dataset> train_data, test_data;  // loaded for project.data
  std::string loaded_data;           // the DataKey they were loaded for (also after a failed load)
  std::string data_error;
  uint32_t selected_class = 0;       // class of the points a click on the 2D map adds

  nn::TrainingSession* session = nullptr;  // owned by the app
  TrainingView training;
  // An Export... waiting for the session's checkpoint of the run (ui/export_run.h).
  struct PendingExport {
    std::string format, path, weights;  // "onnx" or "pytorch"; where to; the checkpoint asked for
  };
  std::optional<PendingExport> pending_export;
  // The last "PyTorch check" (ui/parity_window.h), for the test log.
  struct ParitySummary {
    bool running = false;
    size_t steps = 0;
    std::string verdict, error;
  } parity;
  // The last "Parallelism" measurement (ui/parallel_window.h), for the test log.
  struct ParallelSummary {
    bool running = false;
    size_t points = 0;      // replica counts measured
    bool simulated = false;
    size_t gantt_bars = 0;  // drawn in the step's Gantt chart
    std::string error;
    // Tensor parallel: the last split layer's run.
    size_t tensor_bars = 0;
    bool tensor_equal = false;  // the split output equals the unsplit one
    std::string tensor_error;
    // Pipeline parallel: both schedules' Gantt charts.
    size_t pipeline_bars = 0;
    bool pipeline_equal = false;  // every schedule's losses equal the unsplit model's
    std::string pipeline_error;
  } parallel;
  // "train fast": the window draws a few frames a second and the session sends
  // fewer snapshots, so training runs at nearly the command line's speed.
  bool train_fast = false;
  InsideView inside;
  InsightView insight;
  TextView text;
  ThroughputShown throughput;
  LabView lab;
  std::shared_ptr<PuzzlesView> puzzles;  // the Lab's puzzles (InitPuzzles); null in tests without them
  std::deque<Notice> notices;

  std::string device_name, device_type;  // for the GPU panel
  // The device's facts and context (owned by the app; null in tests without a device).
  const vk::DeviceInfo* device = nullptr;
  const vk::Context* context = nullptr;

  void Notify(Notice::Level level, std::string text);
};

}  // namespace ts::ui
