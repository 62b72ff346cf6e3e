#include "ui/widgets/insight_charts.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

namespace ts::ui {

std::vector<uint32_t> AssignLanes(std::span<const Interval> intervals, uint32_t* lane_count) {
  std::vector<size_t> order(intervals.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return intervals[a].start < intervals[b].start; });
  std::vector<uint32_t> lanes(intervals.size(), 0);
  std::vector<double> lane_end;  // when each lane becomes free
  for (size_t i : order) {
    const Interval& interval = intervals[i];
    auto free = std::find_if(lane_end.begin(), lane_end.end(), [&](double end) { return end <= interval.start; });
    if (free == lane_end.end()) free = lane_end.insert(lane_end.end(), interval.start);
    *free = std::max(interval.end, interval.start);
    lanes[i] = static_cast<uint32_t>(free - lane_end.begin());
  }
  if (lane_count) *lane_count = static_cast<uint32_t>(lane_end.size());
  return lanes;
}

uint32_t InFlightSteps(std::span<const Interval> intervals, std::vector<double>& x, std::vector<double>& y) {
  x.clear();
  y.clear();
  // +1 at each start, -1 at each end; at equal times ends come first (a lane handed on is not two in flight).
  std::vector<std::pair<double, int>> changes;
  changes.reserve(intervals.size() * 2);
  for (const Interval& interval : intervals) {
    changes.push_back({interval.start, +1});
    changes.push_back({std::max(interval.start, interval.end), -1});
  }
  std::sort(changes.begin(), changes.end());
  int open = 0, highest = 0;
  for (size_t i = 0; i < changes.size();) {
    const double t = changes[i].first;
    const int before = open;
    for (; i < changes.size() && changes[i].first == t; ++i) open += changes[i].second;
    if (open == before && !x.empty()) continue;
    x.push_back(t), y.push_back(before);
    x.push_back(t), y.push_back(open);
    highest = std::max(highest, open);
  }
  return static_cast<uint32_t>(highest);
}

std::vector<size_t> TopGroups(std::span<const double> totals, size_t keep) {
  const auto value = [&](size_t i) { return std::isfinite(totals[i]) ? totals[i] : 0.0; };
  std::vector<size_t> order(totals.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return value(a) > value(b); });
  order.resize(std::min(keep, order.size()));
  return order;
}

void StackCumulative(std::vector<std::vector<double>>& layers) {
  if (layers.empty()) return;
  const size_t n = layers[0].size();
  for (auto& layer : layers) layer.resize(std::max(layer.size(), n), 0.0);
  for (size_t k = 0; k < layers.size(); ++k)
    for (size_t i = 0; i < layers[k].size(); ++i) {
      double v = std::isfinite(layers[k][i]) ? layers[k][i] : 0.0;
      layers[k][i] = v + (k > 0 && i < layers[k - 1].size() ? layers[k - 1][i] : 0.0);
    }
}

double RidgeIntensity(double peak_gflops, double peak_gbs) {
  return peak_gflops > 0 && peak_gbs > 0 ? peak_gflops / peak_gbs : 0.0;
}

std::vector<ChartPoint> RooflineCeiling(double peak_gflops, double peak_gbs, double x_min, double x_max) {
  if (!(peak_gflops > 0 && peak_gbs > 0 && x_min > 0 && x_max > x_min)) return {};
  const double ridge = RidgeIntensity(peak_gflops, peak_gbs);
  const auto attainable = [&](double x) { return std::min(peak_gflops, x * peak_gbs); };
  std::vector<ChartPoint> points{{x_min, attainable(x_min)}};
  if (ridge > x_min && ridge < x_max) points.push_back({ridge, peak_gflops});
  points.push_back({x_max, attainable(x_max)});
  return points;
}

ChartPoint LogRangeOf(std::span<const double> values, double pad_decades) {
  double lo = INFINITY, hi = -INFINITY;
  for (double v : values)
    if (std::isfinite(v) && v > 0) lo = std::min(lo, v), hi = std::max(hi, v);
  if (!std::isfinite(lo)) return {1, 10};
  double t0 = std::log10(lo) - pad_decades, t1 = std::log10(hi) + pad_decades;
  if (t1 - t0 < 1e-9) t0 -= 1, t1 += 1;
  return {std::pow(10.0, t0), std::pow(10.0, t1)};
}

float DotRadius(double share, float max_radius, float min_radius) {
  const double s = std::isfinite(share) ? std::clamp(share, 0.0, 1.0) : 0.0;
  return std::max(min_radius, static_cast<float>(max_radius * std::sqrt(s)));
}

void ThinHistory(std::vector<double>& x, std::vector<std::vector<double>>& ys, size_t limit) {
  if (x.size() <= std::max<size_t>(limit, 2)) return;
  const auto thin = [](std::vector<double>& v) {
    const double newest = v.back();
    size_t kept = 0;
    for (size_t i = 0; i < v.size(); i += 2) v[kept++] = v[i];
    if (v.size() % 2 == 0) v[kept++] = newest;  // the last index was odd: keep the newest anyway
    v.resize(kept);
  };
  thin(x);
  for (auto& y : ys) thin(y);
}

}  // namespace ts::ui
