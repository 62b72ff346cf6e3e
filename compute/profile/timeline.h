// The step timeline: where the time of one submission of training steps went,
// on the host (writing step parameters, submitting, waiting, reading results,
// the gap before the next submission) and on the device (each dispatch and
// the barrier before it), on one clock, for the Gantt chart and for export
// as a Chrome / Perfetto trace.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace ts::profile {

enum class Lane { kHost, kDevice };

struct TimelineEvent {
  std::string name;      // e.g. "dense_1 forward: Z = X W", "submit", "wait for the GPU"
  // "dispatch", "barrier", "upload", "readback", "host", "gap"
  std::string category;
  Lane lane = Lane::kDevice;
  double start_ns = 0, end_ns = 0;  // from the start of the timeline
  int dispatch = -1;                // index into the step's dispatches (dispatch and barrier events)
  uint32_t step = 0;                // which step of the submission (0-based)
};

struct StepTimeline {
  uint64_t first_global_step = 0;
  uint32_t steps = 0;               // training steps recorded in the submission
  std::vector<TimelineEvent> events;  // sorted by start
  // True when device times were placed on the host clock with
  // VK_EXT_calibrated_timestamps; false when they are aligned at the moment
  // the submission was handed to the driver (an estimate, said so in the UI).
  bool clocks_calibrated = false;
  double duration_ns() const;       // end of the last event
  double device_busy_ns() const;    // sum of dispatch events
};

// The timeline as Chrome trace-event JSON ({"traceEvents": [...]}, complete
// events "ph": "X" in microseconds, one thread per lane, args with the
// category, dispatch and step), which chrome://tracing and ui.perfetto.dev open.
std::string ChromeTraceJson(const StepTimeline& timeline);
// Writes ChromeTraceJson atomically (temp file, then rename). Throws ts::Error
// naming the path when it cannot be written.
void WriteChromeTrace(const std::filesystem::path& path, const StepTimeline& timeline);

}  // namespace ts::profile
