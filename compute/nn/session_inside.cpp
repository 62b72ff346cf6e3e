#include "compute/nn/session_worker.h"

namespace ts::nn {

Histogram MakeHistogram(std::span<const float> values, uint32_t bins) {
  Histogram h;
  h.total = values.size();
  float low = INFINITY, high = -INFINITY;
  double sum = 0, sum_squares = 0;
  uint64_t finite = 0;
  for (float v : values) {
    if (!std::isfinite(v)) continue;
    ++finite;
    sum += v;
    sum_squares += double(v) * v;
    if (v == 0.0f) {
      ++h.zeros;
      continue;
    }
    low = std::min(low, v);
    high = std::max(high, v);
  }
  if (finite > 0) {
    h.mean = sum / double(finite);
    h.std = std::sqrt(std::max(0.0, sum_squares / double(finite) - h.mean * h.mean));
  }
  if (finite == h.zeros) return h;  // nothing but zeros (or nothing)
  h.min = low;
  h.max = high;
  h.counts.assign(std::max(bins, 1u), 0);
  const double width = (double(high) - low) / h.counts.size();
  for (float v : values) {
    if (!std::isfinite(v) || v == 0.0f) continue;
    size_t bin = width > 0 ? static_cast<size_t>((double(v) - low) / width) : 0;
    ++h.counts[std::min(bin, h.counts.size() - 1)];
  }
  return h;
}

void TrainingSession::Worker::SetInside(const InsideRequest& request) {
  inside_request = request;
  if (request.enabled() && trainer) SendSnapshot(true);
}

bool TrainingSession::Worker::EnsureInsideProbes() {
  if (sample_probe && batch_probe) return true;
  if (inside_failed || !trainer) return false;
  try {
    const data::Dataset& set = ProbeSet();
    TrainConfig config = setup.config;
    config.steps_per_submit = 1;
    config.optimizer = kernels::OptimizerKind::kSgd;  // no optimizer state to allocate
    config.batch_size = 1;
    sample_probe = std::make_unique<Trainer>(context, pipelines, setup.model, config, nullptr, nullptr);
    std::vector<uint32_t> first(std::min<size_t>(kProbeBatch, set.count()));
    std::iota(first.begin(), first.end(), 0u);
    probe_batch = data::Subset(set, first);
    config.batch_size = static_cast<uint32_t>(first.size());
    batch_probe = std::make_unique<Trainer>(context, pipelines, setup.model, config, nullptr, nullptr);
    return true;
  } catch (const std::exception& e) {
    sample_probe.reset();
    batch_probe.reset();
    inside_failed = true;
    ReportError(std::string("The inside views are off: ") + e.what());
    return false;
  }
}

std::shared_ptr<const InsideSnapshot> TrainingSession::Worker::ComputeInside(const std::vector<float>& parameters) {
  const auto start = Clock::now();
  if (!EnsureInsideProbes()) return nullptr;
  const std::vector<float> statistics = trainer->plan().ReadStatistics();
  const data::Dataset& set = ProbeSet();
  auto inside = std::make_shared<InsideSnapshot>();
  inside->global_step = trainer->position().global_step;

  inside->probe_set_samples = set.count();
  inside->sample = std::min<uint64_t>(inside_request.sample, set.count() - 1);
  if (inside_request.sample_pass) ComputeSamplePass(*inside, parameters, statistics);
  if (inside_request.batch_statistics) ComputeBatchStatistics(*inside, parameters, statistics);
  inside->seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return inside;
}

void TrainingSession::Worker::ComputeSamplePass(InsideSnapshot& inside, const std::vector<float>& parameters,
                                                const std::vector<float>& statistics) {
  // The chosen sample alone: its prediction and every image-shaped layer output.
  const ModelDesc& model = setup.model;
  const std::vector<LayerShape> shapes = InferShapes(model);
  const uint32_t index = static_cast<uint32_t>(inside.sample);
  const data::Dataset one = data::Subset(ProbeSet(), std::span<const uint32_t>(&index, 1));
  inside.sample_label = one.labels[0];
  SyncProbe(*sample_probe, parameters, statistics);
  inside.sample_outputs = sample_probe->PredictOnce(one);
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const std::vector<uint32_t>& shape = shapes[i].output;
    if (!HasOwnOutput(model.layers[i].kind) || shape.size() != 3 || shape[1] * shape[2] <= 1) continue;
    InsideSnapshot::FeatureMap map;
    map.name = model.layers[i].name;
    map.type = model.layers[i].TypeName();
    map.layer = i;
    map.channels = shape[0];
    map.height = shape[1];
    map.width = shape[2];
    map.values = sample_probe->plan().ReadLayerOutput(i);
    inside.feature_maps.push_back(std::move(map));
  }
}

void TrainingSession::Worker::ComputeBatchStatistics(InsideSnapshot& inside, const std::vector<float>& parameters,
                                                     const std::vector<float>& statistics) {
  // The probe batch: per-layer histograms and dead units.
  const ModelDesc& model = setup.model;
  const std::vector<LayerShape> shapes = InferShapes(model);
  SyncProbe(*batch_probe, parameters, statistics);
  batch_probe->Predict(probe_batch);
  inside.probe_batch = static_cast<uint32_t>(probe_batch.count());
  // Parameter gradients of the last training step, packed in parameters() order.
  const std::vector<float> gradients = trainer->plan().ReadGradients();
  std::vector<std::pair<const ParameterTensor*, uint64_t>> weights(model.layers.size(), {nullptr, 0});
  uint64_t packed = 0;
  for (const ParameterTensor& tensor : trainer->plan().parameters()) {
    if (tensor.name == model.layers[tensor.layer].name + ".weight") weights[tensor.layer] = {&tensor, packed};
    packed += tensor.count;
  }
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const LayerDesc& layer = model.layers[i];
    if (!HasOwnOutput(layer.kind)) continue;
    InsideSnapshot::LayerStatistics stats;
    stats.name = layer.name;
    stats.type = layer.TypeName();
    stats.layer = i;
    stats.shape = shapes[i].output;
    const std::vector<float> values = batch_probe->plan().ReadLayerOutput(i);
    stats.activations = MakeHistogram(values, kHistogramBins);
    stats.relu = layer.kind == LayerKind::kActivation && layer.activation == kernels::Activation::kRelu;
    if (stats.relu) {
      const uint64_t features = ShapeElements(stats.shape);
      stats.units = static_cast<uint32_t>(stats.shape.size() == 3 ? stats.shape[0] : features);
      std::vector<char> alive(stats.units, 0);
      for (size_t j = 0; j < values.size(); ++j)
        if (values[j] != 0.0f) alive[(j % features) % stats.units] = 1;
      stats.dead_units = static_cast<uint32_t>(std::count(alive.begin(), alive.end(), 0));
    }
    if (const auto& [tensor, offset] = weights[i]; tensor) {
      stats.gradient_of = tensor->name;
      stats.weight_gradients =
          MakeHistogram(std::span<const float>(gradients).subspan(offset, tensor->count), kHistogramBins);
    }
    inside.layers.push_back(std::move(stats));
  }
}

void TrainingSession::Worker::PredictInput(const std::shared_ptr<const data::Dataset>& samples, uint64_t request) {
  auto answer = std::make_shared<InputPrediction>();
  answer->request = request;
  if (!trainer) {
    answer->error = "Load a model and its data first.";
  } else if (!samples || samples->count() == 0) {
    answer->error = "Nothing to predict.";
  } else if (EnsureInsideProbes()) {
    try {
      SyncProbe(*sample_probe, trainer->plan().ReadParameters(), trainer->plan().ReadStatistics());
      answer->global_step = trainer->position().global_step;
      answer->outputs = sample_probe->PredictOnce(*samples);
    } catch (const DivergenceError&) {
      throw;
    } catch (const Error& e) {
      answer->error = e.what();  // e.g. an input of the wrong shape: the answer says so, no notice
    }
  } else {
    answer->error = "The network could not be compiled for single samples.";
  }
  SessionEvent event = Event(SessionEvent::Kind::kPrediction);
  event.prediction = std::move(answer);
  Emit(std::move(event));
}

}  // namespace ts::nn
