// Lesson 3: the matrix-multiply ladder (shaders/lab_matmul.comp, then the
// trainer's own autotuned kernel, compute/kernels/matmul.* and autotune.*).
#include <algorithm>
#include <cmath>

#include "compute/common/error.h"
#include "compute/kernels/autotune.h"
#include "compute/kernels/matmul.h"
#include "compute/lab/lab_internal.h"
#include "compute/reference/matmul.h"
#include "shaders/lab.h"

namespace ts::lab::detail {
namespace {

enum SpecId : uint32_t { kGroupX = 0, kGroupY = 1, kRung = 2, kTM = 3, kTN = 4, kBK = 5, kPad = 6, kVec4A = 7, kVec4B = 8 };
const std::map<uint32_t, std::string> kSpecNames = {
    {kGroupX, "workgroup x"}, {kGroupY, "workgroup y"}, {kRung, "rung (0 naive, 1 coalesced, 2 tiled)"},
    {kTM, "TM (rows per invocation)"}, {kTN, "TN (columns per invocation)"}, {kBK, "BK (tile depth)"},
    {kPad, "padding words per tile row"}, {kVec4A, "vec4 reads of A"}, {kVec4B, "vec4 reads of B"},
    {kRecordWorkgroupsSpecId, "recorded workgroups"}};
// matmul.comp's constants (compute/kernels/matmul.cpp), for the trainer's rung.
const std::map<uint32_t, std::string> kTrainerSpecNames = {
    {0, "group cols"}, {1, "group rows"}, {2, "variant (0 register-blocked, 1 shared-tiled)"},
    {3, "RM (rows per invocation)"}, {4, "RN (columns per invocation)"}, {5, "TK (tile depth)"},
    {6, "invocations sharing A"}, {7, "transpose A"}, {8, "transpose B"}, {9, "vec4 A"}, {10, "vec4 B"},
    {11, "accumulate"}, {12, "texel reads of A"}, {13, "texel reads of B"}};

constexpr uint32_t kRecordBinding = 3;

// One rung of lab_matmul.comp.
struct Rung {
  std::string name, what_changed;
  uint32_t kind = 0;  // 0 naive, 1 coalesced, 2 tiled
  uint32_t group_x = 16, group_y = 16, tm = 1, tn = 1, bk = 16, pad = 0;
  bool vec4 = false;
  uint32_t tile_rows() const { return group_y * tm; }
  uint32_t tile_cols() const { return group_x * tn; }
  uint64_t shared_bytes() const {
    return kind == 2 ? 4ull * bk * (tile_rows() + pad + tile_cols() + pad) : 0;
  }
};

struct Matrices {
  uint32_t n = 0;
  vk::Buffer a, b, c;
};

// Bytes a tiled kernel with `grid` workgroups (x along N, y along M) loads
// from global memory: A once per column of workgroups, B once per row, C
// written once.
double TiledBytes(uint64_t n, const uint32_t grid[3]) {
  return 4.0 * (double(n * n) * grid[0] + double(n * n) * grid[1] + double(n * n));
}

vk::Dispatch RungDispatch(const LessonRun& run, const Rung& rung, const Matrices& m) {
  const uint32_t n = m.n;
  vk::SpecConstants spec{{kGroupX, rung.group_x}, {kGroupY, rung.group_y}, {kRung, rung.kind}, {kTM, rung.tm},
                         {kTN, rung.tn},          {kBK, rung.bk},          {kPad, rung.pad}};
  const bool vec4_a = rung.vec4 && n % 4 == 0 && rung.bk % 4 == 0;
  const bool vec4_b = rung.vec4 && n % 4 == 0 && rung.tile_cols() % 4 == 0;
  spec[kVec4A] = vec4_a;
  spec[kVec4B] = vec4_b;
  vk::Dispatch d;
  d.kernel = "lab_matmul";
  d.label = rung.name;
  d.pipeline = &run.pipelines.Get("lab_matmul", spec);
  d.bindings = {{&m.a, 0, 0, vk::Access::kRead}, {&m.b, 0, 0, vk::Access::kRead}, {&m.c, 0, 0, vk::Access::kWrite},
                NoRecords()};
  d.SetPushConstants(gpu::LabMatmulParams{n, n, n});
  if (rung.kind == 2)
    d.workgroups = {vk::DivideRoundUp(n, rung.tile_cols()), vk::DivideRoundUp(n, rung.tile_rows()), 1};
  else  // one invocation per element of the square C, whichever way x runs
    d.workgroups = {vk::DivideRoundUp(n, rung.group_x), vk::DivideRoundUp(n, rung.group_y), 1};
  d.cost.flops = 2.0 * n * double(n) * n;
  if (rung.kind == 2) {
    d.cost.bytes_read = TiledBytes(n, d.workgroups.data()) - 4.0 * n * n;
  } else {
    d.cost.bytes_read = 8.0 * n * double(n) * n;  // 2 K floats per element of C
  }
  d.cost.bytes_written = 4.0 * n * n;
  return d;
}

std::vector<Rung> Ladder(uint32_t tile, uint32_t side) {
  const std::string t = std::to_string(tile) + "x" + std::to_string(tile);
  std::vector<Rung> rungs;
  rungs.push_back({"naive", "one element of C per invocation; neighbouring invocations (x) walk down a column of C, "
                   "so at each step they read floats of A that are K apart and write C N apart",
                   0, side, side});
  rungs.push_back({"coalesced", "the same arithmetic with x along a row of C: neighbours read neighbouring floats of "
                   "B (one wide access) and one float of A (a broadcast)",
                   1, side, side});
  rungs.push_back({"shared " + t, "the workgroup stages " + t + " tiles of A and B in shared memory (barrier), then "
                   "every invocation reads K from there: each float loaded from memory serves " + std::to_string(tile) +
                   " invocations",
                   2, tile, tile, 1, 1, tile, 0});
  rungs.push_back({"shared " + t + " padded", "the staged tiles get one extra column (a stride of " +
                   std::to_string(tile + 1) + " words) so a subgroup's transposing stores fall into different banks",
                   2, tile, tile, 1, 1, tile, 1});
  rungs.push_back({"1D register blocking", "each invocation computes 4 elements of a column of C, keeping the value "
                   "of B it read in a register for all 4: a " + std::to_string(4 * tile) + "x" + std::to_string(tile) +
                   " tile per workgroup, 8 deep",
                   2, tile, tile, 4, 1, 8, 1});
  rungs.push_back({"2D register blocking", "each invocation computes a 4x4 block of C: 8 shared loads feed 16 "
                   "multiply-adds (" + std::to_string(4 * tile) + "x" + std::to_string(4 * tile) + " tiles, 8 deep)",
                   2, tile, tile, 4, 4, 8, 1});
  rungs.push_back({"vec4 reads", "the 2D-blocked kernel loads A and B from memory as vec4s (4 floats per load) where "
                   "N and K are multiples of 4",
                   2, tile, tile, 4, 4, 8, 1, true});
  return rungs;
}

void CheckLimits(const LessonRun& run, const std::vector<Rung>& rungs, uint32_t n) {
  const vk::DeviceInfo& device = run.device();
  RequireBufferBytes(device, 4ull * n * n, "A " + std::to_string(n) + "x" + std::to_string(n) + " matrix");
  for (const Rung& rung : rungs) {
    RequireWorkgroup(device, rung.group_x, rung.group_y, "The '" + rung.name + "' rung");
    RequireSharedMemory(device, rung.shared_bytes(), "The '" + rung.name + "' rung");
  }
}

// The trainer's matmul as the ladder's last rung: the autotuner's choice for
// this shape on this device (cached per device and shape).
Variant TrainerRung(const LessonRun& run, const Matrices& m, std::string* chosen) {
  kernels::MatmulShape shape{m.n, m.n, m.n, false, false};
  kernels::MatmulTuneResult tuned = kernels::TuneMatmul(run.context, run.pipelines, shape);
  *chosen = tuned.chosen.name();
  kernels::MatmulArgs args;
  args.a = kernels::WholeBuffer(m.a);
  args.b = kernels::WholeBuffer(m.b);
  args.c = kernels::WholeBuffer(m.c);
  args.a.count = args.b.count = args.c.count = uint64_t(m.n) * m.n;
  args.m = args.n = args.k = m.n;
  vk::Dispatch d = kernels::MatmulDispatch(run.pipelines, args, tuned.chosen.variant, tuned.chosen.tiling);
  d.cost.bytes_read = TiledBytes(m.n, d.workgroups.data()) - 4.0 * m.n * m.n;
  Variant v = DescribeVariant("trainer: " + *chosen,
                              "Tensorscope's own matmul, the candidate its autotuner measured fastest for this shape "
                              "on this device (" + std::string(tuned.from_cache ? "cached choice" : "tuned just now") +
                                  ")",
                              d, kTrainerSpecNames);
  Judge(v, TimeDispatches(run, {d}), run.ceilings);
  return v;
}

}  // namespace

LessonResult RunMatmulLesson(LessonRun& run) {
  const uint32_t n = run.Knob32("size"), tile = run.Knob32("tile"), side = run.Knob32("workgroup");
  const vk::DeviceInfo& device = run.device();
  std::vector<Rung> rungs = Ladder(tile, side);
  CheckLimits(run, rungs, n);
  RequireWorkgroupCount(device, vk::DivideRoundUp(n, std::min(side, tile)), vk::DivideRoundUp(n, std::min(side, tile)),
                        "A " + std::to_string(n) + "x" + std::to_string(n) + " matrix");

  LessonResult result;
  result.shape = {n, n, n};
  const uint64_t elements = uint64_t(n) * n;
  const std::vector<float> a = RandomFloats(elements, 1), b = RandomFloats(elements, 2);
  Matrices m{n, FloatBuffer(run.context, a, "lab A"), FloatBuffer(run.context, b, "lab B"),
             PoisonedBuffer(run.context, elements, "lab C")};

  // The double-precision reference, timed as the CPU's side of the comparison:
  // the same loop (i-k-j) on one thread and on a slice of rows per core.
  run.Progress("CPU reference", 0.02);
  const reference::MatmulShape shape{n, n, n};
  std::vector<double> want;
  const double cpu_one_ms = WallMs([&] { want = reference::Matmul(a, b, shape); });
  std::vector<double> parallel(elements);
  const uint32_t threads = CpuThreads();
  const double cpu_all_ms = WallMs([&] {
    ParallelRanges(n, threads, [&](uint64_t begin, uint64_t end) {
      reference::MatmulShape slice{uint32_t(end - begin), n, n};
      std::vector<double> rows = reference::Matmul(std::span<const float>(a).subspan(begin * n, (end - begin) * n), b, slice);
      std::copy(rows.begin(), rows.end(), parallel.begin() + begin * n);
    });
  });
  Require(parallel == want, "The CPU reference split over threads disagrees with the one-thread loop (a bug).");
  const std::vector<double> magnitude = reference::MatmulTermMagnitudes(a, b, shape);
  std::vector<double> tolerance(elements);
  for (size_t i = 0; i < elements; ++i) tolerance[i] = n * 0x1p-23 * magnitude[i] + 1e-30;

  auto finish = [&](Variant& v) {
    v.figures["cpu_ms_one_thread"] = cpu_one_ms;
    v.figures["cpu_ms_all_cores"] = cpu_all_ms;
    v.figures["cpu_threads"] = threads;
    v.figures["flops_per_byte"] = v.bytes > 0 ? v.flops / v.bytes : 0;
    std::vector<float> got = ReadFloats(m.c, elements);
    CheckOutput(v, got, want, tolerance);
    m.c = PoisonedBuffer(run.context, elements, "lab C");  // the next rung must write every element again
  };

  for (size_t i = 0; i < rungs.size(); ++i) {
    const Rung& rung = rungs[i];
    run.Progress(rung.name, 0.05 + 0.8 * double(i) / rungs.size());
    vk::Dispatch d = RungDispatch(run, rung, m);
    std::string what = rung.what_changed;
    if (rung.vec4 && !(d.pipeline->spec().at(kVec4A) && d.pipeline->spec().at(kVec4B)))
      what += " (here scalar loads: " + std::to_string(n) + " is not a multiple of 4)";
    Variant v = DescribeVariant(rung.name, what, d, kSpecNames);
    Judge(v, TimeDispatches(run, {d}), run.ceilings);
    finish(v);
    result.variants.push_back(std::move(v));
  }

  std::string trainer_choice;
  if (device.subgroup_shuffle) {
    run.Progress("the trainer's kernel (autotuning this shape)", 0.85);
    Variant v = TrainerRung(run, m, &trainer_choice);
    finish(v);
    result.variants.push_back(std::move(v));
  }

  // The instrumented runs: the shared rungs, padded and not, record workgroup
  // 0's accesses; the bank model counts their conflicts.
  if (run.options.instrument) {
    run.Progress("instrumented run (workgroup 0's accesses)", 0.95);
    const uint64_t tiles = (n + tile - 1) / tile, invocations = uint64_t(tile) * tile;
    const uint64_t capacity = std::min<uint64_t>(tiles * (4 * invocations + 2 * invocations * tile) + invocations + 64,
                                                 (device.max_storage_buffer_range - 16) / 32);
    for (int padded = 0; padded < 2; ++padded) {
      Variant& v = result.variants[2 + padded];
      AccessTrace trace = RecordAccesses(run, RungDispatch(run, rungs[2 + padded], m), kRecordBinding, 1, capacity);
      trace.buffer_names = {"A", "B", "C"};
      trace.shared_names = {"tile A (transposed)", "tile B"};
      trace.step_meaning = "K tile t spans steps t x " + std::to_string(2 + tile) + " ...: one step staging A, one "
                           "staging B (rounds of " + std::to_string(invocations) + " loads), then " +
                           std::to_string(tile) + " multiply-add steps; C is written after the last";
      v.bank_conflicts = CountBankConflicts(trace);
      v.figures["bank_conflicts_workgroups"] = trace.workgroups_recorded;
      if (!padded) {
        result.trace = std::move(trace);
        result.traced_variant = v.name;
      }
    }
  }

  // Charts: GFLOP/s per rung against the ceiling, and the roofline.
  Chart ladder{"GFLOP/s per rung", "rung", "GFLOP/s", false, false, {}, run.ceilings.fp32_gflops};
  Chart roofline{"roofline", "FLOPs per byte loaded", "GFLOP/s", true, true, {}, run.ceilings.fp32_gflops};
  Series measured{"measured", {}, {}};
  for (size_t i = 0; i < result.variants.size(); ++i) {
    measured.x.push_back(double(i + 1));
    measured.y.push_back(result.variants[i].gflops);
    roofline.series.push_back({result.variants[i].name, {result.variants[i].flops / result.variants[i].bytes},
                               {result.variants[i].gflops}});
  }
  ladder.series.push_back(measured);
  result.charts = {ladder, roofline};

  // What to notice, with this run's numbers.
  const std::vector<Variant>& v = result.variants;
  auto best = std::min_element(v.begin(), v.end(), [](const Variant& x, const Variant& y) { return x.ms < y.ms; });
  const double gf = run.ceilings.fp32_gflops;
  result.notes.push_back("On " + device.name + " the naive rung reached " + Fixed(v[0].gflops, 2) +
                         " GFLOP/s and the fastest, '" + best->name + "', " + Fixed(best->gflops, 2) + " GFLOP/s (" +
                         Fixed(best->percent_of_ceiling) + "% of the measured FMA ceiling of " + Fixed(gf) +
                         " GFLOP/s): " + Fixed(v[0].ms / best->ms) + "x faster with the same arithmetic.");
  result.notes.push_back("Coalescing: x along a row of C instead of down a column changed the time " +
                         Fixed(v[0].ms, 2) + " ms -> " + Fixed(v[1].ms, 2) + " ms here. On a GPU the 32 threads of a warp then read "
                         "one 128-byte line of B instead of 32 lines of A (Simon Boehm's A6000: 309 to 1987 GFLOP/s).");
  const std::string shared_vs = "the " + v[2].name + " rung took " + Fixed(v[2].ms, 2) + " ms against the coalesced "
                                "rung's " + Fixed(v[1].ms, 2) + " ms, 2D register blocking " + Fixed(v[5].ms, 2) +
                                " ms (" + Fixed(v[2].ms / v[5].ms, 1) + "x the shared tile's speed)";
  const bool trainer_fastest = !trainer_choice.empty() && &*best == &v.back();
  if (device.is_software())
    result.notes.push_back(
        "Why this ladder climbs differently on " + device.name + ": it is a software driver, where shared memory is "
        "ordinary CPU memory reached through the same per-lane loop as a storage buffer, and barrier() ends one loop "
        "over the workgroup's invocations and starts another, so staging tiles saves no memory traffic and costs "
        "extra loads and stores; what pays is fewer loads per multiply-add, i.e. registers. Here " + shared_vs +
        (trainer_fastest ? ", and the fastest rung is the trainer's kernel, which keeps its blocks in registers and "
                           "reads no shared memory at all."
                         : ". At this size the fastest rung is '" + best->name + "'; below about 256^3 a dispatch's "
                           "fixed cost hides the kernels' differences.") +
        " On a GPU the order is the textbook one (shared tiles first, then registers): do not carry this habit there.");
  else
    result.notes.push_back(
        "On a GPU shared memory is on-chip and a tile is read from it many times for one load from DRAM, so the shared "
        "rung is a big step, and register blocking then removes most shared-memory loads: " + shared_vs + ". On a "
        "software driver such as lavapipe the shared step gains nothing: there shared memory is ordinary memory "
        "behind a per-lane loop, and registers are what win.");
  if (v[2].bank_conflicts && v[3].bank_conflicts)
    result.notes.push_back(
        "Bank conflicts (32 banks of 4 bytes, counted from workgroup 0's recorded shared-memory addresses, " +
        std::to_string(device.subgroup_size) + "-lane subgroups): the " + v[2].name + " tile's transposing stores "
        "made " + Count(*v[2].bank_conflicts) + " conflicts, the padded one " + Count(*v[3].bank_conflicts) +
        ". Its time: " + Fixed(v[2].ms, 2) + " ms against " + Fixed(v[3].ms, 2) + " ms" +
        (device.is_software() ? " (a CPU has no shared-memory banks: a difference here is noise or the padded "
                                "layout's other effects, not conflicts)."
                              : "."));
  result.notes.push_back("The CPU reference (double precision, i-k-j loop) took " + Fixed(cpu_one_ms, 1) +
                         " ms on one thread and " + Fixed(cpu_all_ms, 1) + " ms on " + std::to_string(threads) +
                         " threads; the fastest rung took " + Fixed(best->ms, 2) + " ms.");
  const double ridge = gf / std::max(1e-9, run.ceilings.bandwidth_gbs);
  result.notes.push_back("Roofline: the bytes of each rung are the loads it issues to memory. Naive and coalesced load "
                         "2K floats per element of C (" + Fixed(v[0].flops / v[0].bytes, 2) + " FLOP/byte); " +
                         std::to_string(4 * tile) + "x" + std::to_string(4 * tile) + " register-blocked tiles reach " +
                         Fixed(v[5].flops / v[5].bytes, 1) + " FLOP/byte, " +
                         (v[5].flops / v[5].bytes > ridge ? "right" : "left") + " of this device's ridge point at " +
                         Fixed(ridge, 1) + " FLOP/byte (FMA ceiling / bandwidth ceiling): " +
                         (v[5].flops / v[5].bytes > ridge ? "compute-bound" : "memory-bound") + " by the roofline.");
  if (!trainer_choice.empty())
    result.notes.push_back("The trainer's autotuner chose '" + trainer_choice + "' for " + std::to_string(n) + "^3 on "
                           "this device. Its candidates are register-blocked and shared-tiled kernels; its default, "
                           "where nothing was measured, is shared tiles on GPUs and register blocks on software "
                           "drivers.");
  return result;
}

}  // namespace ts::lab::detail
