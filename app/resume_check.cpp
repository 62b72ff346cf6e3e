#include "app/resume_check.h"

#include <cstdio>

namespace ts::app {
namespace {

std::string Number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

std::string ScheduleText(const nn::Schedule& s) {
  const char* kinds[] = {"constant", "step", "cosine"};
  std::string text = kinds[static_cast<int>(s.kind)];
  if (s.kind == nn::ScheduleKind::kStep) text += " (every " + Number(s.step_epochs) + " epochs, x" + Number(s.gamma) + ")";
  if (s.kind == nn::ScheduleKind::kCosine) text += " (down to " + Number(s.min_learning_rate) + ")";
  if (s.warmup_epochs > 0) text += " with " + Number(s.warmup_epochs) + " warm-up epochs";
  return text;
}

}  // namespace

std::vector<std::string> ResumeDifferences(const nn::TrainConfig& used, const nn::TrainConfig& trained) {
  std::vector<std::string> said;
  auto differ = [&](const std::string& what, const std::string& now, const std::string& before, const std::string& more = "") {
    if (now != before)
      said.push_back(what + ": the checkpoint was trained with " + before + "; this run uses " + now + more + ".");
  };
  differ("optimizer", kernels::OptimizerName(used.optimizer), kernels::OptimizerName(trained.optimizer));
  differ("learning rate", Number(used.learning_rate), Number(trained.learning_rate));
  differ("batch size", std::to_string(used.batch_size), std::to_string(trained.batch_size),
         " (the epoch goes on from the first sample not yet trained on)");
  // More epochs is how a run goes on; it changes what was trained only where the schedule spans the run.
  if (used.schedule.kind == nn::ScheduleKind::kCosine)
    differ("epochs", std::to_string(used.epochs), std::to_string(trained.epochs),
           " (the cosine schedule spans all epochs, so the learning rate from here on follows the other curve and "
           "jumps at the resume point)");
  differ("LR schedule", ScheduleText(used.schedule), ScheduleText(trained.schedule));
  differ("weight decay", Number(used.hyper.weight_decay), Number(trained.hyper.weight_decay));
  differ("momentum", Number(used.hyper.momentum), Number(trained.hyper.momentum));
  differ("seed", std::to_string(used.seed), std::to_string(trained.seed),
         " (another sample order and validation split: validation samples may have been trained on)");
  differ("validation fraction", Number(used.validation_fraction), Number(trained.validation_fraction),
         " (another validation split: validation samples may have been trained on)");
  return said;
}

}  // namespace ts::app
