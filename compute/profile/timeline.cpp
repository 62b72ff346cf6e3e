#include "compute/profile/timeline.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "compute/common/error.h"
#include "compute/nn/model.h"

namespace ts::profile {
namespace {

constexpr int kProcessId = 1;
constexpr int kHostThread = 1, kDeviceThread = 2;

nlohmann::json ThreadName(int thread, const char* name) {
  return {{"name", "thread_name"}, {"ph", "M"}, {"pid", kProcessId}, {"tid", thread}, {"args", {{"name", name}}}};
}

}  // namespace

double StepTimeline::duration_ns() const {
  double end = 0;
  for (const TimelineEvent& event : events) end = std::max(end, event.end_ns);
  return end;
}

double StepTimeline::device_busy_ns() const {
  double busy = 0;
  for (const TimelineEvent& event : events)
    if (event.category == "dispatch") busy += event.end_ns - event.start_ns;
  return busy;
}

std::string ChromeTraceJson(const StepTimeline& timeline) {
  nlohmann::json events = nlohmann::json::array();
  events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", kProcessId}, {"args", {{"name", "Tensorscope"}}}});
  events.push_back(ThreadName(kHostThread, "host"));
  events.push_back(ThreadName(kDeviceThread, timeline.clocks_calibrated ? "device" : "device (aligned at submit)"));
  for (const TimelineEvent& event : timeline.events) {
    // Trace-event times are microseconds; fractions keep the nanoseconds.
    events.push_back({{"name", event.name},
                      {"cat", event.category},
                      {"ph", "X"},
                      {"ts", event.start_ns / 1e3},
                      {"dur", std::max(0.0, event.end_ns - event.start_ns) / 1e3},
                      {"pid", kProcessId},
                      {"tid", event.lane == Lane::kHost ? kHostThread : kDeviceThread},
                      {"args", {{"category", event.category}, {"dispatch", event.dispatch}, {"step", event.step}}}});
  }
  nlohmann::json trace = {{"traceEvents", std::move(events)},
                          {"displayTimeUnit", "ns"},
                          {"otherData",
                           {{"first_global_step", timeline.first_global_step},
                            {"steps", timeline.steps},
                            {"clocks_calibrated", timeline.clocks_calibrated}}}};
  return trace.dump();
}

void WriteChromeTrace(const std::filesystem::path& path, const StepTimeline& timeline) {
  // nn::WriteFileAtomically writes a temporary file beside `path` and renames
  // it; its errors name the path.
  try {
    nn::WriteFileAtomically(path.string(), ChromeTraceJson(timeline));
  } catch (const Error& error) {
    throw Error(std::string("Cannot write the trace: ") + error.what());
  }
}

}  // namespace ts::profile
