// Metrics CSV... beside the Training panel's curves: the current run's metrics,
// as `train --metrics-csv` writes them (nn::MetricsLog: every step and every
// evaluation, %.9g), saved atomically.
#pragma once

#include <string>

#include "ui/app_state.h"

namespace ts::ui {

// The button and its dialog; call inside the Training panel.
void DrawMetricsCsvButton(AppState& state);

// Writes state.training.metrics to `path`. Throws ts::Error when the run has
// no steps yet, or naming the path when it cannot be written.
void SaveRunMetrics(const AppState& state, const std::string& path);

}  // namespace ts::ui
