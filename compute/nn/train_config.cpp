#include "compute/nn/train_config.h"

#include "compute/common/number_text.h"

#include <cmath>
#include <numbers>
#include <set>

#include "compute/common/error.h"
#include "compute/common/json_read.h"

namespace ts::nn {
namespace {

using nlohmann::json;

double NumberField(const json& section, const char* key, double fallback, const std::string& where) {
  auto it = section.find(key);
  if (it == section.end()) return fallback;
  if (!it->is_number()) throw Error(where + "." + key + ": expected a number, found " + DescribeJson(*it) + ".");
  return it->get<double>();
}

void RejectUnknownFields(const json& section, const std::set<std::string>& known, const std::string& where) {
  for (auto it = section.begin(); it != section.end(); ++it)
    if (!known.count(it.key())) {
      std::string list;
      for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
      throw Error(where + "." + Excerpt(it.key(), 40) + ": unknown setting '" + Excerpt(it.key(), 40) + "'; known: " + list +
                  ".");
    }
}

uint32_t PositiveField(const json& section, const char* key, uint32_t fallback, const std::string& where) {
  auto it = section.find(key);
  if (it == section.end()) return fallback;
  if (!it->is_number_integer() || it->get<int64_t>() <= 0 || it->get<int64_t>() > 0x7fffffff)
    throw Error(where + "." + key + ": expected a positive integer, found " + DescribeJson(*it) + ".");
  return static_cast<uint32_t>(it->get<int64_t>());
}

TrainConfig ReadTrainConfig(const json& section, const std::string& where);

}  // namespace

double TrainConfig::LearningRateAt(double epoch) const {
  double lr = learning_rate;
  if (schedule.warmup_epochs > 0 && epoch < schedule.warmup_epochs)
    return learning_rate * (epoch + 1e-9) / schedule.warmup_epochs;
  switch (schedule.kind) {
    case ScheduleKind::kConstant:
      break;
    case ScheduleKind::kStep:
      lr *= std::pow(schedule.gamma, std::floor(epoch / schedule.step_epochs));
      break;
    case ScheduleKind::kCosine: {
      double span = std::max(1e-9, double(epochs) - schedule.warmup_epochs);
      double progress = std::clamp((epoch - schedule.warmup_epochs) / span, 0.0, 1.0);
      lr = schedule.min_learning_rate +
           0.5 * (learning_rate - schedule.min_learning_rate) * (1 + std::cos(std::numbers::pi * progress));
      break;
    }
  }
  return lr;
}

kernels::OptimizerKind ParseOptimizerName(const std::string& name, const std::string& where) {
  for (kernels::OptimizerKind kind : {kernels::OptimizerKind::kSgd, kernels::OptimizerKind::kMomentum,
                                      kernels::OptimizerKind::kAdam, kernels::OptimizerKind::kAdamW})
    if (name == kernels::OptimizerName(kind)) return kind;
  throw Error(where + ": unknown optimizer '" + Excerpt(name) + "'; known: sgd, momentum, adam, adamw.");
}

TrainConfig ParseTrainConfig(const json& section, const std::string& where) {
  return WithJsonErrorsAsSentences(where, [&] { return ReadTrainConfig(section, where); });
}

namespace {

TrainConfig ReadTrainConfig(const json& section, const std::string& where) {
  TrainConfig config;
  if (section.is_null()) return config;
  if (!section.is_object()) throw Error(where + ": expected an object, found " + DescribeJson(section) + ".");
  RejectUnknownFields(section,
                      {"optimizer", "learning_rate", "batch_size", "epochs", "seed", "momentum", "nesterov", "beta1",
                       "beta2", "epsilon", "weight_decay", "validation_fraction", "shuffle", "data", "schedule",
                       "steps_per_submit", "augment", "autotune", "replicas", "precision", "loss_scale", "grad_clip",
                       "decay_biases_and_norms", "max_steps", "vocabulary"},
                      where);
  if (auto it = section.find("optimizer"); it != section.end()) {
    if (!it->is_string()) throw Error(where + ".optimizer: expected a name, found " + DescribeJson(*it) + ".");
    config.optimizer = ParseOptimizerName(it->get<std::string>(), where + ".optimizer");
  }
  config.learning_rate = NumberField(section, "learning_rate", config.learning_rate, where);
  config.batch_size = PositiveField(section, "batch_size", config.batch_size, where);
  config.epochs = PositiveField(section, "epochs", config.epochs, where);
  config.seed = PositiveField(section, "seed", static_cast<uint32_t>(config.seed), where);
  config.steps_per_submit = PositiveField(section, "steps_per_submit", config.steps_per_submit, where);
  config.replicas = PositiveField(section, "replicas", config.replicas, where);
  if (auto it = section.find("precision"); it != section.end()) {
    if (!it->is_string()) throw Error(where + ".precision: expected \"fp32\" or \"fp16\", found " + DescribeJson(*it) + ".");
    config.precision = ParsePrecision(it->get<std::string>(), where + ".precision");
  }
  if (auto it = section.find("loss_scale"); it != section.end()) {
    const std::string at = where + ".loss_scale";
    if (!it->is_object()) throw Error(at + ": expected an object, found " + DescribeJson(*it) + ".");
    RejectUnknownFields(*it, {"init_scale", "growth_factor", "backoff_factor", "growth_interval"}, at);
    kernels::LossScaleOptions& o = config.loss_scale;
    o.init_scale = static_cast<float>(NumberField(*it, "init_scale", o.init_scale, at));
    o.growth_factor = static_cast<float>(NumberField(*it, "growth_factor", o.growth_factor, at));
    o.backoff_factor = static_cast<float>(NumberField(*it, "backoff_factor", o.backoff_factor, at));
    o.growth_interval = PositiveField(*it, "growth_interval", o.growth_interval, at);
  }
  config.hyper.momentum = static_cast<float>(NumberField(section, "momentum", config.hyper.momentum, where));
  config.hyper.beta1 = static_cast<float>(NumberField(section, "beta1", config.hyper.beta1, where));
  config.hyper.beta2 = static_cast<float>(NumberField(section, "beta2", config.hyper.beta2, where));
  config.hyper.epsilon = static_cast<float>(NumberField(section, "epsilon", config.hyper.epsilon, where));
  config.hyper.weight_decay = static_cast<float>(NumberField(section, "weight_decay", config.hyper.weight_decay, where));
  config.validation_fraction = NumberField(section, "validation_fraction", config.validation_fraction, where);
  config.grad_clip = static_cast<float>(NumberField(section, "grad_clip", config.grad_clip, where));
  if (auto it = section.find("max_steps"); it != section.end())
    config.max_steps = it->is_number_integer() && it->get<int64_t>() == 0 ? 0 : PositiveField(section, "max_steps", 0, where);
  for (const char* key : {"nesterov", "shuffle", "autotune", "decay_biases_and_norms"})
    if (auto it = section.find(key); it != section.end() && !it->is_boolean())
      throw Error(where + "." + key + ": expected true or false, found " + DescribeJson(*it) + ".");
  config.hyper.nesterov = section.value("nesterov", config.hyper.nesterov);
  config.shuffle = section.value("shuffle", config.shuffle);
  config.autotune = section.value("autotune", config.autotune);
  config.decay_biases_and_norms = section.value("decay_biases_and_norms", config.decay_biases_and_norms);
  if (auto it = section.find("vocabulary"); it != section.end()) {
    if (!it->is_array() || it->size() > (1u << 20))
      throw Error(where + ".vocabulary: expected a list of the tokens' texts, found " + DescribeJson(*it) + ".");
    for (size_t i = 0; i < it->size(); ++i)
      config.vocabulary.push_back(TextFromJson((*it)[i], where + ".vocabulary[" + std::to_string(i) + "]", "a token"));
  }
  if (auto it = section.find("data"); it != section.end()) config.data = TextFromJson(*it, where + ".data", "a dataset spec");
  if (auto it = section.find("augment"); it != section.end()) {
    std::string at = where + ".augment";
    if (!it->is_object()) throw Error(at + ": expected an object such as {\"crop_padding\": 4, \"flip\": true}, found " + DescribeJson(*it) + ".");
    RejectUnknownFields(*it, {"crop_padding", "flip"}, at);
    if (auto crop = it->find("crop_padding"); crop != it->end()) {
      if (!crop->is_number_integer() || crop->get<int64_t>() < 0 || crop->get<int64_t>() > 64)
        throw Error(at + ".crop_padding: expected a whole number of pixels from 0 to 64, found " + DescribeJson(*crop) + ".");
      config.augment_crop_padding = static_cast<uint32_t>(crop->get<int64_t>());
    }
    if (auto flip = it->find("flip"); flip != it->end()) {
      if (!flip->is_boolean()) throw Error(at + ".flip: expected true or false, found " + DescribeJson(*flip) + ".");
      config.augment_flip = flip->get<bool>();
    }
  }
  if (auto it = section.find("schedule"); it != section.end()) {
    std::string at = where + ".schedule";
    if (!it->is_object()) throw Error(at + ": expected an object, found " + DescribeJson(*it) + ".");
    RejectUnknownFields(*it, {"kind", "step_epochs", "gamma", "warmup_epochs", "min_learning_rate"}, at);
    std::string kind = "constant";
    if (auto field = it->find("kind"); field != it->end()) {
      if (!field->is_string())
        throw Error(at + ".kind: expected constant, step or cosine, found " + DescribeJson(*field) + ".");
      kind = field->get<std::string>();
    }
    if (kind == "constant") config.schedule.kind = ScheduleKind::kConstant;
    else if (kind == "step") config.schedule.kind = ScheduleKind::kStep;
    else if (kind == "cosine") config.schedule.kind = ScheduleKind::kCosine;
    else throw Error(at + ".kind: unknown schedule '" + Excerpt(kind) + "'; known: constant, step, cosine.");
    config.schedule.step_epochs = NumberField(*it, "step_epochs", config.schedule.step_epochs, at);
    config.schedule.gamma = NumberField(*it, "gamma", config.schedule.gamma, at);
    config.schedule.warmup_epochs = NumberField(*it, "warmup_epochs", config.schedule.warmup_epochs, at);
    config.schedule.min_learning_rate = NumberField(*it, "min_learning_rate", config.schedule.min_learning_rate, at);
  }
  try {
    ValidateTrainConfig(config);
  } catch (const Error& e) {
    throw Error(where + ": " + e.what());
  }
  return config;
}

}  // namespace

void ValidateTrainConfig(const TrainConfig& c) {
  auto fail = [](const std::string& message) { throw Error(message); };
  if (!(c.learning_rate > 0) || !std::isfinite(c.learning_rate))
    fail("the learning rate must be a positive number; found " + std::to_string(c.learning_rate) + ".");
  if (c.batch_size == 0) fail("the batch size must be at least 1.");
  if (c.epochs == 0) fail("the number of epochs must be at least 1.");
  if (!(c.validation_fraction >= 0 && c.validation_fraction < 1))
    fail("the validation fraction must be in [0, 1); found " + std::to_string(c.validation_fraction) + ".");
  if (!(c.hyper.momentum >= 0 && c.hyper.momentum < 1)) fail("momentum must be in [0, 1).");
  if (!(c.hyper.beta1 >= 0 && c.hyper.beta1 < 1) || !(c.hyper.beta2 >= 0 && c.hyper.beta2 < 1))
    fail("beta1 and beta2 must be in [0, 1).");
  if (!(c.hyper.epsilon > 0)) fail("epsilon must be positive.");
  if (!(c.hyper.weight_decay >= 0)) fail("weight decay must be zero or positive.");
  if (c.schedule.kind == ScheduleKind::kStep && !(c.schedule.step_epochs > 0)) fail("schedule.step_epochs must be positive.");
  if (!(c.schedule.warmup_epochs >= 0)) fail("schedule.warmup_epochs must be zero or positive.");
  if (c.steps_per_submit == 0 || c.steps_per_submit > kMaxStepsPerSubmit)
    fail("steps per submit must be from 1 to " + std::to_string(kMaxStepsPerSubmit) + ", found " +
         std::to_string(c.steps_per_submit) + ": every step of a submission keeps its own step slot and descriptor "
         "sets, so memory grows with it, and a few dozen steps already hide the cost of a submission.");
  if (c.replicas == 0 || c.replicas > kMaxReplicas)
    fail("replicas must be from 1 to " + std::to_string(kMaxReplicas) + ", found " + std::to_string(c.replicas) + ".");
  if (c.batch_size % c.replicas != 0)
    fail("the batch " + std::to_string(c.batch_size) + " does not split evenly over " + std::to_string(c.replicas) +
         " replicas; choose a batch that is a multiple of " + std::to_string(c.replicas) + ".");
  const kernels::LossScaleOptions& scale = c.loss_scale;
  if (!(scale.init_scale > 0) || !std::isfinite(scale.init_scale) || !(scale.growth_factor > 1) ||
      !(scale.backoff_factor > 0 && scale.backoff_factor < 1) || scale.growth_interval == 0)
    fail("loss_scale needs init_scale > 0 (finite), growth_factor > 1, 0 < backoff_factor < 1 and "
         "growth_interval >= 1, as torch.cuda.amp.GradScaler does.");
  if (!(c.grad_clip >= 0) || !std::isfinite(c.grad_clip))
    fail("grad_clip must be a norm > 0 (or 0: no clipping), found " + std::to_string(c.grad_clip) + ".");
  if (c.grad_clip > 0 && c.replicas != 1)
    fail("gradient clipping trains on one device (found replicas " + std::to_string(c.replicas) + ").");
  if (c.precision == Precision::kFp16 && c.replicas != 1)
    fail("fp16 precision trains on one device: data-parallel replicas run in fp32 (found replicas " +
         std::to_string(c.replicas) + ").");
}

json TrainConfigToJson(const TrainConfig& c) {
  const char* kinds[] = {"constant", "step", "cosine"};
  json section = {{"optimizer", kernels::OptimizerName(c.optimizer)},
                  {"learning_rate", c.learning_rate},
                  {"batch_size", c.batch_size},
                  {"epochs", c.epochs},
                  {"seed", c.seed},
                  {"momentum", ShortestDouble(c.hyper.momentum)},
                  {"nesterov", c.hyper.nesterov},
                  {"beta1", ShortestDouble(c.hyper.beta1)},
                  {"beta2", ShortestDouble(c.hyper.beta2)},
                  {"epsilon", ShortestDouble(c.hyper.epsilon)},
                  {"weight_decay", ShortestDouble(c.hyper.weight_decay)},
                  {"validation_fraction", c.validation_fraction},
                  {"shuffle", c.shuffle},
                  {"steps_per_submit", c.steps_per_submit},
                  {"schedule",
                   {{"kind", kinds[static_cast<int>(c.schedule.kind)]},
                    {"step_epochs", c.schedule.step_epochs},
                    {"gamma", c.schedule.gamma},
                    {"warmup_epochs", c.schedule.warmup_epochs},
                    {"min_learning_rate", c.schedule.min_learning_rate}}}};
  if (!c.data.empty()) section["data"] = TextToJson(c.data);
  if (!c.autotune) section["autotune"] = false;  // the default (true) is left out
  if (c.replicas != 1) section["replicas"] = c.replicas;
  if (c.grad_clip > 0) section["grad_clip"] = ShortestDouble(c.grad_clip);
  if (!c.decay_biases_and_norms) section["decay_biases_and_norms"] = false;
  if (c.max_steps > 0) section["max_steps"] = c.max_steps;
  if (!c.vocabulary.empty()) {
    json tokens = json::array();
    for (const std::string& token : c.vocabulary) tokens.push_back(TextToJson(token));
    section["vocabulary"] = tokens;
  }
  if (c.precision != Precision::kFp32) section["precision"] = PrecisionName(c.precision);
  const kernels::LossScaleOptions defaults;
  const kernels::LossScaleOptions& s = c.loss_scale;
  if (s.init_scale != defaults.init_scale || s.growth_factor != defaults.growth_factor ||
      s.backoff_factor != defaults.backoff_factor || s.growth_interval != defaults.growth_interval)
    section["loss_scale"] = {{"init_scale", ShortestDouble(s.init_scale)},
                             {"growth_factor", ShortestDouble(s.growth_factor)},
                             {"backoff_factor", ShortestDouble(s.backoff_factor)},
                             {"growth_interval", s.growth_interval}};
  if (c.augment_crop_padding || c.augment_flip)
    section["augment"] = {{"crop_padding", c.augment_crop_padding}, {"flip", c.augment_flip}};
  return section;
}

}  // namespace ts::nn
