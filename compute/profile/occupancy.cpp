#include "compute/profile/occupancy.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <iomanip>
#include <limits>
#include <sstream>
#include <thread>
#include <tuple>

#include "compute/common/error.h"
#include "compute/nn/model.h"

namespace ts::profile {
namespace {

constexpr uint32_t kVendorNvidia = 0x10DE, kVendorAmd = 0x1002, kVendorIntel = 0x8086;
constexpr uint32_t kVendorMesa = 0x10005;  // VK_VENDOR_ID_MESA (lavapipe)
constexpr uint32_t kUnlimited = std::numeric_limits<uint32_t>::max();

const char* const kSoftwareVendor = "software (CPU)";

Figure Table(double value, const std::string& note) { return {value, Source::kModelled, note}; }

// One architecture's documented limits, in the units DeviceModel uses.
struct RowSpec {
  const char* vendor;
  const char* architecture;
  const char* unit_name;
  const char* source;  // the document the figures come from
  double subgroup_size, max_subgroups, max_workgroups, registers, max_registers, register_granularity,
      register_partitions, shared_per_unit, shared_per_workgroup, shared_granularity, shared_reserved, clock_mhz,
      fp32_lanes;
};

DeviceModel MakeRow(const RowSpec& r) {
  DeviceModel m;
  m.vendor = r.vendor;
  m.architecture = r.architecture;
  m.unit_name = r.unit_name;
  const std::string note = std::string(r.vendor) + " " + r.architecture + " table (" + r.source + ")";
  m.compute_units = Table(0, "depends on the product");
  m.subgroup_size = Table(r.subgroup_size, note);
  m.max_subgroups_per_unit = Table(r.max_subgroups, note);
  m.max_workgroups_per_unit = Table(r.max_workgroups, note);
  m.registers_per_unit = Table(r.registers, r.registers > 0 ? note : note + "; registers do not limit occupancy here");
  m.max_registers_per_invocation =
      Table(r.max_registers, r.max_registers > 0 ? note : note + "; the compiler picks a narrower SIMD width instead");
  m.register_granularity = Table(r.register_granularity, note);
  m.register_partitions = Table(r.register_partitions, note);
  m.max_workgroup_invocations = Table(1024, "Vulkan's usual maxComputeWorkGroupInvocations");
  m.shared_memory_per_unit = Table(r.shared_per_unit, note);
  m.shared_memory_per_workgroup_max = Table(r.shared_per_workgroup, note);
  m.shared_memory_granularity = Table(r.shared_granularity, note);
  m.shared_memory_reserved_per_workgroup = Table(r.shared_reserved, note);
  m.clock_mhz = Table(r.clock_mhz, "typical boost clock of the architecture's flagship");
  m.fp32_flops_per_clock_per_unit = Table(2 * r.fp32_lanes, note + "; an FMA is 2 FLOPs");
  return m;
}

constexpr double KiB = 1024;

// NVIDIA: the CUDA C++ Programming Guide, "Compute Capabilities", table
// "Technical Specifications per Compute Capability" (resident warps and
// blocks per SM, 32-bit registers per SM and per thread, shared memory per SM
// and per block, 1 KB reserved per block from CC 8.0), and its arithmetic
// instruction throughput table (FP32 results per clock per SM). Allocation
// units as NVIDIA's occupancy calculator (cuda_occupancy.h) uses them:
// registers per warp in units of 256, in 4 SM sub-partitions (2 on GP100);
// shared memory in units of 256 bytes up to CC 7.x, 128 bytes from CC 8.0.
// The per-block shared-memory maximum is the opt-in one; Vulkan's
// maxComputeSharedMemorySize, where the driver reports it, replaces it.
//
// AMD: GCN / Vega ISA and the "AMD Graphics Cores Next Architecture" white
// paper (4 SIMD16 per CU, 10 waves per SIMD, 256 VGPRs per lane per SIMD in
// blocks of 4, 64 KiB LDS per CU, LDS_SIZE in 128-dword blocks); the CDNA2
// ISA (8 waves per SIMD, 512 unified VGPRs + AGPRs, blocks of 8); the "RDNA
// Architecture" white paper and RDNA / RDNA2 / RDNA3 ISA guides (2 SIMD32 per
// CU, 1024 VGPRs per lane per SIMD for wave32, 1536 on Navi 31/32, 20 waves
// per SIMD on RDNA1, 16 on RDNA2/3, 64 KiB LDS per CU = 128 KiB per WGP,
// RDNA3 dual-issue). Workgroups per CU (16) is the barrier-slot limit GCN
// documents; RDNA does not document it and keeps the figure.
//
// Intel: the oneAPI GPU Optimization Guide ("Intel Xe GPU Architecture",
// "Thread mapping and GPU occupancy") and the Gen9 / Xe-LP / Xe-HPG
// architecture papers: a subgroup runs on one hardware thread; 7 threads per
// EU on Gen9 and Xe-LP, 8 per vector engine on Xe-HPG; 8 FP32 lanes per EU;
// 64 KiB SLM per subslice / Xe-core. Each hardware thread owns a fixed GRF
// (128 x 32 bytes), so register use changes the SIMD width the compiler
// picks, not how many threads are resident: registers do not limit here.
const std::vector<RowSpec>& RowSpecs() {
  static const std::vector<RowSpec> rows = {
      // vendor, architecture, unit, source,
      //   subgroup, subgroups/unit, workgroups/unit, registers, max regs, reg unit, partitions,
      //   shared/unit, shared/workgroup, shared unit, reserved, clock, FP32 lanes
      {"NVIDIA", "Pascal (GP100, CC 6.0)", "SM", "CUDA Programming Guide, CC 6.0",
       32, 64, 32, 65536, 255, 256, 2, 64 * KiB, 48 * KiB, 256, 0, 1480, 64},
      {"NVIDIA", "Pascal (GP10x, CC 6.1)", "SM", "CUDA Programming Guide, CC 6.1",
       32, 64, 32, 65536, 255, 256, 4, 96 * KiB, 48 * KiB, 256, 0, 1582, 128},
      {"NVIDIA", "Volta (CC 7.0)", "SM", "CUDA Programming Guide, CC 7.0",
       32, 64, 32, 65536, 255, 256, 4, 96 * KiB, 96 * KiB, 256, 0, 1530, 64},
      {"NVIDIA", "Turing (CC 7.5)", "SM", "CUDA Programming Guide, CC 7.5",
       32, 32, 16, 65536, 255, 256, 4, 64 * KiB, 64 * KiB, 256, 0, 1590, 64},
      {"NVIDIA", "Ampere (GA100, CC 8.0)", "SM", "CUDA Programming Guide, CC 8.0",
       32, 64, 32, 65536, 255, 256, 4, 164 * KiB, 163 * KiB, 128, 1 * KiB, 1410, 64},
      {"NVIDIA", "Ampere (GA10x, CC 8.6)", "SM", "CUDA Programming Guide, CC 8.6",
       32, 48, 16, 65536, 255, 256, 4, 100 * KiB, 99 * KiB, 128, 1 * KiB, 1695, 128},
      {"NVIDIA", "Ada (CC 8.9)", "SM", "CUDA Programming Guide, CC 8.9",
       32, 48, 24, 65536, 255, 256, 4, 100 * KiB, 99 * KiB, 128, 1 * KiB, 2520, 128},
      {"NVIDIA", "Hopper (CC 9.0)", "SM", "CUDA Programming Guide, CC 9.0",
       32, 64, 32, 65536, 255, 256, 4, 228 * KiB, 227 * KiB, 128, 1 * KiB, 1980, 128},
      {"NVIDIA", "Blackwell (CC 10.0)", "SM", "CUDA Programming Guide, CC 10.0",
       32, 64, 32, 65536, 255, 256, 4, 228 * KiB, 227 * KiB, 128, 1 * KiB, 1965, 128},
      {"NVIDIA", "unrecognised (CC 8.6 figures)", "SM", "CUDA Programming Guide, CC 8.6",
       32, 48, 16, 65536, 255, 256, 4, 100 * KiB, 99 * KiB, 128, 1 * KiB, 0, 128},
      {"AMD", "GCN", "CU", "GCN white paper, Vega ISA",
       64, 40, 16, 4 * 256 * 64, 256, 4 * 64, 4, 64 * KiB, 64 * KiB, 512, 0, 1546, 64},
      {"AMD", "CDNA", "CU", "CDNA2 ISA",
       64, 32, 16, 4 * 512 * 64, 512, 8 * 64, 4, 64 * KiB, 64 * KiB, 512, 0, 1700, 64},
      {"AMD", "RDNA1", "CU", "RDNA white paper, RDNA ISA",
       32, 40, 16, 2 * 1024 * 32, 256, 8 * 32, 2, 64 * KiB, 64 * KiB, 512, 0, 1905, 64},
      {"AMD", "RDNA2", "CU", "RDNA2 ISA",
       32, 32, 16, 2 * 1024 * 32, 256, 8 * 32, 2, 64 * KiB, 64 * KiB, 512, 0, 2250, 64},
      {"AMD", "RDNA3", "CU", "RDNA3 ISA (Navi 31/32)",
       32, 32, 16, 2 * 1536 * 32, 256, 24 * 32, 2, 64 * KiB, 64 * KiB, 512, 0, 2500, 128},
      {"AMD", "unrecognised (RDNA2 figures)", "CU", "RDNA2 ISA",
       32, 32, 16, 2 * 1024 * 32, 256, 8 * 32, 2, 64 * KiB, 64 * KiB, 512, 0, 0, 64},
      {"Intel", "Gen9", "subslice", "Gen9 compute architecture paper",
       16, 8 * 7, 16, 0, 0, 0, 1, 64 * KiB, 64 * KiB, 1 * KiB, 0, 1150, 8 * 8},
      {"Intel", "Xe-LP", "subslice", "oneAPI GPU Optimization Guide, Xe-LP",
       16, 16 * 7, 16, 0, 0, 0, 1, 64 * KiB, 64 * KiB, 1 * KiB, 0, 1300, 16 * 8},
      {"Intel", "Xe-HPG", "Xe-core", "oneAPI GPU Optimization Guide, Xe-HPG",
       16, 16 * 8, 32, 0, 0, 0, 1, 64 * KiB, 64 * KiB, 1 * KiB, 0, 2100, 16 * 8},
      {"Intel", "unrecognised (Xe-LP figures)", "subslice", "oneAPI GPU Optimization Guide, Xe-LP",
       16, 16 * 7, 16, 0, 0, 0, 1, 64 * KiB, 64 * KiB, 1 * KiB, 0, 0, 16 * 8},
      // The figures of a vendor we have no table for: a generic GPU, every one a guess.
      {"unknown", "generic GPU", "compute unit", "no documented table; generic guesses",
       32, 32, 16, 65536, 255, 256, 4, 48 * KiB, 48 * KiB, 256, 0, 0, 64},
  };
  return rows;
}

// Products whose SM/CU count and boost clock we know (from the vendors' data
// sheets), matched by the tokens of the device name.
struct Product {
  uint32_t vendor_id;
  std::vector<const char*> tokens;  // every one must appear in the name
  const char* name;
  double units, clock_mhz;
};

const std::vector<Product>& Products() {
  static const std::vector<Product> products = {
      {kVendorNvidia, {"H100", "PCIE"}, "H100 PCIe", 114, 1755},
      {kVendorNvidia, {"H100", "NVL"}, "H100 NVL", 132, 1785},
      {kVendorNvidia, {"H100"}, "H100 SXM5", 132, 1980},
      {kVendorNvidia, {"H200"}, "H200", 132, 1980},
      {kVendorNvidia, {"A100"}, "A100", 108, 1410},
      {kVendorNvidia, {"A30"}, "A30", 56, 1440},
      {kVendorNvidia, {"V100"}, "V100", 80, 1530},
      {kVendorNvidia, {"P100"}, "P100", 56, 1480},
      {kVendorNvidia, {"T4"}, "T4", 40, 1590},
      {kVendorNvidia, {"A10"}, "A10", 72, 1695},
      {kVendorNvidia, {"A10G"}, "A10G", 80, 1710},
      {kVendorNvidia, {"A40"}, "A40", 84, 1740},
      {kVendorNvidia, {"L4"}, "L4", 58, 2040},
      {kVendorNvidia, {"L40S"}, "L40S", 142, 2520},
      {kVendorNvidia, {"L40"}, "L40", 142, 2490},
      {kVendorNvidia, {"RTX", "4090"}, "GeForce RTX 4090", 128, 2520},
      {kVendorNvidia, {"RTX", "4080"}, "GeForce RTX 4080", 76, 2505},
      {kVendorNvidia, {"RTX", "3090"}, "GeForce RTX 3090", 82, 1695},
      {kVendorNvidia, {"RTX", "3080"}, "GeForce RTX 3080", 68, 1710},
      {kVendorNvidia, {"RTX", "2080"}, "GeForce RTX 2080", 46, 1710},
      {kVendorNvidia, {"GTX", "1080"}, "GeForce GTX 1080", 20, 1733},
      {kVendorAmd, {"7900", "XTX"}, "Radeon RX 7900 XTX", 96, 2500},
      {kVendorAmd, {"6900", "XT"}, "Radeon RX 6900 XT", 80, 2250},
      {kVendorAmd, {"6800", "XT"}, "Radeon RX 6800 XT", 72, 2250},
      {kVendorAmd, {"5700", "XT"}, "Radeon RX 5700 XT", 40, 1905},
      {kVendorAmd, {"MI250X"}, "Instinct MI250X", 220, 1700},
      {kVendorIntel, {"A770"}, "Arc A770", 32, 2100},
  };
  return products;
}

std::string Upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

// The device name's words, upper case, split at spaces, dashes, brackets and commas.
std::vector<std::string> Tokens(const std::string& name) {
  std::vector<std::string> tokens;
  std::string token;
  for (char c : Upper(name)) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      token += c;
    } else if (!token.empty()) {
      tokens.push_back(token);
      token.clear();
    }
  }
  if (!token.empty()) tokens.push_back(token);
  return tokens;
}

bool Has(const std::vector<std::string>& tokens, const std::string& word) {
  return std::find(tokens.begin(), tokens.end(), word) != tokens.end();
}
bool HasPrefix(const std::vector<std::string>& tokens, const std::string& prefix) {
  return std::any_of(tokens.begin(), tokens.end(), [&](const std::string& t) { return t.rfind(prefix, 0) == 0; });
}
// A token of `digits` digits starting with `prefix` (e.g. "30" and 4: RTX 3060 ... 3090).
bool HasModelNumber(const std::vector<std::string>& tokens, const std::string& prefix, size_t digits) {
  return std::any_of(tokens.begin(), tokens.end(), [&](const std::string& t) {
    return t.size() == digits && t.rfind(prefix, 0) == 0 &&
           std::all_of(t.begin(), t.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
  });
}

std::string NvidiaArchitecture(const std::vector<std::string>& t) {
  if (Has(t, "H100") || Has(t, "H200") || Has(t, "H800") || Has(t, "GH200") || Has(t, "H20"))
    return "Hopper (CC 9.0)";
  if (Has(t, "B100") || Has(t, "B200") || Has(t, "GB200")) return "Blackwell (CC 10.0)";
  if (Has(t, "A100") || Has(t, "A800") || Has(t, "A30")) return "Ampere (GA100, CC 8.0)";
  if (Has(t, "ADA") || Has(t, "L4") || Has(t, "L40") || Has(t, "L40S") || Has(t, "L20") ||
      (Has(t, "RTX") && HasModelNumber(t, "40", 4)))
    return "Ada (CC 8.9)";
  if (Has(t, "A10") || Has(t, "A10G") || Has(t, "A40") || Has(t, "A16") || Has(t, "A2") ||
      (Has(t, "RTX") && (HasModelNumber(t, "30", 4) || HasPrefix(t, "A1") || HasPrefix(t, "A2") ||
                         HasPrefix(t, "A4") || HasPrefix(t, "A5") || HasPrefix(t, "A6"))))
    return "Ampere (GA10x, CC 8.6)";
  if (Has(t, "T4") || Has(t, "TU102") || (Has(t, "RTX") && HasModelNumber(t, "20", 4)) ||
      (Has(t, "GTX") && HasModelNumber(t, "16", 4)) || (Has(t, "QUADRO") && Has(t, "RTX")) ||
      (Has(t, "TITAN") && Has(t, "RTX")))
    return "Turing (CC 7.5)";
  if (Has(t, "V100") || Has(t, "GV100") || (Has(t, "TITAN") && Has(t, "V"))) return "Volta (CC 7.0)";
  if (Has(t, "P100") || Has(t, "GP100")) return "Pascal (GP100, CC 6.0)";
  if ((Has(t, "GTX") && HasModelNumber(t, "10", 4)) || Has(t, "P40") || Has(t, "P4") || Has(t, "P6000") ||
      (Has(t, "TITAN") && (Has(t, "XP") || Has(t, "X"))))
    return "Pascal (GP10x, CC 6.1)";
  return "unrecognised (CC 8.6 figures)";
}

std::string AmdArchitecture(const std::vector<std::string>& t) {
  if (HasPrefix(t, "NAVI3") || HasPrefix(t, "GFX11") || HasPrefix(t, "PHOENIX") || HasModelNumber(t, "7", 4) ||
      HasPrefix(t, "W7"))
    return "RDNA3";
  if (HasPrefix(t, "NAVI2") || HasPrefix(t, "GFX103") || Has(t, "VANGOGH") || Has(t, "REMBRANDT") ||
      Has(t, "RAPHAEL") || HasModelNumber(t, "6", 4) || HasPrefix(t, "W6"))
    return "RDNA2";
  if (HasPrefix(t, "NAVI1") || HasPrefix(t, "GFX101") || HasModelNumber(t, "5", 4) || HasPrefix(t, "W5"))
    return "RDNA1";
  if (HasPrefix(t, "MI1") || HasPrefix(t, "MI2") || HasPrefix(t, "MI3") || Has(t, "ARCTURUS") ||
      Has(t, "ALDEBARAN") || HasPrefix(t, "GFX90A") || HasPrefix(t, "GFX94"))
    return "CDNA";
  if (HasPrefix(t, "VEGA") || HasPrefix(t, "POLARIS") || HasPrefix(t, "GFX9") || HasPrefix(t, "GFX8") ||
      Has(t, "FIJI") || Has(t, "TONGA") || Has(t, "RAVEN") || Has(t, "RAVEN2") || Has(t, "RENOIR") ||
      Has(t, "CEZANNE") || Has(t, "LUCIENNE") || Has(t, "PICASSO") || Has(t, "HAWAII") || Has(t, "BONAIRE") ||
      HasModelNumber(t, "5", 3) || HasModelNumber(t, "4", 3))
    return "GCN";
  return "unrecognised (RDNA2 figures)";
}

std::string IntelArchitecture(const std::vector<std::string>& t) {
  if (Has(t, "ARC") || Has(t, "DG2") || Has(t, "ALCHEMIST")) return "Xe-HPG";
  if (Has(t, "XE") || Has(t, "TGL") || Has(t, "ADL") || Has(t, "RPL") || Has(t, "DG1") || Has(t, "RKL") ||
      HasModelNumber(t, "7", 3))
    return "Xe-LP";
  if (Has(t, "HD") || Has(t, "SKL") || Has(t, "KBL") || Has(t, "CFL") || Has(t, "CML") || Has(t, "GLK") ||
      Has(t, "APL") || HasModelNumber(t, "6", 3))
    return "Gen9";
  return "unrecognised (Xe-LP figures)";
}

DeviceModel FindRow(const std::string& vendor, const std::string& architecture) {
  for (const DeviceModel& row : VendorTable())
    if (row.vendor == vendor && row.architecture == architecture) return row;
  return VendorTable().back();
}

// Worker threads of a software driver: lavapipe runs LP_NUM_THREADS of them
// (its default: the number of CPU cores).
Figure SoftwareWorkers(const vk::DeviceInfo& device) {
  if (const char* env = std::getenv("LP_NUM_THREADS"); env && Upper(device.name).find("LLVMPIPE") != std::string::npos) {
    char* end = nullptr;
    long threads = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && threads >= 0)
      return Table(double(std::max(threads, 1L)), "LP_NUM_THREADS (0 runs workgroups on the submitting thread)");
  }
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  return Table(cores, "one worker thread per CPU core (the driver's default)");
}

// lavapipe names its vector width: "llvmpipe (LLVM 15.0.6, 256 bits)".
double SoftwareVectorBits(const std::string& name) {
  size_t bits = name.find(" bits");
  if (bits == std::string::npos) return 0;
  size_t start = name.rfind(' ', bits - 1);
  start = start == std::string::npos ? 0 : start + 1;
  return std::atof(name.substr(start, bits - start).c_str());
}

DeviceModel SoftwareModel(const vk::DeviceInfo& device) {
  DeviceModel m;
  m.vendor = kSoftwareVendor;
  const std::string upper = Upper(device.name);
  m.architecture = upper.find("LLVMPIPE") != std::string::npos      ? "lavapipe (llvmpipe)"
                   : upper.find("SWIFTSHADER") != std::string::npos ? "SwiftShader"
                                                                     : "CPU driver";
  m.unit_name = "worker thread";
  m.software = true;
  const std::string note = "modelled: a CPU driver runs one workgroup at a time per worker thread";
  m.compute_units = SoftwareWorkers(device);
  const double subgroup = device.subgroup_size ? device.subgroup_size : 8;
  const double invocations = device.max_workgroup_invocations ? device.max_workgroup_invocations : 1024;
  m.subgroup_size = Table(subgroup, note);
  m.max_workgroup_invocations = Table(invocations, note);
  // One workgroup of any allowed size, its subgroups run one after another.
  m.max_subgroups_per_unit = Table(std::ceil(invocations / subgroup), note);
  m.max_workgroups_per_unit = Table(1, note);
  m.registers_per_unit = Table(0, "modelled: registers live in the CPU's registers and stack; they do not limit");
  m.max_registers_per_invocation = Table(0, "no limit on a CPU");
  m.register_granularity = Table(0, "no limit on a CPU");
  m.register_partitions = Table(1, note);
  const double shared = device.max_shared_memory_bytes ? device.max_shared_memory_bytes : 32 * KiB;
  m.shared_memory_per_unit = Table(shared, "modelled: the one workgroup's shared memory");
  m.shared_memory_per_workgroup_max = Table(shared, "maxComputeSharedMemorySize");
  m.shared_memory_granularity = Table(1, note);
  m.shared_memory_reserved_per_workgroup = Table(0, note);
  m.clock_mhz = Table(0, "not known for a CPU driver");
  const double bits = SoftwareVectorBits(device.name);
  m.fp32_flops_per_clock_per_unit =
      Table(bits > 0 ? 2 * bits / 32 : 0, bits > 0 ? "modelled: one " + std::to_string(int(bits)) +
                                                         "-bit FMA per clock per thread"
                                                   : "not known for a CPU driver");
  return m;
}

Figure Exposed(double value, const std::string& note) { return {value, Source::kExposed, note}; }

// Replaces table figures with what the driver reports.
void ApplyExposed(const vk::DeviceInfo& device, DeviceModel& m) {
  if (device.subgroup_size > 0) {
    const double native = m.subgroup_size.value;
    m.subgroup_size = Exposed(device.subgroup_size, "Vulkan subgroupSize");
    // A subgroup wider than the architecture's native one (wave64 on RDNA)
    // takes registers for all its lanes.
    if (native > 0 && m.register_granularity.value > 0 && native != device.subgroup_size) {
      m.register_granularity.value *= device.subgroup_size / native;
      m.register_granularity.note += "; scaled to subgroups of " + std::to_string(device.subgroup_size);
    }
  }
  if (device.max_workgroup_invocations > 0)
    m.max_workgroup_invocations = Exposed(device.max_workgroup_invocations, "maxComputeWorkGroupInvocations");
  if (device.max_shared_memory_bytes > 0)
    m.shared_memory_per_workgroup_max = Exposed(device.max_shared_memory_bytes, "maxComputeSharedMemorySize");

  const vk::ExposedCoreProperties& c = device.cores;
  const std::string nv = "VK_NV_shader_sm_builtins";
  if (c.nv_sm_count > 0) m.compute_units = Exposed(c.nv_sm_count, nv);
  if (c.nv_warps_per_sm > 0) m.max_subgroups_per_unit = Exposed(c.nv_warps_per_sm, nv);

  const std::string amd = "VK_AMD_shader_core_properties";
  if (c.amd_active_compute_units > 0) {
    m.compute_units = Exposed(c.amd_active_compute_units, "VK_AMD_shader_core_properties2");
  } else if (c.amd_shader_engines > 0 && c.amd_shader_arrays_per_engine > 0 && c.amd_compute_units_per_array > 0) {
    m.compute_units = Exposed(double(c.amd_shader_engines) * c.amd_shader_arrays_per_engine * c.amd_compute_units_per_array, amd);
  }
  if (c.amd_simds_per_compute_unit > 0) {
    const double simds = c.amd_simds_per_compute_unit;
    m.register_partitions = Exposed(simds, amd + " (SIMDs per CU)");
    if (c.amd_wavefronts_per_simd > 0) m.max_subgroups_per_unit = Exposed(simds * c.amd_wavefronts_per_simd, amd);
    // VGPR counts are per lane of the extension's wavefront size.
    const double wave = c.amd_wavefront_size ? c.amd_wavefront_size : m.subgroup_size.value;
    if (c.amd_vgprs_per_simd > 0) m.registers_per_unit = Exposed(simds * c.amd_vgprs_per_simd * wave, amd);
  }
  if (c.amd_max_vgpr_allocation > 0) m.max_registers_per_invocation = Exposed(c.amd_max_vgpr_allocation, amd);
  if (c.amd_vgpr_allocation_granularity > 0)
    m.register_granularity = Exposed(double(c.amd_vgpr_allocation_granularity) * m.subgroup_size.value,
                                     amd + " (VGPR granularity x subgroup size)");
}

void ApplyProduct(const vk::DeviceInfo& device, const std::vector<std::string>& tokens, DeviceModel& m) {
  for (const Product& p : Products()) {
    if (p.vendor_id != device.vendor_id) continue;
    if (!std::all_of(p.tokens.begin(), p.tokens.end(), [&](const char* t) { return Has(tokens, t); })) continue;
    m.compute_units = Table(p.units, std::string(p.name) + " data sheet");
    m.clock_mhz = Table(p.clock_mhz, std::string(p.name) + " boost clock (data sheet)");
    return;
  }
}

void ApplyUser(const std::vector<DeviceModel>& overrides, DeviceModel& m) {
  for (const DeviceModel& row : overrides) {
    if (row.vendor != m.vendor || row.architecture != m.architecture) continue;
    for (const FigureField& field : DeviceModelFields()) {
      const Figure& figure = row.*field.member;
      if (figure.source != Source::kUser) continue;
      m.*field.member = {figure.value, Source::kUser, figure.note.empty() ? "set by you" : figure.note};
    }
  }
}

uint64_t RoundUp(uint64_t value, uint64_t unit) { return unit > 1 ? (value + unit - 1) / unit * unit : value; }
uint32_t U32(double value) { return value <= 0 ? 0 : value >= 4294967295.0 ? kUnlimited : static_cast<uint32_t>(value); }

std::string Count(uint32_t value) { return value == kUnlimited ? "any number" : std::to_string(value); }

std::string Percent(double fraction) {
  std::ostringstream out;
  out.precision(fraction >= 0.1 ? 3 : 2);
  out << fraction * 100 << "%";
  return out.str();
}

std::string Bytes(double bytes) {
  std::ostringstream out;
  if (bytes >= 1024 && std::fmod(bytes, 1024) == 0)
    out << bytes / 1024 << " KiB";
  else if (bytes >= 1024)
    out << std::fixed << std::setprecision(1) << bytes / 1024 << " KiB";
  else
    out << bytes << " bytes";
  return out.str();
}

// A kernel that cannot run: 0 workgroups, the resource named.
Occupancy CannotRun(Occupancy o, Limiter limiter, const std::string& why) {
  o.by_workgroup_slots = o.by_subgroup_slots = o.by_registers = o.by_shared_memory = 0;
  o.active_workgroups_per_unit = o.active_subgroups_per_unit = 0;
  o.occupancy = 0;
  o.limiter = limiter;
  o.explanation = "This kernel cannot run: " + why;
  return o;
}

}  // namespace

const char* SourceName(Source source) {
  switch (source) {
    case Source::kExposed: return "exposed";
    case Source::kModelled: return "modelled";
    case Source::kUser: return "set by you";
  }
  return "unknown";
}

const char* LimiterName(Limiter limiter) {
  switch (limiter) {
    case Limiter::kWorkgroupSlots: return "workgroups per unit";
    case Limiter::kSubgroupSlots: return "subgroups per unit";
    case Limiter::kRegisters: return "registers";
    case Limiter::kSharedMemory: return "shared memory";
    case Limiter::kNone: return "nothing";
  }
  return "unknown";
}

double DeviceModel::theoretical_gflops() const {
  return compute_units.value * clock_mhz.value * fp32_flops_per_clock_per_unit.value / 1000.0;
}

const std::vector<DeviceModel>& VendorTable() {
  static const std::vector<DeviceModel> table = [] {
    std::vector<DeviceModel> rows;
    for (const RowSpec& spec : RowSpecs()) rows.push_back(MakeRow(spec));
    return rows;
  }();
  return table;
}

const std::vector<FigureField>& DeviceModelFields() {
  static const std::vector<FigureField> fields = {
      {"compute_units", "compute units", &DeviceModel::compute_units},
      {"subgroup_size", "subgroup size", &DeviceModel::subgroup_size},
      {"max_subgroups_per_unit", "subgroups per unit", &DeviceModel::max_subgroups_per_unit},
      {"max_workgroups_per_unit", "workgroups per unit", &DeviceModel::max_workgroups_per_unit},
      {"registers_per_unit", "registers per unit", &DeviceModel::registers_per_unit},
      {"max_registers_per_invocation", "registers per invocation (max)", &DeviceModel::max_registers_per_invocation},
      {"register_granularity", "register allocation unit (per subgroup)", &DeviceModel::register_granularity},
      {"register_partitions", "register file partitions", &DeviceModel::register_partitions},
      {"max_workgroup_invocations", "invocations per workgroup (max)", &DeviceModel::max_workgroup_invocations},
      {"shared_memory_per_unit", "shared memory per unit (bytes)", &DeviceModel::shared_memory_per_unit},
      {"shared_memory_per_workgroup_max", "shared memory per workgroup (max, bytes)",
       &DeviceModel::shared_memory_per_workgroup_max},
      {"shared_memory_granularity", "shared memory allocation unit (bytes)", &DeviceModel::shared_memory_granularity},
      {"shared_memory_reserved_per_workgroup", "shared memory reserved per workgroup (bytes)",
       &DeviceModel::shared_memory_reserved_per_workgroup},
      {"clock_mhz", "clock (MHz)", &DeviceModel::clock_mhz},
      {"fp32_flops_per_clock_per_unit", "FP32 FLOPs per clock per unit", &DeviceModel::fp32_flops_per_clock_per_unit},
  };
  return fields;
}

DeviceModel ModelDevice(const vk::DeviceInfo& device, const std::vector<DeviceModel>& overrides) {
  const std::vector<std::string> tokens = Tokens(device.name);
  DeviceModel m;
  if (device.is_software() || device.vendor_id == kVendorMesa) {
    m = SoftwareModel(device);
  } else if (device.vendor_id == kVendorNvidia) {
    m = FindRow("NVIDIA", NvidiaArchitecture(tokens));
  } else if (device.vendor_id == kVendorAmd) {
    m = FindRow("AMD", AmdArchitecture(tokens));
  } else if (device.vendor_id == kVendorIntel) {
    m = FindRow("Intel", IntelArchitecture(tokens));
  } else {
    m = VendorTable().back();
  }
  if (!m.software) ApplyProduct(device, tokens, m);
  ApplyExposed(device, m);
  ApplyUser(overrides, m);
  return m;
}

Occupancy ComputeOccupancy(const DeviceModel& model, const KernelResources& kernel) {
  Occupancy o;
  const uint32_t subgroup = std::max(1u, U32(model.subgroup_size.value));
  const uint32_t invocations = std::max(1u, kernel.workgroup_invocations);
  o.subgroups_per_workgroup = (invocations + subgroup - 1) / subgroup;
  const uint32_t max_subgroups = U32(model.max_subgroups_per_unit.value);
  const uint32_t registers = U32(std::ceil(kernel.registers_per_invocation.value));
  const std::string unit = model.unit_name;

  // Modelled when any figure used came from a table or a guess.
  o.modelled = model.subgroup_size.source == Source::kModelled ||
               model.max_subgroups_per_unit.source == Source::kModelled ||
               model.max_workgroups_per_unit.source == Source::kModelled ||
               (registers > 0 && (model.registers_per_unit.source == Source::kModelled ||
                                  kernel.registers_per_invocation.source == Source::kModelled)) ||
               (kernel.shared_memory_bytes > 0 && model.shared_memory_per_unit.source == Source::kModelled);

  // Kernels that cannot run at all.
  const uint32_t max_invocations = U32(model.max_workgroup_invocations.value);
  if (max_invocations > 0 && invocations > max_invocations)
    return CannotRun(o, Limiter::kSubgroupSlots,
                     "its workgroup size of " + std::to_string(invocations) + " invocations exceeds the device's " +
                         std::to_string(max_invocations) + " (maxComputeWorkGroupInvocations).");
  if (max_subgroups > 0 && o.subgroups_per_workgroup > max_subgroups)
    return CannotRun(o, Limiter::kSubgroupSlots,
                     "a workgroup needs " + std::to_string(o.subgroups_per_workgroup) + " subgroups but one " + unit +
                         " holds " + std::to_string(max_subgroups) + ".");
  const uint32_t max_registers = U32(model.max_registers_per_invocation.value);
  if (registers > 0 && max_registers > 0 && registers > max_registers)
    return CannotRun(o, Limiter::kRegisters,
                     std::to_string(registers) + " registers per invocation exceed the maximum of " +
                         std::to_string(max_registers) + ".");
  const uint64_t shared_max = U32(model.shared_memory_per_workgroup_max.value);
  if (shared_max > 0 && kernel.shared_memory_bytes > shared_max)
    return CannotRun(o, Limiter::kSharedMemory,
                     Bytes(kernel.shared_memory_bytes) + " of shared memory per workgroup exceed the maximum of " +
                         Bytes(double(shared_max)) + ".");

  // Slots.
  const uint32_t max_workgroups = U32(model.max_workgroups_per_unit.value);
  o.by_workgroup_slots = max_workgroups > 0 ? max_workgroups : kUnlimited;
  o.by_subgroup_slots = max_subgroups > 0 ? max_subgroups / o.subgroups_per_workgroup : kUnlimited;

  // Registers: allocated per subgroup in units of the granularity, within one
  // partition of the register file; a workgroup's subgroups spread over the partitions.
  o.by_registers = kUnlimited;
  const uint64_t register_file = U32(model.registers_per_unit.value);
  if (register_file > 0 && registers > 0 && !model.software) {
    const uint64_t per_subgroup = RoundUp(uint64_t(registers) * subgroup, U32(model.register_granularity.value));
    const uint64_t per_workgroup = per_subgroup * o.subgroups_per_workgroup;
    const uint64_t partitions = std::max(1u, U32(model.register_partitions.value));
    const uint64_t subgroups_by_registers = (register_file / partitions / per_subgroup) * partitions;
    if (per_workgroup > register_file || subgroups_by_registers < o.subgroups_per_workgroup)
      return CannotRun(o, Limiter::kRegisters,
                       "a workgroup needs " + std::to_string(per_workgroup) + " registers (" +
                           std::to_string(registers) + " per invocation) but one " + unit + " has " +
                           std::to_string(register_file) + ".");
    o.by_registers = static_cast<uint32_t>(subgroups_by_registers / o.subgroups_per_workgroup);
  }

  // Shared memory: what the kernel declares plus the per-workgroup reserve,
  // rounded up to the allocation unit.
  o.by_shared_memory = kUnlimited;
  const uint64_t shared_file = U32(model.shared_memory_per_unit.value);
  const uint64_t shared_per_workgroup =
      RoundUp(uint64_t(kernel.shared_memory_bytes) + U32(model.shared_memory_reserved_per_workgroup.value),
              U32(model.shared_memory_granularity.value));
  if (shared_file > 0 && shared_per_workgroup > 0) {
    if (shared_per_workgroup > shared_file)
      return CannotRun(o, Limiter::kSharedMemory,
                       "a workgroup needs " + Bytes(double(shared_per_workgroup)) + " of shared memory but one " +
                           unit + " has " + Bytes(double(shared_file)) + ".");
    o.by_shared_memory = static_cast<uint32_t>(shared_file / shared_per_workgroup);
  }

  // The least of the limits; on a tie the slots come first.
  const std::pair<uint32_t, Limiter> limits[] = {{o.by_subgroup_slots, Limiter::kSubgroupSlots},
                                                 {o.by_workgroup_slots, Limiter::kWorkgroupSlots},
                                                 {o.by_registers, Limiter::kRegisters},
                                                 {o.by_shared_memory, Limiter::kSharedMemory}};
  o.active_workgroups_per_unit = kUnlimited;
  o.limiter = Limiter::kNone;
  for (const auto& [value, limiter] : limits)
    if (value < o.active_workgroups_per_unit) o.active_workgroups_per_unit = value, o.limiter = limiter;
  if (o.active_workgroups_per_unit == kUnlimited) o.active_workgroups_per_unit = 1;  // nothing is known
  o.active_subgroups_per_unit = o.active_workgroups_per_unit * o.subgroups_per_workgroup;
  if (model.software)
    o.occupancy = max_workgroups > 0 ? double(o.active_workgroups_per_unit) / max_workgroups : 1.0;
  else
    o.occupancy = max_subgroups > 0 ? std::min(1.0, double(o.active_subgroups_per_unit) / max_subgroups) : 0.0;

  std::ostringstream text;
  if (model.software) {
    text << "One workgroup of " << invocations << " invocations (" << o.subgroups_per_workgroup
         << " subgroups of " << subgroup << ", run one after another) per " << unit
         << ": a CPU driver runs one workgroup at a time on each worker thread, so occupancy is "
         << Percent(o.occupancy) << " whenever the workgroup fits; registers do not limit it.";
  } else {
    text << o.active_workgroups_per_unit << " workgroup" << (o.active_workgroups_per_unit == 1 ? "" : "s") << " of "
         << invocations << " invocations (" << o.subgroups_per_workgroup << " subgroup"
         << (o.subgroups_per_workgroup == 1 ? "" : "s") << " of " << subgroup << ") fit on one " << unit << ": "
         << o.active_subgroups_per_unit << " of " << max_subgroups << " subgroup slots, " << Percent(o.occupancy)
         << " occupancy. Limited by " << LimiterName(o.limiter) << " (subgroup slots allow "
         << Count(o.by_subgroup_slots) << ", workgroup slots " << Count(o.by_workgroup_slots) << ", registers "
         << Count(o.by_registers) << ", shared memory " << Count(o.by_shared_memory) << ").";
    if (registers == 0) text << " Registers per invocation are unknown, so they were not counted.";
  }
  if (model.software)
    text << " Modelled: how a CPU driver schedules workgroups, not figures the driver reports.";
  else if (o.modelled)
    text << " Modelled: some figures come from the " << model.vendor << " " << model.architecture
         << " table, not the driver.";
  o.explanation = text.str();
  return o;
}

const std::vector<ReferenceDevice>& ReferenceDeviceModels() {
  static const std::vector<ReferenceDevice> devices = [] {
    struct Pick {
      const char *vendor, *architecture, *label, *product;
      double units, clock_mhz;  // the product's, from its data sheet (see Products())
    };
    const Pick picks[] = {
        {"NVIDIA", "Ampere (GA10x, CC 8.6)", "NVIDIA SM, compute capability 8.6", "GeForce RTX 3090", 82, 1695},
        {"NVIDIA", "Hopper (CC 9.0)", "NVIDIA SM, compute capability 9.0", "H100 SXM5", 132, 1980},
        {"AMD", "RDNA3", "AMD RDNA3 compute unit", "Radeon RX 7900 XTX", 96, 2500},
        {"Intel", "Xe-HPG", "Intel Xe-core (Xe-HPG)", "Arc A770", 32, 2100},
    };
    std::vector<ReferenceDevice> list;
    for (const Pick& pick : picks) {
      DeviceModel model = FindRow(pick.vendor, pick.architecture);
      model.compute_units = Table(pick.units, std::string(pick.product) + " data sheet");
      model.clock_mhz = Table(pick.clock_mhz, std::string(pick.product) + " boost clock");
      list.push_back({std::string(pick.label) + " (" + pick.product + ")", model});
    }
    return list;
  }();
  return devices;
}

Figure ModelledRegisters(const std::string& kernel_family, uint32_t workgroup_invocations) {
  // Guesses per family, from what the shaders keep live per invocation.
  struct Guess {
    const char* prefix;
    double registers;
    const char* why;
  };
  static const Guess guesses[] = {
      {"matmul", 96, "register-blocked matmul: a block of C accumulators (64) plus A and B fragments and addresses"},
      {"conv2d_back_filter", 64, "implicit-GEMM convolution: a block of accumulators plus addressing"},
      {"conv2d_back_data", 64, "implicit-GEMM convolution: a block of accumulators plus addressing"},
      {"conv2d", 64, "implicit-GEMM convolution: a block of accumulators plus addressing"},
      {"fma_chain", 32, "independent FMA chains"},
      {"batchnorm", 32, "row reductions with compensated sums"},
      {"pool", 24, "a window's running maximum or sum"},
      {"loss", 32, "a row's softmax: running maximum, sum and the label"},
      {"metrics", 24, "a reduction"},
      {"optimizer", 32, "Adam keeps parameter, gradient, two moments and the step's factors"},
      {"bias_act_back", 24, "element-wise derivative with a bias-gradient sum"},
      {"bias_act", 20, "element-wise: a value, its bias and the activation"},
      {"dropout", 20, "element-wise with a hash"},
      {"gather", 20, "index arithmetic and a copy"},
      {"init", 20, "a counter-based random number"},
      {"copy", 16, "element-wise copy: an index and one vec4"},
  };
  double registers = 32;
  std::string why = "a typical compute shader";
  for (const Guess& guess : guesses) {
    if (kernel_family.rfind(guess.prefix, 0) == 0) {
      registers = guess.registers, why = guess.why;
      break;
    }
  }
  // A driver compiles for the workgroup size and keeps its registers within a 65536-register file.
  if (workgroup_invocations > 0) {
    const double cap = std::floor(65536.0 / RoundUp(workgroup_invocations, 32));
    if (registers > cap) registers = cap, why += ", capped so the workgroup fits";
  }
  return {registers, Source::kModelled, "modelled for " + kernel_family + ": " + why};
}

std::vector<size_t> OccupancyOrder(const std::vector<KernelRow>& rows, const std::vector<Occupancy>& occupancies,
                                   const std::vector<double>& registers, std::optional<OccupancyColumn> column,
                                   bool ascending) {
  const auto first_dispatch = [&](size_t i) { return rows[i].dispatches.empty() ? SIZE_MAX : rows[i].dispatches[0]; };
  // Each column's sort key; names and numbers compare through one tuple.
  const auto key = [&](size_t i) -> std::tuple<double, std::string> {
    const Occupancy none;
    const Occupancy& o = i < occupancies.size() ? occupancies[i] : none;
    const KernelRow& r = rows[i];
    switch (*column) {
      case OccupancyColumn::kKernel: return {0, r.kernel + " " + r.layer_name + " " + nn::PassName(r.pass)};
      case OccupancyColumn::kWorkgroup: return {double(r.local_size[0]) * r.local_size[1] * r.local_size[2], ""};
      case OccupancyColumn::kRegisters: return {i < registers.size() ? registers[i] : 0.0, ""};
      case OccupancyColumn::kWorkgroupsPerUnit: return {double(o.active_workgroups_per_unit), ""};
      case OccupancyColumn::kSubgroupsPerUnit: return {double(o.active_subgroups_per_unit), ""};
      case OccupancyColumn::kOccupancy: return {o.occupancy, ""};
      case OccupancyColumn::kLimiter: return {0, LimiterName(o.limiter)};
    }
    return {0, ""};
  };
  std::vector<size_t> order(rows.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return first_dispatch(a) < first_dispatch(b); });
  if (column)
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ascending ? key(a) < key(b) : key(b) < key(a); });
  return order;
}

}  // namespace ts::profile
