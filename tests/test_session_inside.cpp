// TrainingSession's inside views: feature maps, filters, histograms and
// dead units of a sample and a probe batch that match forward passes on the
// CPU, predictions for a drawn input, the most confident mistakes, their
// cost, and the canvas preprocessing that feeds a drawing to the model.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>

#include "compute/data/registry.h"
#include "compute/nn/presets.h"
#include "compute/nn/session.h"
#include "support/session_support.h"
#include "support/test_data.h"
#include "support/vulkan_test.h"
#include "ui/widgets/drawing_canvas.h"

namespace ts {
namespace {

using testing::EventLog;
using testing::VulkanTest;
using Kind = nn::SessionEvent::Kind;
using State = nn::SessionState;

#define EXPECT_CONTAINS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

nn::ModelDesc Model(const std::string& layers) { return testing::TestModel(layers); }

// ---- The inside views -------------------------------------------------------------------------

// A small CNN on 12x12 shapes: conv2d_1 (4x10x10), relu_1, max_pool2d_1 (4x5x5),
// conv2d_2 (6x3x3), relu_2, flatten, dense_1 (8), relu_3, dense_2 (3), softmax.
// 192 training images (12 batches of 16), 40 test images.
nn::SessionSetup ShapesSetup(uint32_t epochs) {
  data::DataSplit split = data::LoadDataSpec("shapes:samples=192,classes=3,size=12,test_samples=40");
  nn::SessionSetup setup;
  setup.model = Model(R"({"type": "input", "shape": [1, 12, 12]}, {"type": "conv2d", "filters": 4, "kernel": 3},
    {"type": "relu"}, {"type": "max_pool2d", "size": 2}, {"type": "conv2d", "filters": 6, "kernel": 3},
    {"type": "relu"}, {"type": "flatten"}, {"type": "dense", "units": 8}, {"type": "relu"},
    {"type": "dense", "units": 3}, {"type": "softmax"})");
  setup.config.optimizer = kernels::OptimizerKind::kAdam;
  setup.config.learning_rate = 0.01;
  setup.config.batch_size = 16;
  setup.config.epochs = epochs;
  setup.config.steps_per_submit = 4;
  setup.train = std::make_shared<const data::Dataset>(std::move(split.train));
  setup.test = std::make_shared<const data::Dataset>(std::move(split.test));
  return setup;
}

// A trainer that only evaluates, with `parameters`, at `batch` samples.
std::unique_ptr<nn::Trainer> Reference(vk::Context& context, vk::PipelineCache& pipelines, const nn::SessionSetup& setup,
                                       uint32_t batch, const std::vector<float>& parameters) {
  nn::TrainConfig config = setup.config;
  config.batch_size = batch;
  auto trainer = std::make_unique<nn::Trainer>(context, pipelines, setup.model, config, nullptr, nullptr);
  trainer->plan().WriteParameters(parameters);
  return trainer;
}

std::shared_ptr<const nn::Snapshot> WaitForInside(EventLog& log, uint64_t step, uint64_t sample) {
  auto event = log.WaitFor([&](const nn::SessionEvent& e) {
    return e.kind == Kind::kSnapshot && e.snapshot->inside && e.snapshot->inside->global_step == step &&
           e.snapshot->inside->sample == sample;
  });
  return event ? event->snapshot : nullptr;
}

TEST(SessionHistogram, CountsNonZeroValuesInEqualBinsAndZerosApart) {
  const std::vector<float> values = {0, 0, 1, 2, 3, 4, NAN, -1};
  nn::Histogram h = nn::MakeHistogram(values, 5);
  EXPECT_EQ(h.total, 8u);
  EXPECT_EQ(h.zeros, 2u);
  EXPECT_EQ(h.min, -1.0f);
  EXPECT_EQ(h.max, 4.0f);
  EXPECT_EQ(h.counts, (std::vector<uint32_t>{1, 0, 1, 1, 2}));  // bins of width 1 from -1; 4 joins the last
  EXPECT_NEAR(h.mean, 9.0 / 7.0, 1e-12);                         // over the 7 finite values
  nn::Histogram zeros = nn::MakeHistogram(std::vector<float>(10, 0.0f), 5);
  EXPECT_TRUE(zeros.counts.empty());
  EXPECT_EQ(zeros.zeros, 10u);
  EXPECT_EQ(nn::MakeHistogram(std::vector<float>{}, 5).total, 0u);
  nn::Histogram one = nn::MakeHistogram(std::vector<float>{2.5f, 2.5f}, 3);  // a zero-width range: one bin takes all
  EXPECT_EQ(one.counts, (std::vector<uint32_t>{2, 0, 0}));
}

// The feature maps and prediction of the chosen sample are exactly a forward
// pass of that sample alone; the histograms count every value of the probe
// batch; the dead units and weight gradients match a reference run.
TEST_F(VulkanTest, SessionInsideViewsMatchForwardPassesOfTheSampleAndTheProbeBatch) {
  nn::SessionSetup setup = ShapesSetup(1000);
  const data::Dataset& test = *setup.test;
  nn::TrainingSession session(context(), pipelines());
  EventLog log(session);
  session.SetInsideViews({true, true, 7});
  session.Load(setup);
  session.Step();
  session.Step();
  auto snapshot = WaitForInside(log, 2, 7);
  ASSERT_TRUE(snapshot);
  const nn::InsideSnapshot& inside = *snapshot->inside;
  std::printf("inside views of a small CNN: %.1f ms\n", inside.seconds * 1e3);
  EXPECT_EQ(inside.probe_set_samples, test.count());
  EXPECT_EQ(inside.sample_label, test.labels[7]);

  // The sample alone, through a batch-1 reference with the snapshot's parameters.
  auto single = Reference(context(), pipelines(), setup, 1, snapshot->parameters);
  const uint32_t index = 7;
  std::vector<float> expected = single->Predict(data::Subset(test, std::span<const uint32_t>(&index, 1)));
  ASSERT_EQ(inside.sample_outputs.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(inside.sample_outputs[i], expected[i], 1e-6);
  struct Expected { const char* name; size_t layer; uint32_t c, h, w; };
  const std::vector<Expected> maps = {{"conv2d_1", 1, 4, 10, 10}, {"relu_1", 2, 4, 10, 10},
                                      {"max_pool2d_1", 3, 4, 5, 5},  {"conv2d_2", 4, 6, 3, 3},
                                      {"relu_2", 5, 6, 3, 3}};
  ASSERT_EQ(inside.feature_maps.size(), maps.size());
  for (size_t m = 0; m < maps.size(); ++m) {
    const nn::InsideSnapshot::FeatureMap& map = inside.feature_maps[m];
    EXPECT_EQ(map.name, maps[m].name);
    EXPECT_EQ(map.layer, maps[m].layer);
    EXPECT_EQ(std::vector<uint32_t>({map.channels, map.height, map.width}),
              std::vector<uint32_t>({maps[m].c, maps[m].h, maps[m].w}));
    std::vector<float> reference = single->plan().ReadLayerOutput(map.layer);
    ASSERT_EQ(map.values.size(), size_t(maps[m].c) * maps[m].h * maps[m].w);
    ASSERT_EQ(map.values.size(), reference.size());
    for (size_t j = 0; j < reference.size(); ++j) EXPECT_NEAR(map.values[j], reference[j], 1e-5) << map.name << " " << j;
  }
  for (size_t j = 0; j < inside.feature_maps[0].values.size(); ++j)  // relu_1 = max(0, conv2d_1)
    EXPECT_EQ(inside.feature_maps[1].values[j], std::max(0.0f, inside.feature_maps[0].values[j]));

  // The probe batch: the first 32 test images; every value counted once.
  ASSERT_EQ(inside.probe_batch, 32u);
  std::vector<uint32_t> first(32);
  std::iota(first.begin(), first.end(), 0u);
  auto batch = Reference(context(), pipelines(), setup, 32, snapshot->parameters);
  batch->Predict(data::Subset(test, first));
  const std::vector<std::string> names = {"conv2d_1", "relu_1", "max_pool2d_1", "conv2d_2",
                                          "relu_2",   "dense_1", "relu_3",      "dense_2"};
  ASSERT_EQ(inside.layers.size(), names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    const auto& layer = inside.layers[i];
    EXPECT_EQ(layer.name, names[i]);
    const uint64_t values = 32 * nn::ShapeElements(layer.shape);
    const nn::Histogram& a = layer.activations;
    EXPECT_EQ(a.total, values) << layer.name;
    EXPECT_EQ(a.zeros + std::accumulate(a.counts.begin(), a.counts.end(), uint64_t{0}), values) << layer.name;
    std::vector<float> outputs = batch->plan().ReadLayerOutput(layer.layer);
    nn::Histogram reference = nn::MakeHistogram(outputs, static_cast<uint32_t>(a.counts.size()));
    EXPECT_EQ(a.counts, reference.counts) << layer.name;
    EXPECT_EQ(layer.relu, layer.type == "relu");
    if (layer.relu) {
      // Dead: zero for all 32 samples; per channel for image outputs, per neuron for vectors.
      const uint64_t features = nn::ShapeElements(layer.shape);
      const uint32_t units = layer.shape.size() == 3 ? layer.shape[0] : static_cast<uint32_t>(features);
      EXPECT_EQ(layer.units, units);
      uint32_t dead = 0;
      for (uint32_t u = 0; u < units; ++u) {
        bool alive = false;
        for (size_t j = u; j < outputs.size(); j += units) alive |= outputs[j] != 0.0f;
        dead += !alive;
      }
      EXPECT_EQ(layer.dead_units, dead) << layer.name;
    }
    const bool weighted = layer.type == "conv2d" || layer.type == "dense";
    EXPECT_EQ(layer.gradient_of, weighted ? layer.name + ".weight" : "");
  }

  // Weight gradients: those of the second training step, as a Trainer doing the same two steps has them.
  nn::Trainer twin(context(), pipelines(), setup.model, setup.config, setup.train.get(), nullptr);
  twin.RunSteps(1, [](const nn::StepReport&) {});
  twin.RunSteps(1, [](const nn::StepReport&) {});
  ASSERT_EQ(twin.plan().ReadParameters(), snapshot->parameters);
  const std::vector<float> gradients = twin.plan().ReadGradients();
  uint64_t offset = 0;
  size_t checked = 0;
  for (const nn::ParameterTensor& tensor : twin.plan().parameters()) {
    for (const auto& layer : inside.layers)
      if (layer.gradient_of == tensor.name) {
        nn::Histogram reference = nn::MakeHistogram(
            std::span<const float>(gradients).subspan(offset, tensor.count), 40);
        EXPECT_EQ(layer.weight_gradients.counts, reference.counts) << tensor.name;
        EXPECT_EQ(layer.weight_gradients.total, tensor.count);
        EXPECT_EQ(layer.weight_gradients.min, reference.min);
        ++checked;
      }
    offset += tensor.count;
  }
  EXPECT_EQ(checked, 4u);

  // Another sample while paused: a snapshot for it arrives without training.
  session.SetInsideViews({true, true, 3});
  auto other = WaitForInside(log, 2, 3);
  ASSERT_TRUE(other);
  EXPECT_EQ(other->inside->sample_label, test.labels[3]);
  // A sample past the end is clamped to the last one.
  session.SetInsideViews({true, true, 1000});
  ASSERT_TRUE(WaitForInside(log, 2, test.count() - 1));
  // Each view asks only for the pass it shows.
  session.SetInsideViews({true, false, 2});
  auto sample_only = WaitForInside(log, 2, 2);
  ASSERT_TRUE(sample_only);
  EXPECT_EQ(sample_only->inside->feature_maps.size(), maps.size());
  EXPECT_TRUE(sample_only->inside->layers.empty());
  session.SetInsideViews({false, true, 2});
  auto statistics_only = log.WaitFor([](const nn::SessionEvent& e) {
    return e.kind == Kind::kSnapshot && e.snapshot->inside && !e.snapshot->inside->layers.empty();
  });
  ASSERT_TRUE(statistics_only);
  EXPECT_TRUE(statistics_only->snapshot->inside->feature_maps.empty());
  EXPECT_TRUE(statistics_only->snapshot->inside->sample_outputs.empty());
  // Off: no more probe passes.
  session.SetInsideViews({false, false, 3});
  session.Step();
  auto off = log.WaitFor([](const nn::SessionEvent& e) { return e.kind == Kind::kSnapshot && e.snapshot->global_step == 3; });
  ASSERT_TRUE(off);
  EXPECT_FALSE(off->snapshot->inside);
  EXPECT_TRUE(log.Errors().empty());
}

// A drawing sent to the session gets the answer Trainer::Predict gives for the same input.
TEST_F(VulkanTest, SessionPredictInputMatchesPredictOnTheSameInput) {
  nn::SessionSetup setup = ShapesSetup(1000);
  nn::TrainingSession session(context(), pipelines());
  EventLog log(session);
  session.PredictInput(nullptr, 1);  // nothing loaded: an answer that says so, not a notice
  auto early = log.WaitForKind(Kind::kPrediction);
  ASSERT_TRUE(early);
  EXPECT_CONTAINS(early->prediction->error, "Load");
  session.Load(setup);
  for (int i = 0; i < 3; ++i) session.Step();
  auto stepped = log.WaitFor([](const nn::SessionEvent& e) { return e.kind == Kind::kSnapshot && e.snapshot->global_step == 3; });
  ASSERT_TRUE(stepped);

  // Two drawings, as the canvas makes them: bytes, normalised with the data's scale and offset.
  auto rng = testing::MakeRng();
  auto input = std::make_shared<data::Dataset>();
  input->name = "drawing";
  input->sample_shape = {1, 12, 12};
  input->num_classes = 3;
  input->format = data::FeatureFormat::kUint8;
  input->scale = setup.test->scale;
  input->offset = setup.test->offset;
  for (float v : testing::RandomFloats(rng, 2 * 144, 0.0f, 255.0f)) input->features_u8.push_back(static_cast<uint8_t>(v));
  input->labels = {0, 0};
  session.PredictInput(input, 42);
  auto answer = log.WaitForKind(Kind::kPrediction);
  ASSERT_TRUE(answer);
  const nn::InputPrediction& prediction = *answer->prediction;
  EXPECT_EQ(prediction.request, 42u);
  EXPECT_EQ(prediction.global_step, 3u);
  EXPECT_TRUE(prediction.error.empty()) << prediction.error;
  auto reference = Reference(context(), pipelines(), setup, 5, stepped->snapshot->parameters);  // another batch size: same answer
  std::vector<float> expected = reference->Predict(*input);
  ASSERT_EQ(prediction.outputs.size(), expected.size());
  ASSERT_EQ(expected.size(), 6u);
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(prediction.outputs[i], expected[i], 1e-5) << i;

  // An input of the wrong shape: the answer carries the reason; the session is undisturbed.
  auto wrong = std::make_shared<data::Dataset>(*input);
  wrong->sample_shape = {1, 12, 11};
  wrong->features_u8.resize(2 * 132);
  session.PredictInput(wrong, 43);
  auto refused = log.WaitForKind(Kind::kPrediction);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->prediction->request, 43u);
  EXPECT_CONTAINS(refused->prediction->error, "takes inputs of shape 1x12x12");
  EXPECT_TRUE(refused->prediction->outputs.empty());

  // While training, a burst of requests: answers come in order and the newest is always answered.
  session.Start();
  for (uint64_t request = 100; request < 110; ++request) session.PredictInput(input, request);
  auto last = log.WaitFor([](const nn::SessionEvent& e) { return e.kind == Kind::kPrediction && e.prediction->request == 109; });
  ASSERT_TRUE(last);
  uint64_t previous = 0;
  for (const nn::SessionEvent& e : log.events())
    if (e.kind == Kind::kPrediction && e.prediction->request >= 100) {
      EXPECT_GT(e.prediction->request, previous);
      previous = e.prediction->request;
    }
  EXPECT_TRUE(log.Errors().empty());
}

// After each epoch: the test images answered wrong most confidently, as Predict on
// the same parameters ranks them.
TEST_F(VulkanTest, SessionEpochListsTheMostConfidentMistakes) {
  nn::SessionSetup setup = ShapesSetup(1);
  setup.config.learning_rate = 0.003;  // one epoch leaves mistakes to list
  nn::TrainingSession session(context(), pipelines());
  EventLog log(session);
  session.Load(setup);
  session.Start();
  auto epoch = log.WaitForKind(Kind::kEpoch);
  ASSERT_TRUE(epoch);
  ASSERT_TRUE(log.WaitForState(State::kFinished));
  auto final_snapshot = log.WaitForKind(Kind::kSnapshot);
  ASSERT_TRUE(final_snapshot);
  ASSERT_TRUE(epoch->test);
  const nn::EvalResult& result = *epoch->test;
  uint64_t wrong = result.samples;
  for (uint32_t c = 0; c < result.classes; ++c) wrong -= result.confusion[size_t(c) * result.classes + c];
  const std::vector<nn::SamplePrediction>& mistakes = epoch->test_mistakes;
  std::printf("test accuracy after one epoch %.3f: %llu wrong, %zu listed\n", result.accuracy,
              static_cast<unsigned long long>(wrong), mistakes.size());
  ASSERT_GT(wrong, 0u);
  EXPECT_EQ(mistakes.size(), std::min<uint64_t>(wrong, nn::SessionEvent::kMistakesShown));

  auto reference = Reference(context(), pipelines(), setup, 16, final_snapshot->snapshot->parameters);
  std::vector<float> outputs = reference->Predict(*setup.test);
  std::vector<nn::SamplePrediction> expected;
  for (uint64_t i = 0; i < setup.test->count(); ++i) {
    const float* p = outputs.data() + i * 3;
    uint32_t predicted = static_cast<uint32_t>(std::max_element(p, p + 3) - p);
    if (predicted != setup.test->labels[i]) expected.push_back({i, setup.test->labels[i], predicted, p[predicted]});
  }
  std::sort(expected.begin(), expected.end(), [](const auto& a, const auto& b) { return a.confidence > b.confidence; });
  for (size_t i = 0; i < mistakes.size(); ++i) {
    EXPECT_NE(mistakes[i].predicted, mistakes[i].label);
    if (i > 0) {
      EXPECT_GE(mistakes[i - 1].confidence, mistakes[i].confidence);
    }
    EXPECT_EQ(mistakes[i].index, expected[i].index) << i;
    EXPECT_EQ(mistakes[i].predicted, expected[i].predicted) << i;
    EXPECT_NEAR(mistakes[i].confidence, expected[i].confidence, 1e-5) << i;
  }
}

// What the inside views cost on the shapes-cnn preset while it trains: the
// probe passes run about once a second, so they should stay a small share of it.
TEST_F(VulkanTest, SessionInsideViewsCostOfShapesCnn) {
  nn::SessionSetup setup;
  setup.model = nn::LoadModelOrPreset("shapes-cnn");
  setup.config = nn::ParseTrainConfig(setup.model.training, "shapes-cnn");
  setup.config.batch_size = 32;
  setup.config.epochs = 1000;
  data::DataSplit split = data::LoadDataSpec("shapes:samples=512,test_samples=128");
  setup.train = std::make_shared<const data::Dataset>(std::move(split.train));
  setup.test = std::make_shared<const data::Dataset>(std::move(split.test));
  nn::TrainingSession session(context(), pipelines());
  EventLog log(session);
  session.Load(setup);
  session.Step();
  ASSERT_TRUE(log.WaitFor([](const nn::SessionEvent& e) { return e.kind == Kind::kSnapshot && e.snapshot->global_step == 1; }));
  // Each pass on its own, then both; the first request builds the probes.
  session.SetInsideViews({true, true, 0});
  ASSERT_TRUE(WaitForInside(log, 1, 0));
  auto median_ms = [&](bool sample_pass, bool batch_statistics) {
    std::vector<double> costs;
    for (uint64_t sample = 1; sample <= 5; ++sample) {
      session.SetInsideViews({sample_pass, batch_statistics, sample});
      auto snapshot = WaitForInside(log, 1, sample);
      if (!snapshot) return -1.0;
      costs.push_back(snapshot->inside->seconds * 1e3);
    }
    std::sort(costs.begin(), costs.end());
    return costs[costs.size() / 2];
  };
  const double sample_ms = median_ms(true, false), batch_ms = median_ms(false, true), both_ms = median_ms(true, true);
  std::printf("inside views of shapes-cnn, median: the sample alone %.1f ms, the probe batch of 32 %.1f ms, both %.1f ms\n",
              sample_ms, batch_ms, both_ms);
  RecordProperty("inside_sample_ms", std::to_string(sample_ms));
  RecordProperty("inside_batch_ms", std::to_string(batch_ms));
  ASSERT_GT(both_ms, 0.0);
  EXPECT_LT(both_ms, 1000.0);
}

// The canvas's preprocessing: MNIST's 20 x 20 box and centre of mass.
TEST(CanvasPreprocessing, FitsTheInkInATwentyPixelBoxCentredByMass) {
  ui::DrawingCanvas canvas;
  EXPECT_TRUE(canvas.empty());
  EXPECT_EQ(ui::CanvasToImage(canvas, 28, 28, true), std::vector<uint8_t>(784, 0));
  // A tall stroke in the top-left corner of the canvas.
  canvas.PaintSegment(ImVec2(15, 10), ImVec2(15, 60));
  EXPECT_FALSE(canvas.empty());
  std::vector<uint8_t> image = ui::CanvasToImage(canvas, 28, 28, true);
  int top = 28, bottom = -1, left = 28, right = -1;
  double mass = 0, mass_x = 0, mass_y = 0;
  for (int y = 0; y < 28; ++y)
    for (int x = 0; x < 28; ++x)
      if (uint8_t v = image[y * 28 + x]; v > 0) {
        top = std::min(top, y), bottom = std::max(bottom, y), left = std::min(left, x), right = std::max(right, x);
        mass += v, mass_x += v * (x + 0.5), mass_y += v * (y + 0.5);
      }
  EXPECT_EQ(bottom - top + 1, 20);  // the longer side fills the box
  EXPECT_LT(right - left + 1, 8);   // the aspect is kept
  EXPECT_NEAR(mass_x / mass, 14.0, 0.75);
  EXPECT_NEAR(mass_y / mass, 14.0, 0.75);
  EXPECT_EQ(*std::max_element(image.begin(), image.end()), 255);
  // Without centring, the stroke stays where it was drawn (left quarter, upper half).
  std::vector<uint8_t> plain = ui::CanvasToImage(canvas, 28, 28, false);
  for (int y = 0; y < 28; ++y)
    for (int x = 0; x < 28; ++x)
      if (plain[y * 28 + x] > 0) {
        EXPECT_TRUE(x < 7 && y < 19) << x << "," << y;
      }
  canvas.Clear();
  EXPECT_TRUE(canvas.empty());
}

}  // namespace
}  // namespace ts
