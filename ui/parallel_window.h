// "Parallelism..." in the Training panel: the current model trained data
// parallel with 1, 2, .. N replicas (`tensorscope bench --replicas N --json`,
// run as a child process so the window and its training worker keep their
// device), shown as a scaling chart (measured samples/s, the ideal and the
// compute / N + bytes / link model) and a Gantt chart of one step per replica
// (forward, each backward segment, each bucket's all-reduce, the update),
// labelled "simulated on one device" when the replicas share one.
#pragma once

#include "ui/app_state.h"

namespace ts::ui {

// The button (call inside the Training panel) and, while open, the window.
void DrawParallelButton(AppState& state);
void DrawParallelWindow(AppState& state);

}  // namespace ts::ui
