#include "compute/profile/kernel_table.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <tuple>

namespace ts::profile {
namespace {

// The family a dispatch's kernel belongs to: a split reduction's second
// dispatch ("bias_act_back_combine") is part of the first's work.
std::string KernelFamily(const std::string& kernel) {
  const std::string suffix = "_combine";
  if (kernel.size() > suffix.size() && kernel.compare(kernel.size() - suffix.size(), suffix.size(), suffix) == 0)
    return kernel.substr(0, kernel.size() - suffix.size());
  return kernel;
}

uint64_t Product(const std::array<uint32_t, 3>& v) { return uint64_t(v[0]) * v[1] * v[2]; }

// Three significant figures in a readable unit: "812 ns", "4.00 us", "12.3 us", "456 ms", "1.23 s".
std::string FormatNs(double ns) {
  const char* unit = "ns";
  double value = ns;
  if (ns >= 1e9) value = ns / 1e9, unit = "s";
  else if (ns >= 1e6) value = ns / 1e6, unit = "ms";
  else if (ns >= 1e3) value = ns / 1e3, unit = "us";
  char text[32];
  const int decimals = unit[0] == 'n' || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  std::snprintf(text, sizeof text, "%.*f %s", decimals, value, unit);
  return text;
}

// A count with an SI prefix: "950", "12.3 k", "4.56 M", "7.89 G".
std::string FormatCount(double value, const char* unit) {
  const char* prefixes[] = {"", "k", "M", "G", "T", "P"};
  int p = 0;
  while (std::abs(value) >= 1000 && p < 5) value /= 1000, ++p;
  char text[32];
  if (p == 0) std::snprintf(text, sizeof text, "%.0f %s", value, unit);
  else std::snprintf(text, sizeof text, "%.3g %s%s", value, prefixes[p], unit);
  return text;
}

std::string FormatRate(double value) {
  char text[32];
  std::snprintf(text, sizeof text, value >= 100 ? "%.0f" : value >= 10 ? "%.1f" : "%.2f", value);
  return text;
}

std::string Truncate(const std::string& text, size_t width) {
  return text.size() <= width ? text : text.substr(0, width - 1) + "~";
}

}  // namespace

double Roofline::ridge_intensity() const { return peak_gbs > 0 ? peak_gflops / peak_gbs : 0; }

double Roofline::attainable_gflops(double intensity) const {
  return std::min(peak_gflops, std::max(0.0, intensity) * peak_gbs);
}

const char* BoundName(Bound bound) {
  switch (bound) {
    case Bound::kMemory: return "memory";
    case Bound::kCompute: return "compute";
    case Bound::kUnknown: return "?";
  }
  return "?";
}

std::vector<KernelRow> BuildKernelTable(const std::vector<nn::DispatchInfo>& dispatches,
                                        const std::vector<double>& dispatch_ns, const nn::ModelDesc* model,
                                        const Ceilings* ceilings, const vk::DeviceInfo& device,
                                        const std::vector<uint64_t>& measured_invocations) {
  const bool measured = !measured_invocations.empty() && measured_invocations.size() == dispatches.size();
  double step_ns = 0;
  for (size_t i = 0; i < dispatches.size() && i < dispatch_ns.size(); ++i) step_ns += dispatch_ns[i];

  // Rows in the order of their first dispatch in the step.
  std::vector<KernelRow> rows;
  std::map<std::tuple<std::string, int, nn::Pass>, size_t> row_of;
  for (size_t i = 0; i < dispatches.size(); ++i) {
    const nn::DispatchInfo& d = dispatches[i];
    const std::string family = KernelFamily(d.kernel.empty() ? d.shader : d.kernel);
    auto [it, added] = row_of.try_emplace({family, d.role.layer, d.role.pass}, rows.size());
    if (added) {
      KernelRow row;
      row.kernel = family;
      row.label = d.label;
      row.layer = d.role.layer;
      if (model && d.role.layer >= 0 && size_t(d.role.layer) < model->layers.size())
        row.layer_name = model->layers[size_t(d.role.layer)].name;
      row.pass = d.role.pass;
      row.local_size = d.local_size;
      row.workgroups = d.workgroups;
      row.shared_memory_bytes = d.shared_memory_bytes;
      if (measured) row.measured_invocations = 0;
      rows.push_back(std::move(row));
    }
    KernelRow& row = rows[it->second];
    row.dispatches.push_back(i);
    ++row.calls_per_step;
    row.time_ns += i < dispatch_ns.size() ? dispatch_ns[i] : 0.0;
    row.flops += d.cost.flops;
    row.bytes += d.cost.bytes_read + d.cost.bytes_written;
    row.invocations += d.invocations();
    if (measured) *row.measured_invocations += measured_invocations[i];
    if (!d.variant.empty()) row.variants.push_back({d.label, d.variant, d.variant_choice, d.variant_not_applied, d.alternatives_ns});
  }

  const Roofline roofline{ceilings ? ceilings->fp32_gflops : 0, ceilings ? ceilings->bandwidth_gbs : 0};
  for (KernelRow& row : rows) {
    row.share = step_ns > 0 ? row.time_ns / step_ns : 0;
    row.gflops = row.time_ns > 0 ? row.flops / row.time_ns : 0;  // FLOPs per ns = GFLOP/s
    row.gbs = row.time_ns > 0 ? row.bytes / row.time_ns : 0;
    row.intensity = row.bytes > 0 ? row.flops / row.bytes : 0;
    if (ceilings) {
      row.percent_peak_flops = roofline.peak_gflops > 0 ? 100 * row.gflops / roofline.peak_gflops : 0;
      row.percent_peak_bandwidth = roofline.peak_gbs > 0 ? 100 * row.gbs / roofline.peak_gbs : 0;
      if (row.bytes > 0 && roofline.peak_gbs > 0 && roofline.peak_gflops > 0)
        row.bound = row.intensity < roofline.ridge_intensity() ? Bound::kMemory : Bound::kCompute;
      else if (row.flops > 0 && roofline.peak_gflops > 0)
        row.bound = Bound::kCompute;  // no memory traffic declared
    }
    const uint64_t group = Product(row.local_size);
    row.subgroups_per_workgroup =
        device.subgroup_size > 0 ? static_cast<uint32_t>((group + device.subgroup_size - 1) / device.subgroup_size) : 0;
    row.invocation_mismatch = row.measured_invocations && *row.measured_invocations != row.invocations;
  }
  return rows;
}

KernelRowKey KeyOf(const KernelRow& row) { return {row.kernel, row.layer, row.pass}; }

std::string KeyText(const KernelRowKey& key) {
  return key.kernel + "/" + std::to_string(key.layer) + "/" + nn::PassName(key.pass);
}

std::optional<size_t> FindRow(const std::vector<KernelRow>& rows, const KernelRowKey& key) {
  for (size_t i = 0; i < rows.size(); ++i)
    if (KeyOf(rows[i]) == key) return i;
  return std::nullopt;
}

void SortKernelTable(std::vector<KernelRow>& rows, KernelColumn column, bool ascending) {
  // Each column's sort key; strings and numbers compare through one tuple.
  auto key = [column](const KernelRow& r) -> std::tuple<double, std::string> {
    switch (column) {
      case KernelColumn::kKernel: return {0, r.kernel};
      case KernelColumn::kLayer: return {double(r.layer), r.layer_name};
      case KernelColumn::kPass: return {double(r.pass), ""};
      case KernelColumn::kCalls: return {double(r.calls_per_step), ""};
      case KernelColumn::kTime: return {r.time_ns, ""};
      case KernelColumn::kShare: return {r.share, ""};
      case KernelColumn::kFlops: return {r.flops, ""};
      case KernelColumn::kBytes: return {r.bytes, ""};
      case KernelColumn::kGflops: return {r.gflops, ""};
      case KernelColumn::kGbs: return {r.gbs, ""};
      case KernelColumn::kPercentPeakFlops: return {r.percent_peak_flops, ""};
      case KernelColumn::kPercentPeakBandwidth: return {r.percent_peak_bandwidth, ""};
      case KernelColumn::kIntensity: return {r.intensity, ""};
      case KernelColumn::kBound: return {double(r.bound), ""};
      case KernelColumn::kWorkgroupSize: return {double(Product(r.local_size)), ""};
      case KernelColumn::kWorkgroups: return {double(Product(r.workgroups)), ""};
      case KernelColumn::kInvocations: return {double(r.invocations), ""};
      case KernelColumn::kSubgroups: return {double(r.subgroups_per_workgroup), ""};
      case KernelColumn::kSharedMemory: return {double(r.shared_memory_bytes), ""};
    }
    return {0, ""};
  };
  // Stable: equal keys keep the step order.
  std::stable_sort(rows.begin(), rows.end(), [&](const KernelRow& a, const KernelRow& b) {
    return ascending ? key(a) < key(b) : key(b) < key(a);
  });
}

std::string FormatKernelTable(const std::vector<KernelRow>& rows) {
  std::string text;
  char line[512];
  std::snprintf(line, sizeof line, "%-14s %-16s %-8s %5s %10s %6s %10s %10s %8s %8s %6s %6s %7s %7s %-9s %-12s %4s %8s %s\n",
                "kernel", "layer", "pass", "calls", "time", "share", "FLOPs", "bytes", "GFLOP/s", "GB/s",
                "%peakF", "%peakB", "FLOP/B", "bound", "local", "workgroups", "sg", "shared", "invocations");
  text += line;
  bool any_mismatch = false;
  for (const KernelRow& r : rows) {
    char local[32], groups[48], shared[32];
    std::snprintf(local, sizeof local, "%ux%ux%u", r.local_size[0], r.local_size[1], r.local_size[2]);
    std::snprintf(groups, sizeof groups, "%ux%ux%u", r.workgroups[0], r.workgroups[1], r.workgroups[2]);
    std::snprintf(shared, sizeof shared, "%s", r.shared_memory_bytes ? FormatCount(r.shared_memory_bytes, "B").c_str() : "-");
    std::string invocations = FormatCount(double(r.invocations), "");
    while (!invocations.empty() && invocations.back() == ' ') invocations.pop_back();
    if (r.measured_invocations) {
      if (r.invocation_mismatch) {
        invocations += " != " + std::to_string(*r.measured_invocations) + " measured (MISMATCH)";
        any_mismatch = true;
      } else {
        invocations += " (= measured)";
      }
    }
    const std::string layer = r.layer_name.empty() ? (r.layer >= 0 ? "layer " + std::to_string(r.layer) : "-") : r.layer_name;
    std::snprintf(line, sizeof line,
                  "%-14s %-16s %-8s %5u %10s %5.1f%% %10s %10s %8s %8s %6s %6s %7.2f %7s %-9s %-12s %4u %8s %s\n",
                  Truncate(r.kernel, 14).c_str(), Truncate(layer, 16).c_str(), nn::PassName(r.pass), r.calls_per_step,
                  FormatNs(r.time_ns).c_str(), 100 * r.share, FormatCount(r.flops, "").c_str(),
                  FormatCount(r.bytes, "B").c_str(), FormatRate(r.gflops).c_str(), FormatRate(r.gbs).c_str(),
                  r.bound == Bound::kUnknown && r.percent_peak_flops == 0 ? "-" : FormatRate(r.percent_peak_flops).c_str(),
                  r.bound == Bound::kUnknown && r.percent_peak_bandwidth == 0 ? "-"
                                                                              : FormatRate(r.percent_peak_bandwidth).c_str(),
                  r.intensity, BoundName(r.bound), local, groups, r.subgroups_per_workgroup, shared, invocations.c_str());
    text += line;
  }
  text +=
      "(time: GPU time per step, summed over the calls; GFLOP/s and GB/s: declared FLOPs and bytes (read + written) /\n"
      " time; %peak: of the measured ceilings; FLOP/B: arithmetic intensity; bound: below the roofline's ridge\n"
      " (peak FLOP/s / peak GB/s) a kernel is memory-bound; sg: subgroups per workgroup)\n";
  if (any_mismatch)
    text += "MISMATCH: the pipeline-statistics query counted other invocations than the dispatch geometry declares.\n";
  bool heading = false;
  for (const KernelRow& r : rows)
    for (const KernelVariant& v : r.variants) {
      if (!heading) text += "Kernel variants (how chosen; measured alternatives, median GPU time):\n", heading = true;
      text += "  " + v.label + ": " + v.variant + " (" + v.how + (v.not_applied.empty() ? "" : "; " + v.not_applied) + ")";
      for (size_t k = 0; k < v.alternatives_ns.size(); ++k) {
        std::snprintf(line, sizeof line, "%s%s %.1f us", k == 0 ? "; " : ", ", v.alternatives_ns[k].first.c_str(),
                      v.alternatives_ns[k].second / 1e3);
        text += line;
      }
      text += "\n";
    }
  return text;
}

nlohmann::json KernelTableJson(const std::vector<KernelRow>& rows) {
  nlohmann::json table = nlohmann::json::array();
  for (const KernelRow& r : rows) {
    nlohmann::json row = {{"kernel", r.kernel},
                          {"label", r.label},
                          {"layer", r.layer},
                          {"layer_name", r.layer_name},
                          {"pass", nn::PassName(r.pass)},
                          {"dispatches", r.dispatches},
                          {"calls_per_step", r.calls_per_step},
                          {"time_ns", r.time_ns},
                          {"share", r.share},
                          {"flops", r.flops},
                          {"bytes", r.bytes},
                          {"gflops", r.gflops},
                          {"gbs", r.gbs},
                          {"percent_peak_flops", r.percent_peak_flops},
                          {"percent_peak_bandwidth", r.percent_peak_bandwidth},
                          {"intensity", r.intensity},
                          {"bound", BoundName(r.bound)},
                          {"local_size", r.local_size},
                          {"workgroups", r.workgroups},
                          {"invocations", r.invocations},
                          {"subgroups_per_workgroup", r.subgroups_per_workgroup},
                          {"shared_memory_bytes", r.shared_memory_bytes},
                          {"invocation_mismatch", r.invocation_mismatch}};
    row["measured_invocations"] = r.measured_invocations ? nlohmann::json(*r.measured_invocations) : nlohmann::json();
    row["variants"] = nlohmann::json::array();
    for (const KernelVariant& v : r.variants) {
      nlohmann::json alternatives = nlohmann::json::array();
      for (const auto& [name, ns] : v.alternatives_ns) alternatives.push_back({{"variant", name}, {"ns", ns}});
      row["variants"].push_back({{"label", v.label}, {"variant", v.variant}, {"how", v.how}, {"not_applied", v.not_applied},
                                {"alternatives", alternatives}});
    }
    table.push_back(std::move(row));
  }
  return table;
}

}  // namespace ts::profile
