#include "support/session_support.h"

#include <memory>
#include <utility>

#include "compute/data/registry.h"

namespace ts::testing {

nn::SessionSetup SpiralSessionSetup(const nn::ModelDesc& model, uint32_t epochs, bool held_out) {
  data::DataSplit split = data::LoadDataSpec("spiral:samples=300");
  nn::SessionSetup setup;
  setup.model = model;
  setup.config.optimizer = kernels::OptimizerKind::kAdam;
  setup.config.learning_rate = 0.01;
  setup.config.batch_size = 16;
  setup.config.epochs = epochs;
  setup.config.steps_per_submit = 4;
  if (held_out) {
    auto [train, validation] = data::SplitValidation(split.train, 0.2, 1);
    setup.train = std::make_shared<const data::Dataset>(std::move(train));
    setup.validation = std::make_shared<const data::Dataset>(std::move(validation));
    setup.test = std::make_shared<const data::Dataset>(std::move(split.test));
  } else {
    setup.train = std::make_shared<const data::Dataset>(std::move(split.train));
  }
  setup.boundary_resolution = 16;
  return setup;
}

}  // namespace ts::testing
