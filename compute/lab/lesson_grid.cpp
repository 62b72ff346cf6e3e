// Lesson 1: the grid (shaders/lab_grid.comp): who computed each element, as
// the kernel itself wrote it, and time against workgroup size.
#include <algorithm>
#include <bit>

#include "compute/common/error.h"
#include "compute/lab/lab_internal.h"
#include "shaders/lab.h"

namespace ts::lab::detail {
namespace {

const std::map<uint32_t, std::string> kSpecNames = {{0, "workgroup x"}, {1, "workgroup y"}};

struct GridRun {
  vk::Buffer who, idle;
  vk::Dispatch dispatch;
};

GridRun MakeGridRun(const LessonRun& run, uint32_t width, uint32_t height, uint32_t group_x, uint32_t group_y) {
  RequireWorkgroup(run.device(), group_x, group_y, "The grid's workgroup");
  RequireBufferBytes(run.device(), 12ull * width * height, "The grid's picture");
  GridRun g{vk::Buffer(run.context, 12ull * width * height, "lab grid picture"),
            vk::Buffer(run.context, 16, "lab grid idle count"), {}};
  std::vector<uint32_t> poison(3ull * width * height, 0xFFFFFFFFu);
  g.who.UploadVector(std::span<const uint32_t>(poison));
  vk::Dispatch& d = g.dispatch;
  d.kernel = "lab_grid";
  d.label = "grid " + std::to_string(width) + "x" + std::to_string(height);
  d.pipeline = &run.pipelines.Get("lab_grid", {{0, group_x}, {1, group_y}});
  d.bindings = {{&g.who, 0, 0, vk::Access::kWrite}, {&g.idle, 0, 0, vk::Access::kReadWrite}};
  d.SetPushConstants(gpu::LabGridParams{width, height});
  d.workgroups = {vk::DivideRoundUp(width, group_x), vk::DivideRoundUp(height, group_y), 1};
  RequireWorkgroupCount(run.device(), d.workgroups[0], d.workgroups[1], "The grid");
  d.cost.bytes_written = 12.0 * width * height;
  return g;
}

// Checks what the kernel wrote against the formula, element by element.
void CheckGrid(Variant& v, const GridRun& g, uint32_t width, uint32_t height, uint32_t group_x, uint32_t group_y,
               uint32_t subgroup_size, GridPicture* picture) {
  const uint64_t elements = uint64_t(width) * height;
  std::vector<uint32_t> who(3 * elements);
  g.who.DownloadVector(std::span<uint32_t>(who));
  uint32_t idle = 0;
  g.idle.DownloadVector(std::span<uint32_t>(&idle, 1));
  const uint32_t grid_x = g.dispatch.workgroups[0], grid_y = g.dispatch.workgroups[1];
  const uint64_t launched = uint64_t(grid_x) * grid_y * group_x * group_y;
  const uint32_t max_subgroups = (group_x * group_y + subgroup_size - 1) / std::max(1u, subgroup_size);
  std::string wrong;
  uint64_t subgroups_by_index = 0;
  for (uint64_t e = 0; e < elements && wrong.empty(); ++e) {
    uint32_t x = e % width, y = static_cast<uint32_t>(e / width);
    uint32_t want_group = x / group_x + grid_x * (y / group_y), want_invocation = x % group_x + group_x * (y % group_y);
    if (who[3 * e] != want_group || who[3 * e + 1] != want_invocation || who[3 * e + 2] >= max_subgroups)
      wrong = "element (" + std::to_string(x) + ", " + std::to_string(y) + "): expected workgroup " +
              std::to_string(want_group) + ", invocation " + std::to_string(want_invocation) + ", a subgroup below " +
              std::to_string(max_subgroups) + "; the kernel wrote " + std::to_string(who[3 * e]) + ", " +
              std::to_string(who[3 * e + 1]) + ", " + std::to_string(who[3 * e + 2]);
    subgroups_by_index += who[3 * e + 2] == want_invocation / subgroup_size;
  }
  if (wrong.empty() && idle != launched - elements)
    wrong = "the kernel counted " + std::to_string(idle) + " idle invocations; " + std::to_string(launched) +
            " launched for " + std::to_string(elements) + " elements leaves " + std::to_string(launched - elements);
  v.check_passed = wrong.empty();
  v.check_message = wrong.empty() ? "every one of " + Count(elements) + " elements names the workgroup and invocation "
                                    "gl_GlobalInvocationID = gl_WorkGroupID * gl_WorkGroupSize + gl_LocalInvocationID "
                                    "gives, and " + Count(idle) + " idle invocations were counted"
                                  : wrong;
  v.figures["idle_invocations"] = idle;
  v.figures["subgroup_is_index_over_size"] = subgroups_by_index == elements ? 1 : 0;
  if (picture) {
    picture->width = width;
    picture->height = height;
    picture->workgroup_x = group_x;
    picture->workgroup_y = group_y;
    picture->grid_x = grid_x;
    picture->grid_y = grid_y;
    picture->subgroup_size = subgroup_size;
    picture->idle_invocations = idle;
    picture->workgroup_of.resize(elements);
    picture->invocation_of.resize(elements);
    picture->subgroup_of.resize(elements);
    for (uint64_t e = 0; e < elements; ++e) {
      picture->workgroup_of[e] = who[3 * e];
      picture->invocation_of[e] = who[3 * e + 1];
      picture->subgroup_of[e] = who[3 * e + 2];
    }
  }
}

}  // namespace

LessonResult RunGridLesson(LessonRun& run) {
  const uint32_t width = run.Knob32("size"), height = run.Knob32("height");
  const uint32_t group_x = run.Knob32("workgroup"), group_y = run.Knob32("workgroup_y");
  const vk::DeviceInfo& device = run.device();
  LessonResult result;
  result.shape = {width, height};

  // The learner's grid, its picture as the kernel wrote it.
  {
    GridRun g = MakeGridRun(run, width, height, group_x, group_y);
    Variant v = DescribeVariant("your grid " + std::to_string(group_x) + "x" + std::to_string(group_y),
                                "the dispatch you set: " + std::to_string(g.dispatch.workgroups[0]) + " x " +
                                    std::to_string(g.dispatch.workgroups[1]) + " workgroups of " +
                                    std::to_string(group_x) + " x " + std::to_string(group_y) + " invocations",
                                g.dispatch, kSpecNames);
    v.judged_against = Ceiling::kBandwidth;
    Judge(v, TimeDispatches(run, {g.dispatch}, [&](VkCommandBuffer cb) { vkCmdFillBuffer(cb, g.idle.handle(), 0, 16, 0); }),
          run.ceilings);
    GridPicture picture;
    CheckGrid(v, g, width, height, group_x, group_y, device.subgroup_size, &picture);
    result.grid = std::move(picture);
    result.variants.push_back(std::move(v));
  }

  // Time against workgroup size: a 512 x 512 grid of elements with
  // workgroups of w x 1 invocations, w = 1, 2, 4, ... 512.
  const uint32_t side = 512;
  Chart chart{"time against workgroup size (512 x 512 elements)", "invocations per workgroup", "ms", true, true, {}, {}};
  Series series{"measured", {}, {}};
  const uint32_t widest = std::min({side, device.max_workgroup_invocations, device.max_workgroup_size[0]});
  for (uint32_t w = 1; w <= widest; w *= 2) {
    run.Progress("workgroups of " + std::to_string(w), 0.1 + 0.8 * std::bit_width(w) / 10.0);
    GridRun g = MakeGridRun(run, side, side, w, 1);
    Variant v = DescribeVariant("workgroup " + std::to_string(w),
                                std::to_string(g.dispatch.workgroups[0] * g.dispatch.workgroups[1]) +
                                    " workgroups of " + std::to_string(w) + " for 512 x 512 elements",
                                g.dispatch, kSpecNames);
    v.judged_against = Ceiling::kBandwidth;
    Judge(v, TimeDispatches(run, {g.dispatch}, [&](VkCommandBuffer cb) { vkCmdFillBuffer(cb, g.idle.handle(), 0, 16, 0); }),
          run.ceilings);
    CheckGrid(v, g, side, side, w, 1, device.subgroup_size, nullptr);
    series.x.push_back(w);
    series.y.push_back(v.ms);
    result.variants.push_back(std::move(v));
  }
  chart.series.push_back(series);
  result.charts.push_back(chart);

  const GridPicture& p = *result.grid;
  const uint32_t last_x = width - 1, last_y = height - 1;
  result.notes.push_back(
      "Your dispatch: " + std::to_string(p.grid_x) + " x " + std::to_string(p.grid_y) + " workgroups (CUDA: blocks) of " +
      std::to_string(group_x) + " x " + std::to_string(group_y) + " invocations (threads) launched " +
      Count(uint64_t(p.grid_x) * p.grid_y * group_x * group_y) + " invocations for " + Count(uint64_t(width) * height) +
      " elements; the kernel counted " + Count(p.idle_invocations) + " of them idle at the bounds guard.");
  result.notes.push_back(
      "The last element (" + std::to_string(last_x) + ", " + std::to_string(last_y) + "): gl_WorkGroupID (" +
      std::to_string(last_x / group_x) + ", " + std::to_string(last_y / group_y) + ") * gl_WorkGroupSize (" +
      std::to_string(group_x) + ", " + std::to_string(group_y) + ") + gl_LocalInvocationID (" +
      std::to_string(last_x % group_x) + ", " + std::to_string(last_y % group_y) + ") = gl_GlobalInvocationID (" +
      std::to_string(last_x) + ", " + std::to_string(last_y) + ").");
  result.notes.push_back("Subgroups (CUDA: warps) on " + device.name + " hold " + std::to_string(device.subgroup_size) +
                         " invocations; a workgroup of fewer leaves lanes of its subgroup empty, and one that is not a "
                         "multiple leaves its last subgroup partly empty.");
  const Variant& first = result.variants[1];
  auto best = std::min_element(result.variants.begin() + 1, result.variants.end(),
                               [](const Variant& x, const Variant& y) { return x.ms < y.ms; });
  result.notes.push_back("512 x 512 elements took " + Fixed(first.ms, 2) + " ms with workgroups of 1 and " +
                         Fixed(best->ms, 2) + " ms at best (" + best->name + "): every workgroup has a fixed cost to "
                         "start, and " + std::string(device.is_software() ? "lavapipe runs a workgroup's invocations "
                         "on one CPU thread, a subgroup per SIMD step, so a workgroup narrower than a subgroup wastes "
                         "lanes." : "a GPU schedules whole subgroups, so a workgroup narrower than one wastes lanes."));
  return result;
}

}  // namespace ts::lab::detail
