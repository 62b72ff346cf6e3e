#include "compute/nn/metrics_log.h"

#include "compute/common/file_write.h"
#include "compute/common/number_text.h"

namespace ts::nn {
namespace {

std::string Number(double value) { return FullPrecision(value); }

}  // namespace

MetricsLog::MetricsLog() : text_("kind,step,epoch,loss,accuracy,learning_rate,samples_per_second,gpu_ms,samples\n") {}

void MetricsLog::AddStep(const StepReport& r, uint32_t batch) {
  double gpu_ns = 0;
  for (double ns : r.dispatch_ns) gpu_ns += ns;
  text_ += "train," + std::to_string(r.global_step + 1) + "," + std::to_string(r.epoch + 1) + "," + Number(r.loss) +
           "," + Number(r.accuracy) + "," + Number(r.learning_rate) + "," +
           (r.wall_seconds > 0 ? Number(batch / r.wall_seconds) : std::string()) + "," +
           (r.dispatch_ns.empty() ? std::string() : Number(gpu_ns / 1e6)) + "," + std::to_string(batch) + "\n";
  ++rows_;
}

void MetricsLog::AddEvaluation(const char* kind, const TrainPosition& position, const EvalResult& result) {
  text_ += std::string(kind) + "," + std::to_string(position.global_step) + "," + std::to_string(position.epoch) +
           "," + Number(result.loss) + "," + Number(result.accuracy) + ",,,," + std::to_string(result.samples) + "\n";
  ++rows_;
}

void MetricsLog::Save(const std::string& path) const { WriteFileAtomically(path, text_); }

}  // namespace ts::nn
