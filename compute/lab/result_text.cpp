// A lesson's result as JSON (`tensorscope lab LESSON --json`) and as a table.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "compute/lab/lab.h"
#include "compute/lab/lab_internal.h"

namespace ts::lab {
namespace {

using nlohmann::json;

const char* AccessName(Access access) {
  switch (access) {
    case Access::kGlobalRead: return "global read";
    case Access::kGlobalWrite: return "global write";
    case Access::kSharedRead: return "shared read";
    case Access::kSharedWrite: return "shared write";
  }
  return "?";
}

json VariantJson(const Variant& v) {
  json out = {{"name", v.name},
              {"what_changed", v.what_changed},
              {"shader", v.shader},
              {"specialization", v.specialization},
              {"grid", {v.grid[0], v.grid[1], v.grid[2]}},
              {"workgroup", {v.workgroup[0], v.workgroup[1], v.workgroup[2]}},
              {"shared_memory_bytes", v.shared_memory_bytes},
              {"flops", v.flops},
              {"bytes", v.bytes},
              {"ms", v.ms},
              {"gflops", v.gflops},
              {"gbs", v.gbs},
              {"judged_against", v.judged_against == Ceiling::kFma ? "fp32_gflops" : "bandwidth_gbs"},
              {"percent_of_ceiling", v.percent_of_ceiling},
              {"speedup_over_previous", v.speedup_over_previous},
              {"check_passed", v.check_passed},
              {"check_message", v.check_message},
              {"figures", v.figures}};
  if (v.bank_conflicts) out["bank_conflicts"] = *v.bank_conflicts;
  return out;
}

json TraceSummaryJson(const AccessTrace& trace) {
  std::map<std::string, uint64_t> by_access;
  for (const AccessRecord& r : trace.records) ++by_access[AccessName(r.access)];
  return {{"workgroups_recorded", trace.workgroups_recorded},
          {"records", trace.records.size()},
          {"capacity", trace.capacity},
          {"wanted", trace.wanted},
          {"overflowed", trace.overflowed()},
          {"by_access", by_access},
          {"buffer_names", trace.buffer_names},
          {"shared_names", trace.shared_names},
          {"step_meaning", trace.step_meaning}};
}

}  // namespace

std::string ResultJson(const LessonResult& result) {
  json variants = json::array(), charts = json::array(), occupancy = json::array();
  for (const Variant& v : result.variants) variants.push_back(VariantJson(v));
  for (const Chart& c : result.charts) {
    json series = json::array();
    for (const Series& s : c.series) series.push_back({{"name", s.name}, {"x", s.x}, {"y", s.y}});
    json chart = {{"title", c.title}, {"x_label", c.x_label}, {"y_label", c.y_label}, {"log_x", c.log_x},
                  {"log_y", c.log_y}, {"series", series}};
    if (c.ceiling) chart["ceiling"] = *c.ceiling;
    charts.push_back(chart);
  }
  for (const OccupancyRow& row : result.occupancy)
    occupancy.push_back({{"device", row.device}, {"modelled", row.modelled},
                         {"workgroups_per_unit", row.workgroups_per_unit}, {"subgroups_per_unit", row.subgroups_per_unit},
                         {"occupancy", row.occupancy}, {"limiter", row.limiter}, {"explanation", row.explanation}});
  json out = {{"lesson", result.lesson},
              {"device", result.device},
              {"shape", result.shape},
              {"settings", result.settings},
              {"ceilings", {{"fp32_gflops", result.ceilings.fp32_gflops}, {"bandwidth_gbs", result.ceilings.bandwidth_gbs}}},
              {"variants", variants},
              {"charts", charts},
              {"notes", result.notes}};
  if (!result.occupancy.empty()) out["occupancy"] = occupancy;
  if (result.trace) {
    out["trace"] = TraceSummaryJson(*result.trace);
    out["trace"]["variant"] = result.traced_variant;
  }
  if (result.grid)
    out["grid"] = {{"width", result.grid->width}, {"height", result.grid->height},
                   {"workgroup", {result.grid->workgroup_x, result.grid->workgroup_y}},
                   {"grid", {result.grid->grid_x, result.grid->grid_y}},
                   {"subgroup_size", result.grid->subgroup_size},
                   {"idle_invocations", result.grid->idle_invocations}};
  return out.dump();
}

std::string FormatResult(const LessonResult& result) {
  std::string text = "Lesson: " + FindLesson(result.lesson).title + " on " + result.device + "\nShape:";
  for (uint64_t s : result.shape) text += " " + std::to_string(s);
  text += "   Ceilings (measured): " + detail::Fixed(result.ceilings.fp32_gflops) + " GFLOP/s FMA, " +
          detail::Fixed(result.ceilings.bandwidth_gbs, 2) + " GB/s copy\n\n";
  char line[512];
  std::snprintf(line, sizeof line, "%-40s %10s %10s %10s %9s %8s  %s\n", "variant", "ms", "GFLOP/s", "GB/s",
                "% ceiling", "speed-up", "check");
  text += line;
  for (const Variant& v : result.variants) {
    std::string speedup = v.speedup_over_previous > 0 ? detail::Fixed(v.speedup_over_previous, 2) + "x" : "";
    std::string check = v.check_passed ? "ok" : "FAILED: " + v.check_message;
    if (v.bank_conflicts) check += ", " + detail::Count(*v.bank_conflicts) + " bank conflicts";
    std::snprintf(line, sizeof line, "%-40s %10.3f %10.2f %10.2f %8.1f%% %8s  %s\n", v.name.substr(0, 40).c_str(),
                  v.ms, v.gflops, v.gbs, v.percent_of_ceiling, speedup.c_str(), check.c_str());
    text += line;
  }
  if (result.lesson == "cpu-vs-gpu") {  // the race itself, in wall-clock ms
    std::snprintf(line, sizeof line, "\n%-40s %12s %12s %14s %16s\n", "wall-clock ms (best of 3)", "CPU 1 thread",
                  "CPU all cores", "device (data)", "device+transfers");
    text += line;
    for (const Variant& v : result.variants) {
      auto f = [&](const char* key) { return v.figures.count(key) ? v.figures.at(key) : 0.0; };
      std::snprintf(line, sizeof line, "%-40s %12.3f %12.3f %14.3f %16.3f\n", v.name.substr(0, 40).c_str(),
                    f("cpu_ms_one_thread"), f("cpu_ms_all_cores"), f("device_ms_wall"), f("device_ms_with_transfers"));
      text += line;
    }
  }
  for (const OccupancyRow& row : result.occupancy) {
    std::snprintf(line, sizeof line, "occupancy %-58s %5.0f%%  %s\n", row.device.c_str(), 100 * row.occupancy,
                  row.explanation.c_str());
    text += line;
  }
  if (result.trace) {
    const AccessTrace& t = *result.trace;
    text += "\nInstrumented run of '" + result.traced_variant + "': " + detail::Count(t.records.size()) +
            " access records from " + std::to_string(t.workgroups_recorded) + " workgroup(s)";
    text += t.overflowed() ? " (OVERFLOWED: " + detail::Count(t.wanted) + " wanted, capacity " +
                                 detail::Count(t.capacity) + ")\n"
                           : "\n";
  }
  text += "\nWhat to notice:\n";
  for (const std::string& note : result.notes) text += "- " + note + "\n";
  return text;
}

}  // namespace ts::lab
