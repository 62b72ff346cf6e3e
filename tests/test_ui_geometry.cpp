// The widgets' pure computations, no ImGui frame needed: axis ticks and their
// labels, smoothing, decimation, Gantt lanes, in-flight steps, stacking, the
// roofline's geometry, number-field ranges and the panel layout. The drawn
// widgets are tested in test_ui_widgets.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "ui/panel_layout.h"
#include "ui/widgets/gantt.h"
#include "ui/widgets/insight_charts.h"
#include "ui/widgets/number_field.h"
#include "ui/widgets/plot.h"

namespace ts::ui {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// ---------------------------------------------------------------------------
// Pure helpers
// ---------------------------------------------------------------------------

// True when step is 1, 2 or 5 times a power of ten.
bool Is125(double step) {
  const double mantissa = step / std::pow(10.0, std::floor(std::log10(step)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (std::abs(mantissa - m) < 1e-9 * m) return true;
  return false;
}

double MultiplesIn(double lo, double hi, double step) {
  return std::floor(hi / step + 1e-9) - std::ceil(lo / step - 1e-9) + 1;
}

TEST(NiceTicks, OneTwoFiveStepsThatCoverTheRange) {
  const std::vector<std::pair<double, double>> ranges = {
      {0, 1},         {0, 10},          {-1, 1},        {0.001, 0.0013},   {1e-12, 3e-12}, {-5e9, 7e9},
      {-3.7, -3.2},   {123456, 123789}, {0, 1e300},     {-1e-300, 1e-300}, {99.5, 100.5},  {0, 99999},
      {1e15, 1.5e15}, {-0.04, 1.07},    {2.5e-7, 9e-4}, {1, 1.0000001}};
  for (const auto& [lo, hi] : ranges) {
    for (int max_count : {2, 3, 5, 8, 12, 30}) {
      SCOPED_TRACE(testing::Message() << "[" << lo << ", " << hi << "] max " << max_count);
      const TickSet t = NiceTicks(lo, hi, max_count);
      ASSERT_FALSE(t.values.empty());
      EXPECT_TRUE(Is125(t.step)) << t.step;
      EXPECT_LE(static_cast<int>(t.values.size()), max_count);
      for (size_t i = 0; i < t.values.size(); ++i) {
        EXPECT_GE(t.values[i], lo);
        EXPECT_LE(t.values[i], hi);
        EXPECT_NEAR(std::remainder(t.values[i], t.step), 0.0, t.step * 1e-6);  // on the step grid
        if (i > 0) {
          EXPECT_NEAR(t.values[i] - t.values[i - 1], t.step, t.step * 1e-6);
        }
      }
      // Every multiple of step in the range is there, and the next smaller 1-2-5 step would not fit.
      EXPECT_LT(t.values.front() - t.step, lo + t.step * 1e-6);
      EXPECT_GT(t.values.back() + t.step, hi - t.step * 1e-6);
      const double m = t.step / std::pow(10.0, std::floor(std::log10(t.step) + 1e-9));
      const double smaller = t.step * (std::abs(m - 1) < 1e-6 ? 0.5 : std::abs(m - 2) < 1e-6 ? 0.5 : 0.4);
      EXPECT_GT(MultiplesIn(lo, hi, smaller), max_count) << "step " << t.step << " is not the smallest";
    }
  }
}

void ExpectValues(const std::vector<double>& actual, const std::vector<double>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i)
    EXPECT_NEAR(actual[i], expected[i], 1e-12 * std::max(1.0, std::abs(expected[i])));
}

TEST(NiceTicks, ExamplesAndEdgeCases) {
  ExpectValues(NiceTicks(0, 1, 6).values, {0, 0.2, 0.4, 0.6, 0.8, 1});
  ExpectValues(NiceTicks(0, 1, 5).values, {0, 0.5, 1});
  ExpectValues(NiceTicks(0, 100, 5).values, {0, 50, 100});
  ExpectValues(NiceTicks(-0.04, 1.07, 8).values, {0, 0.2, 0.4, 0.6, 0.8, 1});
  ExpectValues(NiceTicks(1200, 5300, 5).values, {2000, 3000, 4000, 5000});
  EXPECT_EQ(NiceTicks(1, 0, 3).values, NiceTicks(0, 1, 3).values);  // reversed
  EXPECT_EQ(NiceTicks(3, 3, 5).values, std::vector<double>{3});     // zero width
  EXPECT_EQ(NiceTicks(0, 0, 5).values, std::vector<double>{0});
  EXPECT_TRUE(NiceTicks(kNaN, 1, 5).values.empty());
  EXPECT_TRUE(NiceTicks(0, kInf, 5).values.empty());
  EXPECT_TRUE(NiceTicks(-1.7e308, 1.7e308, 5).values.empty());  // the width overflows
  EXPECT_FALSE(NiceTicks(0, 1, 0).values.empty());              // max_count < 1 acts as 1
}

TEST(LogTicks, DecadesMinorsAndNarrowRanges) {
  LogTickSet t = LogTicks(1e-3, 1e2, 10);
  EXPECT_EQ(t.major.size(), 6u);
  for (double v : t.major) EXPECT_NEAR(std::log10(v), std::round(std::log10(v)), 1e-12);
  EXPECT_NE(std::find_if(t.minor.begin(), t.minor.end(), [](double v) { return std::abs(v - 2e-3) < 1e-12; }),
            t.minor.end());

  t = LogTicks(0.015, 7.5, 8);  // two decades and a bit: 2 and 5 labelled too
  ExpectValues(t.major, {0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5});

  t = LogTicks(0.015, 7.5, 7);  // a little less room: decades only
  ExpectValues(t.major, {0.1, 1});

  t = LogTicks(1e-10, 1e10, 5);  // crowded: every fifth decade
  ExpectValues(t.major, {1e-10, 1e-5, 1, 1e5, 1e10});
  EXPECT_EQ(t.minor.size(), 16u);
  EXPECT_LE(LogTicks(1e-300, 1e300, 8).major.size(), 8u);

  t = LogTicks(2, 8, 10);  // under a decade: 1..9 multiples
  ExpectValues(t.major, {2, 3, 4, 5, 6, 7, 8});
  t = LogTicks(1.01, 1.05, 5);  // tiny: linear ticks
  EXPECT_FALSE(t.major.empty());
  EXPECT_TRUE(Is125(t.label_step));

  EXPECT_TRUE(LogTicks(0, 10, 5).major.empty());
  EXPECT_TRUE(LogTicks(-1, 10, 5).major.empty());
  EXPECT_TRUE(LogTicks(kNaN, 10, 5).major.empty());
}

TEST(FormatTick, Examples) {
  EXPECT_EQ(FormatTick(0, 0.5), "0");
  EXPECT_EQ(FormatTick(1e-17, 0.1), "0");  // rounding noise next to a zero tick
  EXPECT_EQ(FormatTick(0.25, 0.05), "0.25");
  EXPECT_EQ(FormatTick(0.1, 0.05), "0.1");
  EXPECT_EQ(FormatTick(0.30000000000000004, 0.1), "0.3");
  EXPECT_EQ(FormatTick(-3, 1), "-3");
  EXPECT_EQ(FormatTick(123, 1), "123");
  EXPECT_EQ(FormatTick(500, 500), "500");
  EXPECT_EQ(FormatTick(1000, 500), "1k");
  EXPECT_EQ(FormatTick(1500, 500), "1.5k");
  EXPECT_EQ(FormatTick(-2500, 500), "-2.5k");
  EXPECT_EQ(FormatTick(2e7, 1e7), "20M");
  EXPECT_EQ(FormatTick(3e9, 1e9), "3G");
  EXPECT_EQ(FormatTick(2.5e-3, 5e-4), "2.5e-3");
  EXPECT_EQ(FormatTick(3e-3, 1e-3), "0.003");
  EXPECT_EQ(FormatTick(1e-4, 0), "1e-4");
  EXPECT_EQ(FormatTick(2e20, 1e20), "2e20");
  EXPECT_EQ(FormatTick(0.02, 0), "0.02");
  EXPECT_EQ(FormatTick(kNaN, 1), "nan");
  EXPECT_EQ(FormatTick(-kInf, 1), "-inf");
}

TEST(Smooth, MatchesAHandComputedEma) {
  const std::vector<double> y = {1, 2, 3, kNaN, 4};
  std::vector<double> out(y.size());
  Smooth(y, 0.5, out);
  EXPECT_DOUBLE_EQ(out[0], 1.0);
  EXPECT_DOUBLE_EQ(out[1], 0.5 * 1.0 + 0.5 * 2);   // 1.5
  EXPECT_DOUBLE_EQ(out[2], 0.5 * 1.5 + 0.5 * 3);   // 2.25
  EXPECT_TRUE(std::isnan(out[3]));                 // skipped, the average carries on
  EXPECT_DOUBLE_EQ(out[4], 0.5 * 2.25 + 0.5 * 4);  // 3.125

  const std::vector<double> z = {kNaN, 3, 5};
  std::vector<double> zs(3);
  Smooth(z, 0.9, zs);  // the average starts at the first finite value
  EXPECT_DOUBLE_EQ(zs[1], 3.0);
  EXPECT_DOUBLE_EQ(zs[2], 0.9 * 3 + 0.1 * 5);
  Smooth(z, 0.0, zs);
  EXPECT_DOUBLE_EQ(zs[2], 5.0);
}

// Column of x for Decimate's pixel grid.
long ColumnOf(double x, double x_min, double x_max, int columns) {
  return std::clamp(static_cast<long>((x - x_min) * (columns / (x_max - x_min))), 0L, long{columns} - 1);
}

TEST(Decimate, KeepsEveryColumnsMinAndMaxAndBoundsTheOutput) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> step(0.0, 2.0), noise(-1.0, 1.0);
  const size_t n = 100000;
  std::vector<double> x(n), y(n);
  double t = 0;
  for (size_t i = 0; i < n; ++i) {
    x[i] = t += step(rng);
    y[i] = std::sin(t * 0.001) * 10 + noise(rng);
  }
  for (size_t i = 40000; i < 42000; ++i) y[i] = kNaN;     // a gap several columns wide
  for (size_t i = 50000; i < 50020; i += 2) y[i] = kNaN;  // gaps inside one column: bridged
  const double x_min = x[10000] + 0.5, x_max = x[90000] - 0.5;
  const int columns = 300;
  std::vector<PlotPoint> out;
  Decimate(x, y, x_min, x_max, columns, false, out);
  ASSERT_LE(out.size(), 3u * columns + 4);

  std::vector<double> lo(columns, kInf), hi(columns, -kInf);
  for (size_t i = 0; i < n; ++i) {
    if (x[i] < x_min || x[i] > x_max || std::isnan(y[i])) continue;
    const long c = ColumnOf(x[i], x_min, x_max, columns);
    lo[c] = std::min(lo[c], y[i]), hi[c] = std::max(hi[c], y[i]);
  }
  std::vector<double> kept_lo(columns, kInf), kept_hi(columns, -kInf);
  size_t gaps = 0;
  for (size_t k = 0; k < out.size(); ++k) {
    if (k > 0) {
      EXPECT_GE(out[k].x, out[k - 1].x);
    }  // order kept
    if (std::isnan(out[k].y)) {
      ++gaps;
      continue;
    }
    if (out[k].x < x_min || out[k].x > x_max) continue;
    const long c = ColumnOf(out[k].x, x_min, x_max, columns);
    kept_lo[c] = std::min(kept_lo[c], out[k].y), kept_hi[c] = std::max(kept_hi[c], out[k].y);
  }
  for (int c = 0; c < columns; ++c) {
    EXPECT_EQ(kept_lo[c], lo[c]) << "column " << c;
    EXPECT_EQ(kept_hi[c], hi[c]) << "column " << c;
  }
  EXPECT_EQ(gaps, 1u);
  EXPECT_LT(out.front().x, x_min);  // the neighbours outside, so the line reaches the edges
  EXPECT_GT(out.back().x, x_max);
}

TEST(Decimate, SparseDataIsKeptWholeAndLogSkipsNonPositive) {
  const std::vector<double> x = {0, 1, 2, 3, 4, 5};
  const std::vector<double> y = {1, -1, 2, 0, 3, 4};
  std::vector<PlotPoint> out;
  Decimate(x, y, 0, 5, 1000, false, out);
  ASSERT_EQ(out.size(), 6u);
  Decimate(x, y, 0, 5, 1000, true, out);  // -1 and 0 become gaps
  std::vector<double> ys;
  for (const PlotPoint& p : out) ys.push_back(p.y);
  ASSERT_EQ(ys.size(), 6u);
  EXPECT_EQ(ys[0], 1);
  EXPECT_TRUE(std::isnan(ys[1]));
  EXPECT_EQ(ys[2], 2);
  EXPECT_TRUE(std::isnan(ys[3]));
  EXPECT_EQ(ys[4], 3);
  EXPECT_EQ(ys[5], 4);

  Decimate({}, {}, 0, 1, 100, false, out);
  EXPECT_TRUE(out.empty());
  Decimate(x, y, 1, 1, 100, false, out);  // empty view
  EXPECT_TRUE(out.empty());
  Decimate(x, y, 0, 5, 0, false, out);
  EXPECT_TRUE(out.empty());
}


// ---------------------------------------------------------------------------
// GPU insight helpers: lanes, in-flight steps, stacking, roofline geometry
// ---------------------------------------------------------------------------

TEST(AssignLanes, ReusesTheLowestFreeLaneAndNeverOverlaps) {
  const std::vector<Interval> intervals = {{0, 10}, {2, 5}, {5, 8}, {10, 12}, {3, 11}, {11, 13}};
  uint32_t lanes = 0;
  const std::vector<uint32_t> lane = AssignLanes(intervals, &lanes);
  EXPECT_EQ(lane, (std::vector<uint32_t>{0, 1, 1, 0, 2, 1}));
  EXPECT_EQ(lanes, 3u);
  for (size_t a = 0; a < intervals.size(); ++a)
    for (size_t b = a + 1; b < intervals.size(); ++b)
      if (lane[a] == lane[b]) {
        EXPECT_TRUE(intervals[a].end <= intervals[b].start || intervals[b].end <= intervals[a].start) << a << " " << b;
      }
  EXPECT_TRUE(AssignLanes({}, &lanes).empty());
  EXPECT_EQ(lanes, 0u);
}

TEST(InFlightSteps, CountsOpenIntervalsAsAStepCurve) {
  const std::vector<Interval> intervals = {{0, 4}, {1, 3}, {4, 6}};  // the third starts when the first ends
  std::vector<double> x, y;
  EXPECT_EQ(InFlightSteps(intervals, x, y), 2u);
  EXPECT_EQ(x, (std::vector<double>{0, 0, 1, 1, 3, 3, 6, 6}));
  EXPECT_EQ(y, (std::vector<double>{0, 1, 1, 2, 2, 1, 1, 0}));
  EXPECT_TRUE(std::is_sorted(x.begin(), x.end()));
  EXPECT_EQ(InFlightSteps({}, x, y), 0u);
  EXPECT_TRUE(x.empty() && y.empty());
}

TEST(Stacking, TopGroupsAndCumulativeLayers) {
  const std::vector<double> totals = {3, 9, kNaN, 9, 1};
  EXPECT_EQ(TopGroups(totals, 3), (std::vector<size_t>{1, 3, 0}));
  EXPECT_EQ(TopGroups(totals, 10).size(), 5u);
  std::vector<std::vector<double>> layers = {{1, 2, 3}, {10, kNaN, 30}, {100}};
  StackCumulative(layers);
  EXPECT_EQ(layers[0], (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(layers[1], (std::vector<double>{11, 2, 33}));
  EXPECT_EQ(layers[2], (std::vector<double>{111, 2, 33}));
}

TEST(ThinHistory, HalvesKeepingFirstAndNewest) {
  std::vector<double> x = {1, 2, 3, 4, 5, 6};
  std::vector<std::vector<double>> ys = {{10, 20, 30, 40, 50, 60}};
  ThinHistory(x, ys, 4);
  EXPECT_EQ(x, (std::vector<double>{1, 3, 5, 6}));
  EXPECT_EQ(ys[0], (std::vector<double>{10, 30, 50, 60}));
  ThinHistory(x, ys, 4);  // within the limit: unchanged
  EXPECT_EQ(x.size(), 4u);
}

TEST(Roofline, CeilingRidgeRangesAndDots) {
  EXPECT_DOUBLE_EQ(RidgeIntensity(100, 20), 5.0);
  EXPECT_EQ(RidgeIntensity(0, 20), 0.0);
  // Ridge inside: slope, ridge, flat roof.
  std::vector<ChartPoint> roof = RooflineCeiling(100, 20, 0.1, 100);
  ASSERT_EQ(roof.size(), 3u);
  EXPECT_DOUBLE_EQ(roof[0].y, 2.0);
  EXPECT_DOUBLE_EQ(roof[1].x, 5.0);
  EXPECT_DOUBLE_EQ(roof[1].y, 100.0);
  EXPECT_DOUBLE_EQ(roof[2].y, 100.0);
  // Ridge right of the range: the slope only.
  roof = RooflineCeiling(100, 20, 0.1, 1);
  ASSERT_EQ(roof.size(), 2u);
  EXPECT_DOUBLE_EQ(roof[1].y, 20.0);
  EXPECT_TRUE(RooflineCeiling(0, 20, 0.1, 1).empty());
  EXPECT_TRUE(RooflineCeiling(100, 20, 1, 0.1).empty());
  // Log range: padded decades; nothing positive gives 1..10.
  const std::vector<double> values = {0.5, 50, -1, kNaN, kInf};
  ChartPoint range = LogRangeOf(values, 0.5);
  EXPECT_NEAR(std::log10(range.x), std::log10(0.5) - 0.5, 1e-9);
  EXPECT_NEAR(std::log10(range.y), std::log10(50) + 0.5, 1e-9);
  range = LogRangeOf(std::vector<double>{0.0}, 0.5);
  EXPECT_EQ(range.x, 1.0);
  EXPECT_EQ(range.y, 10.0);
  // Dot area proportional to share: a quarter of the share, half the radius.
  EXPECT_FLOAT_EQ(DotRadius(1.0, 20), 20.0f);
  EXPECT_FLOAT_EQ(DotRadius(0.25, 20), 10.0f);
  EXPECT_FLOAT_EQ(DotRadius(0.0, 20, 3), 3.0f);
  EXPECT_FLOAT_EQ(DotRadius(kNaN, 20, 3), 3.0f);
}


// ---------------------------------------------------------------------------
// Number fields
// ---------------------------------------------------------------------------

TEST(RangeFraction, LinearLogAndOddRanges) {
  EXPECT_FLOAT_EQ(RangeFraction(0.25, 0, 1, false), 0.25f);
  EXPECT_FLOAT_EQ(RangeFraction(-3, 0, 1, false), 0.0f);
  EXPECT_FLOAT_EQ(RangeFraction(7, 0, 1, false), 1.0f);
  EXPECT_FLOAT_EQ(RangeFraction(10, 1, 1000, true), 1.0f / 3);
  EXPECT_FLOAT_EQ(RangeFraction(10, 0, 1000, true), 0.01f);  // a log range from 0: linear
  EXPECT_FLOAT_EQ(RangeFraction(5, 5, 5, false), 0.0f);
  EXPECT_FLOAT_EQ(RangeFraction(kNaN, 0, 1, false), 0.0f);
  // Drag speeds: a 300th of a linear range a pixel; 1% of the value on a logarithmic one, never 0.
  EXPECT_FLOAT_EQ(DragSpeed(0.5, 0, 1, false, false), 1.0f / 300);
  EXPECT_FLOAT_EQ(DragSpeed(1e-3, 1e-6, 10, true, false), 1e-5f);
  EXPECT_GT(DragSpeed(0, 0, 1, true, false), 0.0f);
  EXPECT_GE(DragSpeed(1, 1, 1024, true, true), 0.05f);
  EXPECT_FLOAT_EQ(DragSpeed(512, 1, 1024, true, true), 5.12f);
}

// One click (press and release without moving) makes the field a text box with
// its text selected: typing replaces the value. A drag tunes it without one.
// ---------------------------------------------------------------------------
// Panel layout
// ---------------------------------------------------------------------------

TEST(PanelLayout, FitsDisplaysFrom1280x720To2560x1440AndKeepsTheControlsClear) {
  const float bar = 21, em = 15;
  const std::pair<float, float> displays[] = {{1280, 720}, {1440, 900}, {1600, 1000}, {1920, 1080}, {2560, 1440}};
  for (const auto& [width, height] : displays) {
    SCOPED_TRACE(testing::Message() << width << "x" << height);
    const float controls = 240;  // the Training panel's controls end here
    const PanelLayout l = DefaultLayout(width, height, bar, em, controls);
    const LayoutRect display{0, 0, width, height};
    for (const LayoutRect* r : {&l.model, &l.data, &l.training, &l.gpu, &l.inside_bar, &l.inside_open, &l.insight})
      EXPECT_TRUE(display.Contains(*r)) << r->x << "," << r->y << " " << r->width << "x" << r->height;
    // The four panels tile the display; none is narrower than its controls need.
    EXPECT_FLOAT_EQ(l.model.right(), l.training.x);
    EXPECT_FLOAT_EQ(l.training.right(), l.gpu.x);
    EXPECT_FLOAT_EQ(l.gpu.right(), width);
    EXPECT_FLOAT_EQ(l.model.bottom(), l.data.y);
    EXPECT_FLOAT_EQ(l.data.bottom(), height);
    EXPECT_FALSE(l.training.Overlaps(l.gpu));
    EXPECT_FALSE(l.model.Overlaps(l.data));
    EXPECT_GE(l.model.width, 24 * em);
    EXPECT_GE(l.gpu.width, 21 * em);
    EXPECT_GE(l.training.width, 34 * em);
    EXPECT_GE(l.data.height, 18 * em);
    // The Inside bar runs along the bottom under the centre and right columns; nothing covers it.
    EXPECT_FLOAT_EQ(l.inside_bar.bottom(), height);
    EXPECT_FALSE(l.inside_bar.Overlaps(l.training));
    EXPECT_FALSE(l.inside_bar.Overlaps(l.gpu));
    // The floating windows leave the Training panel's controls uncovered.
    const LayoutRect controls_area{l.training.x, 0, l.training.width, controls};
    EXPECT_FALSE(l.insight.Overlaps(controls_area));
    EXPECT_FALSE(l.inside_open.Overlaps(controls_area));
    EXPECT_GE(l.insight.height, height - controls - bar - 1);
  }
  // Unknown controls (the first frames): still inside the display.
  const PanelLayout first = DefaultLayout(1280, 720, bar, em, 0);
  EXPECT_TRUE((LayoutRect{0, 0, 1280, 720}).Contains(first.insight));
}

TEST(PanelLayout, KeepBelowMovesAWindowOffTheControlsAndIntoTheDisplay) {
  const LayoutRect controls{400, 0, 600, 200};
  // Over the controls: moved under them and shortened to the display.
  const LayoutRect moved = KeepBelow({300, 50, 700, 600}, controls, 720, 100);
  EXPECT_FLOAT_EQ(moved.y, 200);
  EXPECT_FLOAT_EQ(moved.height, 520);
  EXPECT_FLOAT_EQ(moved.x, 300);
  EXPECT_FLOAT_EQ(moved.width, 700);
  EXPECT_FALSE(moved.Overlaps(controls));
  // Beside or below them: left alone.
  const LayoutRect beside{1000, 0, 200, 700}, below{400, 250, 600, 400};
  EXPECT_FLOAT_EQ(KeepBelow(beside, controls, 720, 100).y, 0);
  EXPECT_FLOAT_EQ(KeepBelow(below, controls, 720, 100).y, 250);
  // Too little room under them: the least height, even past the display's bottom.
  EXPECT_FLOAT_EQ(KeepBelow({400, 0, 600, 700}, {400, 0, 600, 680}, 720, 100).height, 100);
}

}  // namespace
}  // namespace ts::ui
