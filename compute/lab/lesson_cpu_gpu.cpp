// Lesson 6: CPU against GPU, from tiny to large: an element-wise op
// (shaders/lab_cpu_gpu.comp) and a matrix multiply (the trainer's kernel),
// on one CPU thread, on all cores, and on the device with and without
// uploading the inputs and downloading the result.
#include <algorithm>
#include <cmath>

#include "compute/common/error.h"
#include "compute/kernels/matmul.h"
#include "compute/lab/lab_internal.h"
#include "compute/profile/occupancy.h"
#include "compute/reference/matmul.h"
#include "shaders/lab.h"

namespace ts::lab::detail {
namespace {

constexpr float kA = 1.5f;
constexpr uint32_t kGroup = 256;

struct Point {
  double cpu_one = 0, cpu_all = 0;
  double device = 0;                 // GPU timestamps: the kernel alone
  double device_wall = 0;            // wall clock: submit the recorded dispatch and wait, data resident
  double device_with_transfers = 0;  // wall clock: upload, dispatch, download
};

// Device time of `dispatch` alone (GPU timestamps), and on the wall clock
// (best of a few, as the CPU's times are) with the data resident and end to
// end: upload `inputs`, dispatch, download `output`.
Point DeviceTimes(const LessonRun& run, const vk::Dispatch& dispatch, std::vector<std::pair<vk::Buffer*, const std::vector<float>*>> inputs,
                  vk::Buffer& output, std::vector<float>& result, Variant& v) {
  Point p;
  const Timing timing = TimeDispatches(run, {dispatch});
  p.device = timing.ms;
  v.figures["runs"] = timing.runs;
  vk::Sequence sequence(run.context, {dispatch});
  p.device_wall = WallMs(
      [&] {
        run.context.RunOnce([&](VkCommandBuffer cb) {
          sequence.Record(cb, 0, false);
          vk::RecordComputeToHostBarrier(cb);
        });
      },
      3);
  p.device_with_transfers = WallMs(
      [&] {
        for (auto& [buffer, values] : inputs) buffer->UploadVector(std::span<const float>(*values));
        run.context.RunOnce([&](VkCommandBuffer cb) {
          vk::RecordTransferToComputeBarrier(cb);
          sequence.Record(cb, 0, false);
          vk::RecordComputeToHostBarrier(cb);
        });
        output.DownloadVector(std::span<float>(result));
      },
      3);
  return p;
}

void SetFigures(Variant& v, const Point& p, uint32_t threads) {
  v.figures["cpu_ms_one_thread"] = p.cpu_one;
  v.figures["cpu_ms_all_cores"] = p.cpu_all;
  v.figures["cpu_threads"] = threads;
  v.figures["device_ms"] = p.device;
  v.figures["device_ms_wall"] = p.device_wall;
  v.figures["device_ms_with_transfers"] = p.device_with_transfers;
}

// The first size at which `faster` beats `slower` from there on; 0 if never.
double Crossing(const std::vector<double>& sizes, const std::vector<double>& faster, const std::vector<double>& slower) {
  double at = 0;
  for (size_t i = sizes.size(); i-- > 0;) {
    if (faster[i] < slower[i])
      at = sizes[i];
    else
      break;
  }
  return at;
}

std::string CrossingText(double at, const std::string& unit) {
  return at > 0 ? "from " + Count(uint64_t(at)) + " " + unit + " on" : "at no size tried";
}

}  // namespace

LessonResult RunCpuVsGpuLesson(LessonRun& run) {
  const uint32_t largest = run.Knob32("size"), threads = CpuThreads();
  const vk::DeviceInfo& device = run.device();
  RequireBufferBytes(device, 4ull * largest, std::to_string(largest) + " floats");
  LessonResult result;
  result.shape = {largest};

  // ---- z = a x + y at 64, 256, 1024, ... floats.
  std::vector<double> sizes;
  Series e_one{"CPU, 1 thread", {}, {}}, e_all{"CPU, " + std::to_string(threads) + " threads", {}, {}},
      e_device{"device, data resident", {}, {}}, e_moved{"device + upload/download", {}, {}};
  for (uint64_t n = 64; n <= largest; n *= 4) {
    run.Progress("z = a x + y, " + Count(n) + " floats", 0.05 + 0.5 * std::log2(double(n)) / std::log2(double(largest)));
    const uint32_t count = static_cast<uint32_t>(n);
    const std::vector<float> x = RandomFloats(n, 10 + n), y = RandomFloats(n, 20 + n);
    std::vector<float> z(n), cpu_z(n);
    vk::Buffer bx = FloatBuffer(run.context, x, "lab x"), by = FloatBuffer(run.context, y, "lab y"),
               bz = PoisonedBuffer(run.context, n, "lab z");
    vk::Dispatch d;
    d.kernel = "lab_cpu_gpu";
    d.label = "z = a x + y";
    d.pipeline = &run.pipelines.Get("lab_cpu_gpu", {{0, kGroup}});
    d.bindings = {{&bx, 0, 0, vk::Access::kRead}, {&by, 0, 0, vk::Access::kRead}, {&bz, 0, 0, vk::Access::kWrite}};
    d.SetPushConstants(gpu::LabSaxpyParams{count, kA});
    const uint32_t groups = vk::DivideRoundUp(n, kGroup), gx = std::min<uint32_t>(groups, 32768);
    d.workgroups = {gx, vk::DivideRoundUp(groups, gx), 1};
    d.cost = {2.0 * n, 8.0 * n, 4.0 * n};
    Variant v = DescribeVariant("z = a x + y, " + Count(n), "element-wise, one float per invocation", d, {{0, "workgroup size"}});
    v.judged_against = Ceiling::kBandwidth;
    Point p;
    auto saxpy = [&](uint64_t begin, uint64_t end) {
      for (uint64_t i = begin; i < end; ++i) cpu_z[i] = std::fma(kA, x[i], y[i]);
    };
    p.cpu_one = WallMs([&] { saxpy(0, n); }, 3);
    p.cpu_all = WallMs([&] { ParallelRanges(n, threads, saxpy); }, 3);
    Point on_device = DeviceTimes(run, d, {{&bx, &x}, {&by, &y}}, bz, z, v);
    p.device = on_device.device;
    p.device_wall = on_device.device_wall;
    p.device_with_transfers = on_device.device_with_transfers;
    Judge(v, {p.device, uint32_t(v.figures["runs"])}, run.ceilings);
    SetFigures(v, p, threads);
    std::vector<double> want(n), tolerance(n);
    for (uint64_t i = 0; i < n; ++i) {
      want[i] = double(kA) * x[i] + y[i];
      tolerance[i] = 0x1p-23 * (std::abs(double(kA) * x[i]) + std::abs(y[i]));
    }
    CheckOutput(v, ReadFloats(bz, n), want, tolerance);
    sizes.push_back(double(n));
    e_one.x.push_back(n), e_one.y.push_back(p.cpu_one);
    e_all.x.push_back(n), e_all.y.push_back(p.cpu_all);
    e_device.x.push_back(n), e_device.y.push_back(p.device_wall);
    e_moved.x.push_back(n), e_moved.y.push_back(p.device_with_transfers);
    result.variants.push_back(std::move(v));
  }
  result.charts.push_back({"z = a x + y: time against size", "floats", "ms", true, true, {e_one, e_all, e_device, e_moved}, {}});

  // ---- C = A B at 16^3 ... 512^3 (or the largest size's square root).
  std::vector<double> sides;
  Series m_one{"CPU, 1 thread", {}, {}}, m_all{"CPU, " + std::to_string(threads) + " threads", {}, {}},
      m_device{"device, data resident", {}, {}}, m_moved{"device + upload/download", {}, {}};
  const uint32_t largest_side = std::min<uint32_t>(512, static_cast<uint32_t>(std::sqrt(double(largest))));
  for (uint32_t s = 16; s <= largest_side && device.subgroup_shuffle; s *= 2) {
    run.Progress("matmul " + std::to_string(s) + "^3", 0.55 + 0.4 * std::log2(s / 8.0) / 6.0);
    const uint64_t e = uint64_t(s) * s;
    const std::vector<float> a = RandomFloats(e, 30 + s), b = RandomFloats(e, 40 + s);
    std::vector<float> c(e);
    vk::Buffer ba = FloatBuffer(run.context, a, "lab A"), bb = FloatBuffer(run.context, b, "lab B"),
               bc = PoisonedBuffer(run.context, e, "lab C");
    kernels::MatmulArgs args;
    args.a = kernels::WholeBuffer(ba);
    args.b = kernels::WholeBuffer(bb);
    args.c = kernels::WholeBuffer(bc);
    args.a.count = args.b.count = args.c.count = e;
    args.m = args.n = args.k = s;
    vk::Dispatch d = kernels::MatmulDispatch(run.pipelines, args, kernels::DefaultMatmulVariant(device));
    Variant v = DescribeVariant("matmul " + std::to_string(s) + "^3",
                                "the trainer's matmul (this device's default variant) against the double-precision "
                                "i-k-j loop",
                                d, {});
    const reference::MatmulShape shape{s, s, s};
    std::vector<double> want;
    Point p;
    const uint32_t repeats = s <= 128 ? 3 : 1;
    p.cpu_one = WallMs([&] { want = reference::Matmul(a, b, shape); }, repeats);
    p.cpu_all = WallMs(
        [&] {
          ParallelRanges(s, threads, [&](uint64_t begin, uint64_t end) {
            reference::MatmulShape slice{uint32_t(end - begin), s, s};
            reference::Matmul(std::span<const float>(a).subspan(begin * s, (end - begin) * s), b, slice);
          });
        },
        repeats);
    Point on_device = DeviceTimes(run, d, {{&ba, &a}, {&bb, &b}}, bc, c, v);
    p.device = on_device.device;
    p.device_wall = on_device.device_wall;
    p.device_with_transfers = on_device.device_with_transfers;
    Judge(v, {p.device, uint32_t(v.figures["runs"])}, run.ceilings);
    SetFigures(v, p, threads);
    const std::vector<double> magnitude = reference::MatmulTermMagnitudes(a, b, shape);
    std::vector<double> tolerance(e);
    for (uint64_t i = 0; i < e; ++i) tolerance[i] = s * 0x1p-23 * magnitude[i] + 1e-30;
    CheckOutput(v, ReadFloats(bc, e), want, tolerance);
    sides.push_back(s);
    m_one.x.push_back(s), m_one.y.push_back(p.cpu_one);
    m_all.x.push_back(s), m_all.y.push_back(p.cpu_all);
    m_device.x.push_back(s), m_device.y.push_back(p.device_wall);
    m_moved.x.push_back(s), m_moved.y.push_back(p.device_with_transfers);
    result.variants.push_back(std::move(v));
  }
  if (!sides.empty())
    result.charts.push_back({"C = A B: time against matrix side", "M = N = K", "ms", true, true, {m_one, m_all, m_device, m_moved}, {}});

  // What to notice.
  const profile::Ceilings& c = run.ceilings;
  result.notes.push_back(
      "Every time on the charts is wall-clock time, best of 3, as a program would see it (the table's ms are "
      "the GPU timestamps of the kernel alone). z = a x + y: the device with its data resident beats one CPU thread " +
      CrossingText(Crossing(sizes, e_device.y, e_one.y), "floats") + "; counting the upload and download, " +
      CrossingText(Crossing(sizes, e_moved.y, e_one.y), "floats") + ".");
  result.notes.push_back(
      "Launch overhead: one tiny dispatch costs " + Fixed(c.single_dispatch_us) + " us end to end here (record, submit, "
      "wait) and " + Fixed(c.batched_dispatch_us) + " us inside a batch: below that much work, the CPU has finished "
      "before the device starts.");
  result.notes.push_back(
      "Transfer time = bytes / bandwidth: " + Fixed(c.upload_gbs, 1) + " GB/s up and " + Fixed(c.download_gbs, 1) +
      " GB/s down, measured here, so z = a x + y on " + Count(largest) + " floats moves " +
      vk::FormatBytes(12ull * largest) + " for 2 FLOPs per 12 bytes: an element-wise op alone never pays for its "
      "transfers; it pays when its data already live on the device (as a network's do between layers).");
  if (!sides.empty())
    result.notes.push_back("Matrix multiply does 2N^3 FLOPs on 3N^2 floats, so the work grows faster than the "
                           "transfers: the device with its data resident beats one CPU thread " +
                           CrossingText(Crossing(sides, m_device.y, m_one.y), "(matrix side)") + ", with transfers " +
                           CrossingText(Crossing(sides, m_moved.y, m_one.y), "(matrix side)") + ". The CPU side is the "
                           "double-precision reference loop, not a tuned BLAS.");
  const profile::DeviceModel model = profile::ModelDevice(device);
  if (model.theoretical_gflops() > 0)
    result.notes.push_back("FLOPS = units x clock x FLOPs per clock: the model of this device gives " +
                           Fixed(model.compute_units.value, 0) + " x " + Fixed(model.clock_mhz.value, 0) + " MHz x " +
                           Fixed(model.fp32_flops_per_clock_per_unit.value, 0) + " = " +
                           Fixed(model.theoretical_gflops(), 0) + " GFLOP/s (modelled) against " + Fixed(c.fp32_gflops, 1) +
                           " GFLOP/s measured by the FMA-chain kernel.");
  return result;
}

}  // namespace ts::lab::detail
