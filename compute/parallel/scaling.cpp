#include "compute/parallel/scaling.h"

#include <algorithm>
#include <chrono>
#include <memory>

#include "compute/common/error.h"
#include "compute/nn/trainer.h"

namespace ts::parallel {
namespace {

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

struct Candidate {
  uint32_t replicas = 1;
  ReplicaContexts contexts;
  std::unique_ptr<DataParallelTrainer> trainer;
  std::vector<double> samples_per_second, step_ms, all_reduce_ms, exposed_ms;
  ParallelStepTimeline example;
};

double Number(const nlohmann::json& json, const char* key, const std::string& where) {
  auto it = json.find(key);
  if (it == json.end() || !it->is_number())
    throw Error(where + "." + key + ": expected a number, found " + (it == json.end() ? "nothing" : it->dump()) + ".");
  return it->get<double>();
}

}  // namespace

double ScalingResult::IdealSamplesPerSecond(uint32_t replicas) const {
  return points.empty() ? 0 : points[0].samples_per_second * replicas;
}

double ScalingResult::ModelSamplesPerSecond(uint32_t replicas) const {
  if (points.empty() || points[0].step_ms <= 0) return 0;
  // What the ring sends per replica for this many replicas: 2 (N - 1) / N of the gradients.
  const double bytes = replicas > 1 ? 2.0 * (replicas - 1) / replicas * double(gradient_bytes) : 0.0;
  const double seconds =
      points[0].step_ms * 1e-3 / replicas + (link_bytes_per_second > 0 ? bytes / link_bytes_per_second : 0.0);
  return global_batch / seconds;
}

ScalingResult MeasureScaling(const nn::ModelDesc& model, nn::TrainConfig config, const data::Dataset& train,
                             uint32_t max_replicas, uint32_t steps, uint32_t rounds,
                             const vk::ContextOptions& options,
                             const std::function<void(uint32_t, uint32_t)>& progress) {
  if (max_replicas == 0 || max_replicas > nn::kMaxReplicas)
    throw Error("--replicas: expected 1 to " + std::to_string(nn::kMaxReplicas) + ", found " +
                std::to_string(max_replicas) + ".");
  config.epochs = 1000000;  // never run out of steps
  config.validation_fraction = 0;
  config.replicas = 1;
  ScalingResult result;
  result.global_batch = config.batch_size;
  result.steps = steps;
  result.rounds = rounds;
  std::vector<Candidate> candidates;
  for (uint32_t n = 1; n <= max_replicas; ++n) {
    if (config.batch_size % n != 0) continue;
    Candidate c;
    c.replicas = n;
    c.contexts = CreateReplicaContexts(n, options);
    c.trainer = std::make_unique<DataParallelTrainer>(c.contexts.pointers(), model, config, &train, nullptr);
    c.trainer->RunSteps(2, [](const nn::StepReport&) {});  // warm-up: pipelines compile on their first dispatch
    result.device_description = c.contexts.description;
    result.simulated = c.contexts.simulated;
    result.buckets = c.trainer->buckets().size();
    result.gradient_bytes = c.trainer->gradient_bytes();
    candidates.push_back(std::move(c));
  }
  // The one-device trainer, on a device of its own, timed in the same rounds.
  std::unique_ptr<vk::Context> baseline_context = vk::Context::Create(options);
  vk::PipelineCache baseline_pipelines(*baseline_context);
  nn::Trainer baseline(*baseline_context, baseline_pipelines, model, config, &train, nullptr);
  baseline.RunSteps(2 * config.steps_per_submit, [](const nn::StepReport&) {});  // warm-up
  std::vector<double> baseline_samples_per_second;
  for (uint32_t round = 0; round < rounds; ++round) {
    {
      const auto start = std::chrono::steady_clock::now();
      baseline.RunSteps(steps, [](const nn::StepReport&) {});
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      baseline_samples_per_second.push_back(double(steps) * config.batch_size / seconds);
    }
    for (Candidate& c : candidates) {
      std::vector<double> all_reduce, exposed;
      const auto start = std::chrono::steady_clock::now();
      c.trainer->RunSteps(steps, [&](const nn::StepReport&) {
        const StepPhases phases = SummarizePhases(c.trainer->last_timeline());
        all_reduce.push_back(phases.all_reduce_ms);
        exposed.push_back(phases.waited_ms);
      });
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      c.samples_per_second.push_back(double(steps) * config.batch_size / seconds);
      c.step_ms.push_back(seconds * 1e3 / steps);
      c.all_reduce_ms.push_back(Median(all_reduce));
      c.exposed_ms.push_back(Median(exposed));
      c.example = c.trainer->last_timeline();
      if (progress) progress(round, c.replicas);
    }
  }
  for (Candidate& c : candidates) {
    ScalingPoint p;
    p.replicas = c.replicas;
    p.samples_per_second = Median(c.samples_per_second);
    p.step_ms = Median(c.step_ms);
    p.all_reduce_ms = Median(c.all_reduce_ms);
    p.exposed_ms = Median(c.exposed_ms);
    p.bytes_sent_per_replica = c.example.bytes_sent_per_replica;
    p.example = std::move(c.example);
    result.points.push_back(std::move(p));
  }
  result.trainer_samples_per_second = Median(baseline_samples_per_second);
  const ScalingPoint& most = result.points.back();
  if (most.replicas > 1 && most.all_reduce_ms > 0)
    result.link_bytes_per_second = double(most.bytes_sent_per_replica) / (most.all_reduce_ms * 1e-3);
  return result;
}

nlohmann::json ScalingToJson(const ScalingResult& r) {
  nlohmann::json points = nlohmann::json::array();
  for (const ScalingPoint& p : r.points) {
    nlohmann::json events = nlohmann::json::array();
    for (const PhaseEvent& e : p.example.events)
      events.push_back({{"kind", PhaseKindName(e.kind)},
                        {"replica", e.replica},
                        {"bucket", e.bucket},
                        {"start_ms", (e.start_ns - p.example.start_ns) * 1e-6},
                        {"end_ms", (e.end_ns - p.example.start_ns) * 1e-6}});
    points.push_back({{"replicas", p.replicas},
                      {"samples_per_second", p.samples_per_second},
                      {"ideal_samples_per_second", r.IdealSamplesPerSecond(p.replicas)},
                      {"model_samples_per_second", r.ModelSamplesPerSecond(p.replicas)},
                      {"step_ms", p.step_ms},
                      {"all_reduce_ms", p.all_reduce_ms},
                      {"exposed_ms", p.exposed_ms},
                      {"bytes_sent_per_replica", p.bytes_sent_per_replica},
                      {"example_step", {{"global_step", p.example.global_step},
                                        {"length_ms", (p.example.end_ns - p.example.start_ns) * 1e-6},
                                        {"device_clock", p.example.device_clock},
                                        {"events", events}}}});
  }
  return {{"device", r.device_description}, {"simulated", r.simulated},   {"global_batch", r.global_batch},
          {"steps", r.steps},               {"rounds", r.rounds},         {"buckets", r.buckets},
          {"gradient_bytes", r.gradient_bytes}, {"link_bytes_per_second", r.link_bytes_per_second},
          {"trainer_samples_per_second", r.trainer_samples_per_second},
          {"points", points}};
}

ScalingResult ScalingFromJson(const nlohmann::json& json) {
  const std::string where = "scaling";
  if (!json.is_object()) throw Error(where + ": expected an object, found " + json.dump().substr(0, 80) + ".");
  ScalingResult r;
  r.device_description = json.value("device", "");
  r.simulated = json.value("simulated", false);
  r.global_batch = static_cast<uint32_t>(Number(json, "global_batch", where));
  r.steps = static_cast<uint32_t>(Number(json, "steps", where));
  r.rounds = static_cast<uint32_t>(Number(json, "rounds", where));
  r.buckets = static_cast<size_t>(Number(json, "buckets", where));
  r.gradient_bytes = static_cast<uint64_t>(Number(json, "gradient_bytes", where));
  r.link_bytes_per_second = Number(json, "link_bytes_per_second", where);
  r.trainer_samples_per_second = json.value("trainer_samples_per_second", 0.0);
  auto points = json.find("points");
  if (points == json.end() || !points->is_array()) throw Error(where + ".points: expected an array.");
  for (size_t i = 0; i < points->size(); ++i) {
    const nlohmann::json& j = (*points)[i];
    const std::string at = where + ".points[" + std::to_string(i) + "]";
    if (!j.is_object()) throw Error(at + ": expected an object.");
    ScalingPoint p;
    p.replicas = static_cast<uint32_t>(Number(j, "replicas", at));
    p.samples_per_second = Number(j, "samples_per_second", at);
    p.step_ms = Number(j, "step_ms", at);
    p.all_reduce_ms = Number(j, "all_reduce_ms", at);
    p.exposed_ms = Number(j, "exposed_ms", at);
    p.bytes_sent_per_replica = static_cast<uint64_t>(Number(j, "bytes_sent_per_replica", at));
    auto step = j.find("example_step");
    if (step == j.end() || !step->is_object()) throw Error(at + ".example_step: expected an object.");
    p.example.global_step = static_cast<uint64_t>(Number(*step, "global_step", at + ".example_step"));
    p.example.start_ns = 0;
    p.example.end_ns = Number(*step, "length_ms", at + ".example_step") * 1e6;
    p.example.device_clock = step->value("device_clock", false);
    p.example.bytes_sent_per_replica = p.bytes_sent_per_replica;
    auto events = step->find("events");
    if (events == step->end() || !events->is_array()) throw Error(at + ".example_step.events: expected an array.");
    for (size_t k = 0; k < events->size(); ++k) {
      const nlohmann::json& e = (*events)[k];
      const std::string eat = at + ".example_step.events[" + std::to_string(k) + "]";
      if (!e.is_object()) throw Error(eat + ": expected an object.");
      PhaseEvent event;
      const std::string kind = e.value("kind", "");
      bool known = false;
      for (PhaseKind candidate : {PhaseKind::kForward, PhaseKind::kBackward, PhaseKind::kAllReduce, PhaseKind::kUpdate})
        if (kind == PhaseKindName(candidate)) event.kind = candidate, known = true;
      if (!known) throw Error(eat + ".kind: unknown phase '" + kind.substr(0, 40) + "'.");
      event.replica = static_cast<uint32_t>(Number(e, "replica", eat));
      event.bucket = static_cast<int>(Number(e, "bucket", eat));
      event.start_ns = Number(e, "start_ms", eat) * 1e6;
      event.end_ns = Number(e, "end_ms", eat) * 1e6;
      p.example.events.push_back(event);
    }
    r.points.push_back(std::move(p));
  }
  return r;
}

}  // namespace ts::parallel
