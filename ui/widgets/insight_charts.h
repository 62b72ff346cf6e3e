// Pure geometry behind the GPU insight window's charts, kept apart from
// drawing so it can be unit-tested: greedy lane assignment for Gantt rows,
// workgroups-in-flight step curves, stacking of per-kernel series with a
// "top few + other" grouping, and the roofline's ceiling polyline, log ranges
// and dot sizes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace ts::ui {

// A half-open time interval [start, end).
struct Interval {
  double start = 0, end = 0;
};

// Gives each interval a lane (row) so that intervals sharing a lane never
// overlap: intervals are taken in order of start, each into the lowest lane
// that is free by its start (an interval ending exactly when the next begins
// frees its lane). Returns the lane of each interval in the input order and
// sets *lane_count (when given) to the number of lanes used.
std::vector<uint32_t> AssignLanes(std::span<const Interval> intervals, uint32_t* lane_count = nullptr);

// How many intervals are open at each moment, as a step curve for a line
// plot: at every start or end the count changes; the curve holds each count
// until the next change (two points per change: before and after). Empty input
// gives empty output. Returns the largest count.
uint32_t InFlightSteps(std::span<const Interval> intervals, std::vector<double>& x, std::vector<double>& y);

// Indices of the `keep` largest totals, largest first (ties: the lower index
// first). Non-finite totals count as 0.
std::vector<size_t> TopGroups(std::span<const double> totals, size_t keep);

// Turns per-layer values into stacked tops in place: after the call,
// layers[k][i] is the sum of layers[0..k][i]. Layers shorter than the first
// are treated as zero past their end (and extended). Non-finite values count as 0.
void StackCumulative(std::vector<std::vector<double>>& layers);

// A point in data units.
struct ChartPoint {
  double x = 0, y = 0;
};

// The roofline's attainable-performance polyline over intensities
// [x_min, x_max] (FLOPs per byte): the bandwidth slope y = x * peak_gbs up to
// the ridge, then the flat compute ceiling y = peak_gflops. Two points when
// the ridge lies outside the range, three when inside. Empty when a peak is
// not positive or the range is not positive and ascending.
std::vector<ChartPoint> RooflineCeiling(double peak_gflops, double peak_gbs, double x_min, double x_max);

// FLOPs per byte where the two ceilings meet (0 when either peak is not positive).
double RidgeIntensity(double peak_gflops, double peak_gbs);

// A range for a log axis that holds every positive finite value, widened by
// `pad_decades` on both sides (a single value gets a decade each side).
// Returns {1, 10} when there is none.
ChartPoint LogRangeOf(std::span<const double> values, double pad_decades);

// The radius of a roofline dot whose area is proportional to its share of the
// step time (0..1): max_radius at share 1, never below min_radius.
float DotRadius(double share, float max_radius, float min_radius = 2.0f);

// Keeps a per-step history bounded: when `x` holds more than `limit` points,
// every other point is dropped (the first and the newest kept) from x and from
// each series in `ys`, all of which have x's length.
void ThinHistory(std::vector<double>& x, std::vector<std::vector<double>>& ys, size_t limit);

}  // namespace ts::ui
