#include "ui/run_history.h"

#include <cstdio>
#include <filesystem>
#include <memory>

#include "compute/common/error.h"
#include "compute/common/file_read.h"
#include "compute/common/json_read.h"
#include "compute/common/number_text.h"
#include "compute/nn/checkpoint.h"
#include "compute/nn/model.h"
#include "ui/run.h"

namespace ts::ui {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kRunFormat = "tensorscope-run";
constexpr int kRunVersion = 1;

json SeriesToJson(const Series& series) {
  json points = json::array();
  for (size_t i = 0; i < series.x.size() && i < series.y.size(); ++i) points.push_back({series.x[i], series.y[i]});
  return points;
}

json PredictionsToJson(const std::vector<nn::SamplePrediction>& predictions) {
  json list = json::array();
  for (const nn::SamplePrediction& p : predictions)
    list.push_back({p.index, p.label, p.predicted, ShortestDouble(p.confidence)});
  return list;
}

json EvalToJson(const nn::EvalResult& eval) {
  return {{"loss", eval.loss},       {"accuracy", eval.accuracy},   {"samples", eval.samples},
          {"classes", eval.classes}, {"confusion", eval.confusion}, {"examples", PredictionsToJson(eval.examples)}};
}

// Reads with messages that name the file and the field.
struct Reader {
  const std::string& source;
  [[noreturn]] void Fail(const std::string& field, const std::string& expected) const {
    throw Error(source + ": " + field + ": expected " + expected + ".");
  }
  const json& At(const json& object, const char* key, const std::string& field) const {
    if (!object.is_object() || !object.contains(key)) Fail(field, "a field '" + std::string(key) + "'");
    return object.at(key);
  }
  double Number(const json& object, const char* key, const std::string& field) const {
    const json& value = At(object, key, field + "." + key);
    if (!value.is_number()) Fail(field + "." + key, "a number");
    return value.get<double>();
  }
  uint64_t Count(const json& object, const char* key, const std::string& field) const {
    const json& value = At(object, key, field + "." + key);
    if (!value.is_number_unsigned()) Fail(field + "." + key, "a whole number >= 0");
    return value.get<uint64_t>();
  }
  Series ReadSeries(const json& points, const std::string& field) const {
    Series series;
    if (!points.is_array()) Fail(field, "a list of [step, value] pairs");
    for (const json& p : points) {
      if (!p.is_array() || p.size() != 2 || !p[0].is_number() || !p[1].is_number()) Fail(field, "[step, value] pairs");
      series.x.push_back(p[0].get<double>());
      series.y.push_back(p[1].get<double>());
    }
    return series;
  }
  std::vector<nn::SamplePrediction> ReadPredictions(const json& list, const std::string& field) const {
    std::vector<nn::SamplePrediction> predictions;
    if (!list.is_array()) Fail(field, "a list of [index, label, predicted, confidence]");
    for (const json& p : list) {
      if (!p.is_array() || p.size() != 4 || !p[0].is_number_unsigned() || !p[1].is_number_unsigned() ||
          !p[2].is_number_unsigned() || !p[3].is_number())
        Fail(field, "[index, label, predicted, confidence] entries");
      predictions.push_back({p[0].get<uint64_t>(), p[1].get<uint32_t>(), p[2].get<uint32_t>(), p[3].get<float>()});
    }
    return predictions;
  }
  nn::EvalResult ReadEval(const json& object, const std::string& field) const {
    nn::EvalResult eval;
    eval.loss = Number(object, "loss", field);
    eval.accuracy = Number(object, "accuracy", field);
    eval.samples = Count(object, "samples", field);
    eval.classes = static_cast<uint32_t>(Count(object, "classes", field));
    const json& confusion = At(object, "confusion", field + ".confusion");
    if (!confusion.is_array() || confusion.size() != uint64_t(eval.classes) * eval.classes)
      Fail(field + ".confusion", "classes x classes counts");
    for (const json& v : confusion) {
      if (!v.is_number_unsigned()) Fail(field + ".confusion", "whole numbers");
      eval.confusion.push_back(v.get<uint64_t>());
    }
    eval.examples = ReadPredictions(At(object, "examples", field + ".examples"), field + ".examples");
    return eval;
  }
};

}  // namespace

json RunHistoryToJson(const AppState& state) {
  const TrainingView& view = state.training;
  json history = {{"format", kRunFormat}, {"version", kRunVersion}};
  if (view.identity) history["identity"] = {{"model", view.identity->model}, {"data", view.identity->data}};
  history["steps_per_epoch"] = view.steps_per_epoch;
  history["train_samples"] = view.train_samples;
  history["curves"] = {{"train_loss", SeriesToJson(view.train_loss)},
                       {"train_accuracy", SeriesToJson(view.train_accuracy)},
                       {"validation_loss", SeriesToJson(view.validation_loss)},
                       {"validation_accuracy", SeriesToJson(view.validation_accuracy)}};
  if (!view.loss_scale.x.empty()) {  // mixed precision
    history["curves"]["loss_scale"] = SeriesToJson(view.loss_scale);
    history["skipped_steps"] = view.skipped_steps;
  }
  json markers = json::array();
  for (const Marker& m : view.markers) markers.push_back({m.step, m.label});
  history["markers"] = markers;
  if (const auto& r = view.last_step)
    history["last_step"] = {{"epoch", r->epoch},
                            {"step_in_epoch", r->step_in_epoch},
                            {"global_step", r->global_step},
                            {"learning_rate", r->learning_rate},
                            {"loss", ShortestDouble(r->loss)},
                            {"accuracy", ShortestDouble(r->accuracy)}};
  if (const auto& e = view.last_epoch) {
    json epoch = {{"epoch", e->epoch},         {"train_loss", e->train_loss}, {"train_accuracy", e->train_accuracy},
                  {"seconds", e->seconds},     {"samples", e->samples}};
    if (e->validation) epoch["validation"] = EvalToJson(*e->validation);
    history["last_epoch"] = epoch;
  }
  if (view.last_test) history["last_test"] = EvalToJson(*view.last_test);
  history["test_mistakes"] = PredictionsToJson(state.inside.test_mistakes);
  return history;
}

void ApplyRunHistory(const json& history, AppState& state, const std::string& source) {
  const Reader read{source};
  if (!history.is_object() || history.value("format", "") != kRunFormat)
    read.Fail("format", "\"" + std::string(kRunFormat) + "\"");
  if (history.value("version", 0) != kRunVersion) read.Fail("version", std::to_string(kRunVersion));
  TrainingView& view = state.training;
  view.steps_per_epoch = static_cast<uint32_t>(read.Count(history, "steps_per_epoch", ""));
  view.train_samples = read.Count(history, "train_samples", "");
  const json& curves = read.At(history, "curves", "curves");
  view.train_loss = read.ReadSeries(read.At(curves, "train_loss", "curves.train_loss"), "curves.train_loss");
  view.train_accuracy = read.ReadSeries(read.At(curves, "train_accuracy", "curves.train_accuracy"), "curves.train_accuracy");
  view.validation_loss = read.ReadSeries(read.At(curves, "validation_loss", "curves.validation_loss"), "curves.validation_loss");
  view.validation_accuracy =
      read.ReadSeries(read.At(curves, "validation_accuracy", "curves.validation_accuracy"), "curves.validation_accuracy");
  // Mixed precision only (older runs and fp32 runs have none).
  view.loss_scale = curves.contains("loss_scale")
                        ? read.ReadSeries(read.At(curves, "loss_scale", "curves.loss_scale"), "curves.loss_scale")
                        : Series{};
  view.skipped_steps = history.contains("skipped_steps") ? read.Count(history, "skipped_steps", "") : 0;
  view.markers.clear();
  const json& markers = read.At(history, "markers", "markers");
  if (!markers.is_array()) read.Fail("markers", "a list of [step, label]");
  for (const json& m : markers) {
    if (!m.is_array() || m.size() != 2 || !m[0].is_number() || !m[1].is_string()) read.Fail("markers", "[step, label] pairs");
    view.markers.push_back({m[0].get<double>(), m[1].get<std::string>()});
  }
  view.last_step.reset();
  if (history.contains("last_step")) {
    const json& s = history["last_step"];
    nn::StepReport r;
    r.epoch = static_cast<uint32_t>(read.Count(s, "epoch", "last_step"));
    r.step_in_epoch = static_cast<uint32_t>(read.Count(s, "step_in_epoch", "last_step"));
    r.global_step = read.Count(s, "global_step", "last_step");
    r.learning_rate = read.Number(s, "learning_rate", "last_step");
    r.loss = static_cast<float>(read.Number(s, "loss", "last_step"));
    r.accuracy = static_cast<float>(read.Number(s, "accuracy", "last_step"));
    view.last_step = r;
  }
  view.last_epoch.reset();
  if (history.contains("last_epoch")) {
    const json& e = history["last_epoch"];
    nn::EpochSummary summary;
    summary.epoch = static_cast<uint32_t>(read.Count(e, "epoch", "last_epoch"));
    summary.train_loss = read.Number(e, "train_loss", "last_epoch");
    summary.train_accuracy = read.Number(e, "train_accuracy", "last_epoch");
    summary.seconds = read.Number(e, "seconds", "last_epoch");
    summary.samples = read.Count(e, "samples", "last_epoch");
    if (e.contains("validation")) summary.validation = read.ReadEval(e["validation"], "last_epoch.validation");
    view.last_epoch = summary;
  }
  view.last_test.reset();
  if (history.contains("last_test")) view.last_test = read.ReadEval(history["last_test"], "last_test");
  state.inside.test_mistakes = read.ReadPredictions(read.At(history, "test_mistakes", "test_mistakes"), "test_mistakes");
}

void KeepLastRun(AppState& state, const std::string& checkpoint_path, const std::string& run_path) {
  const nn::SessionState s = state.training.state;
  if (!state.session || !state.training.identity || s == nn::SessionState::kEmpty || s == nn::SessionState::kFailed)
    return;
  state.session->SaveCheckpoint(checkpoint_path);
  try {
    std::error_code ignored;
    fs::create_directories(fs::path(run_path).parent_path(), ignored);
    nn::WriteFileAtomically(run_path, DumpJson(RunHistoryToJson(state), run_path) + "\n");
    std::printf("Saved the trained network to %s and its run to %s\n", checkpoint_path.c_str(), run_path.c_str());
  } catch (const Error& e) {
    std::fprintf(stderr, "Could not keep the run's history: %s\n", e.what());
  }
}

void RestoreLastRun(AppState& state, const std::string& checkpoint_path, const std::string& run_path) {
  std::error_code missing;
  if (!state.session || !fs::exists(checkpoint_path, missing) || !fs::exists(run_path, missing)) return;
  try {
    json history = ParseJson(ReadRegularFile(run_path, kMaxJsonFileBytes, "a run history"), run_path);
    const json* identity = history.is_object() && history.contains("identity") ? &history["identity"] : nullptr;
    if (!identity || !identity->is_object() || !(*identity)["model"].is_string() || !(*identity)["data"].is_string())
      throw Error(run_path + ": identity: expected {\"model\": ..., \"data\": ...}.");
    RunIdentity kept{(*identity)["model"].get<std::string>(), (*identity)["data"].get<std::string>()};
    if (kept != CurrentRunIdentity(state)) return;  // the project changed since: its network is another run's
    auto checkpoint = std::make_shared<const nn::Checkpoint>(nn::LoadCheckpoint(checkpoint_path));
    RestoreRun(state, std::move(checkpoint), checkpoint_path);
    ApplyRunHistory(history, state, run_path);
  } catch (const Error& e) {
    state.Notify(Notice::Level::kError, std::string("The last trained network was not restored: ") + e.what());
  }
}

}  // namespace ts::ui
