// The "GPU insight" window, opened from the GPU panel: where a training
// step's GPU time goes and why, in eight tabs:
//   Kernels    the live, sortable per-kernel table (profile::KernelRow); a row
//              selects its layer (shared with the Model panel and diagram);
//   Bandwidth  achieved GB/s per step, stacked by kernel family, against the
//              measured peak;
//   Roofline   log-log, the measured bandwidth slope and compute ceiling, a dot
//              per kernel (area = share of the step);
//   Timeline   a Gantt chart of one profiled submission (host and device
//              lanes), exportable as a Chrome / Perfetto trace;
//   Memory     device memory by category against the heap and the driver's
//              budget, and the plan's memory against the batch size;
//   Occupancy  theoretical occupancy per kernel with what-if sliders, "Try
//              it" experiments, and achieved occupancy from a workgroup trace;
//   Device     the device's facts, limits, memory and extensions;
//   Ceilings   the measured ceilings, their formulas, and Re-measure.
// Nothing here waits for the GPU: profiles, traces, ceilings and experiments
// are asked of the session and arrive as events (ui/controller.cpp).
#pragma once

#include "imgui.h"
#include "ui/app_state.h"

namespace ts::ui {

// Draws the window when state.insight.open (its close button clears it), and
// asks the session for a profile about once a second while it is open.
void DrawInsightPanel(AppState& state);

// The colour of a pass (forward, backward, update, ...), shared by the
// timeline and the roofline.
ImU32 PassColor(nn::Pass pass);

}  // namespace ts::ui
