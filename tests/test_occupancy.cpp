// The theoretical occupancy model: worked examples checked by hand against the
// vendors' documented limits, exposed figures replacing the table, software
// drivers, and the user's overrides file.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include "compute/common/error.h"
#include "compute/profile/occupancy.h"

namespace ts::profile {
namespace {

vk::DeviceInfo Device(uint32_t vendor_id, const std::string& name, uint32_t subgroup_size) {
  vk::DeviceInfo info;
  info.name = name;
  info.vendor_id = vendor_id;
  info.type = VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU;
  info.subgroup_size = subgroup_size;
  info.max_workgroup_invocations = 1024;
  info.max_workgroup_size = {1024, 1024, 64};
  // max_shared_memory_bytes stays 0: the table's per-workgroup maximum is used.
  return info;
}

vk::DeviceInfo A100() { return Device(0x10DE, "NVIDIA A100-SXM4-40GB", 32); }
vk::DeviceInfo Vega() { return Device(0x1002, "AMD Radeon RX Vega 64 (RADV VEGA10)", 64); }

KernelResources Kernel(uint32_t invocations, double registers, uint32_t shared_bytes = 0) {
  KernelResources k;
  k.workgroup_invocations = invocations;
  k.registers_per_invocation = {registers, Source::kExposed, "test"};
  k.shared_memory_bytes = shared_bytes;
  return k;
}

void ExpectOccupancy(const Occupancy& o, uint32_t workgroups, uint32_t subgroups, double occupancy, Limiter limiter) {
  EXPECT_EQ(o.active_workgroups_per_unit, workgroups) << o.explanation;
  EXPECT_EQ(o.active_subgroups_per_unit, subgroups) << o.explanation;
  EXPECT_NEAR(o.occupancy, occupancy, 1e-9) << o.explanation;
  EXPECT_EQ(o.limiter, limiter) << LimiterName(o.limiter) << ": " << o.explanation;
}

// ---- NVIDIA A100 (CC 8.0): 64 warps and 32 blocks per SM, 65536 registers in
// 4 sub-partitions allocated 256 per warp, 255 per thread, 164 KiB shared
// memory per SM in 128-byte units, 1 KiB reserved per block.

TEST(OccupancyNvidia, A100IsIdentifiedWithItsDocumentedLimits) {
  const DeviceModel m = ModelDevice(A100());
  EXPECT_EQ(m.vendor, "NVIDIA");
  EXPECT_EQ(m.architecture, "Ampere (GA100, CC 8.0)");
  EXPECT_EQ(m.unit_name, "SM");
  EXPECT_EQ(m.max_subgroups_per_unit.value, 64);
  EXPECT_EQ(m.max_workgroups_per_unit.value, 32);
  EXPECT_EQ(m.registers_per_unit.value, 65536);
  EXPECT_EQ(m.max_registers_per_invocation.value, 255);
  EXPECT_EQ(m.register_granularity.value, 256);
  EXPECT_EQ(m.shared_memory_per_unit.value, 164 * 1024);
  EXPECT_EQ(m.shared_memory_reserved_per_workgroup.value, 1024);
  EXPECT_EQ(m.max_subgroups_per_unit.source, Source::kModelled);
  EXPECT_NE(m.max_subgroups_per_unit.note.find("CUDA"), std::string::npos) << m.max_subgroups_per_unit.note;
  EXPECT_EQ(m.subgroup_size.source, Source::kExposed);
  // 108 SMs x 1410 MHz x 64 FMA lanes x 2: NVIDIA's 19.5 TFLOP/s.
  EXPECT_EQ(m.compute_units.value, 108);
  EXPECT_NEAR(m.theoretical_gflops(), 19491.84, 0.01);
}

TEST(OccupancyNvidia, A100FullOccupancyWith32Registers) {
  // 8 warps a block; 32 regs x 32 lanes = 1024 per warp, 16 warps per sub-partition:
  // 64 warps -> 8 blocks, as the warp slots allow: 100%.
  const Occupancy o = ComputeOccupancy(ModelDevice(A100()), Kernel(256, 32));
  EXPECT_EQ(o.subgroups_per_workgroup, 8u);
  EXPECT_EQ(o.by_registers, 8u);
  EXPECT_EQ(o.by_subgroup_slots, 8u);
  EXPECT_EQ(o.by_workgroup_slots, 32u);
  EXPECT_EQ(o.by_shared_memory, 164u);  // the 1 KiB reserve alone
  ExpectOccupancy(o, 8, 64, 1.0, Limiter::kSubgroupSlots);
}

TEST(OccupancyNvidia, A100RegistersLimitAt64PerThread) {
  // 2048 registers per warp: 8 warps per sub-partition, 32 per SM -> 4 blocks, 50%.
  const Occupancy o = ComputeOccupancy(ModelDevice(A100()), Kernel(256, 64));
  ExpectOccupancy(o, 4, 32, 0.5, Limiter::kRegisters);
  EXPECT_NE(o.explanation.find("Limited by registers"), std::string::npos) << o.explanation;
}

TEST(OccupancyNvidia, A100RegistersAreAllocatedPerSubPartition) {
  // 40 regs: 1280 per warp; 16384 / 1280 = 12 warps per sub-partition, 48 per SM
  // (the whole file would give 51). Blocks of 3 warps: 16 blocks, 75%.
  const Occupancy o = ComputeOccupancy(ModelDevice(A100()), Kernel(96, 40));
  ExpectOccupancy(o, 16, 48, 0.75, Limiter::kRegisters);
}

TEST(OccupancyNvidia, A100SharedMemoryLimitsWithTheReservePerBlock) {
  // 48 KiB + 1 KiB reserved = 50176 bytes: 167936 / 50176 -> 3 blocks, 24 warps.
  ExpectOccupancy(ComputeOccupancy(ModelDevice(A100()), Kernel(256, 32, 48 * 1024)), 3, 24, 0.375,
                  Limiter::kSharedMemory);
  // 41 KiB: 4 blocks would fit without the reserve, 3 with it.
  ExpectOccupancy(ComputeOccupancy(ModelDevice(A100()), Kernel(256, 32, 41 * 1024)), 3, 24, 0.375,
                  Limiter::kSharedMemory);
  // 100 bytes round up to 1152 (with the reserve): 145 blocks, no limit here.
  EXPECT_EQ(ComputeOccupancy(ModelDevice(A100()), Kernel(256, 32, 100)).by_shared_memory, 145u);
}

TEST(OccupancyNvidia, A100LargeAndTinyBlocks) {
  // 1024 threads x 64 regs: 65536 registers, exactly one block (50%).
  ExpectOccupancy(ComputeOccupancy(ModelDevice(A100()), Kernel(1024, 64)), 1, 32, 0.5, Limiter::kRegisters);
  // 32-thread blocks: 32 block slots x 1 warp = 32 of 64 warps.
  ExpectOccupancy(ComputeOccupancy(ModelDevice(A100()), Kernel(32, 32)), 32, 32, 0.5, Limiter::kWorkgroupSlots);
  // 48 threads round up to 2 warps: 32 blocks, 64 warps.
  ExpectOccupancy(ComputeOccupancy(ModelDevice(A100()), Kernel(48, 16)), 32, 64, 1.0, Limiter::kSubgroupSlots);
}

TEST(OccupancyNvidia, KernelsTooBigToRunNameTheResource) {
  const DeviceModel m = ModelDevice(A100());
  Occupancy o = ComputeOccupancy(m, Kernel(1024, 128));  // 131072 registers a block
  EXPECT_EQ(o.active_workgroups_per_unit, 0u);
  EXPECT_EQ(o.occupancy, 0);
  EXPECT_EQ(o.limiter, Limiter::kRegisters);
  EXPECT_NE(o.explanation.find("cannot run"), std::string::npos) << o.explanation;
  EXPECT_NE(o.explanation.find("registers"), std::string::npos) << o.explanation;

  o = ComputeOccupancy(m, Kernel(64, 256));  // over 255 per thread
  EXPECT_EQ(o.active_workgroups_per_unit, 0u);
  EXPECT_EQ(o.limiter, Limiter::kRegisters);
  EXPECT_NE(o.explanation.find("255"), std::string::npos) << o.explanation;

  o = ComputeOccupancy(m, Kernel(256, 32, 200 * 1024));  // over 163 KiB per block
  EXPECT_EQ(o.active_workgroups_per_unit, 0u);
  EXPECT_EQ(o.limiter, Limiter::kSharedMemory);
  EXPECT_NE(o.explanation.find("shared memory"), std::string::npos) << o.explanation;

  o = ComputeOccupancy(m, Kernel(2048, 16));  // over maxComputeWorkGroupInvocations
  EXPECT_EQ(o.active_workgroups_per_unit, 0u);
  EXPECT_NE(o.explanation.find("maxComputeWorkGroupInvocations"), std::string::npos) << o.explanation;
}

TEST(OccupancyNvidia, ArchitecturesFromDeviceNames) {
  const std::pair<const char*, const char*> names[] = {
      {"NVIDIA H100 80GB HBM3", "Hopper (CC 9.0)"},
      {"NVIDIA H200", "Hopper (CC 9.0)"},
      {"NVIDIA A100-PCIE-40GB", "Ampere (GA100, CC 8.0)"},
      {"NVIDIA GeForce RTX 3090", "Ampere (GA10x, CC 8.6)"},
      {"NVIDIA A10G", "Ampere (GA10x, CC 8.6)"},
      {"NVIDIA RTX A6000", "Ampere (GA10x, CC 8.6)"},
      {"NVIDIA GeForce RTX 4090", "Ada (CC 8.9)"},
      {"NVIDIA L4", "Ada (CC 8.9)"},
      {"Tesla T4", "Turing (CC 7.5)"},
      {"NVIDIA GeForce RTX 2080 Ti", "Turing (CC 7.5)"},
      {"Tesla V100-SXM2-16GB", "Volta (CC 7.0)"},
      {"Tesla P100-PCIE-16GB", "Pascal (GP100, CC 6.0)"},
      {"NVIDIA GeForce GTX 1080 Ti", "Pascal (GP10x, CC 6.1)"},
      {"NVIDIA Future GPU 9000", "unrecognised (CC 8.6 figures)"},
  };
  for (const auto& [name, architecture] : names) EXPECT_EQ(ModelDevice(Device(0x10DE, name, 32)).architecture, architecture) << name;
  // H100 SXM5: 132 SMs x 1980 MHz x 128 lanes x 2 = NVIDIA's 67 TFLOP/s.
  EXPECT_NEAR(ModelDevice(Device(0x10DE, "NVIDIA H100 80GB HBM3", 32)).theoretical_gflops(), 66908.16, 0.01);
  // Turing: 32 warps and 16 blocks per SM; 256 threads x 32 regs -> 4 blocks, 100%.
  ExpectOccupancy(ComputeOccupancy(ModelDevice(Device(0x10DE, "Tesla T4", 32)), Kernel(256, 32)), 4, 32, 1.0,
                  Limiter::kSubgroupSlots);
}

// ---- AMD GCN: 4 SIMD16 per CU, 10 waves per SIMD (40 per CU), 256 VGPRs per
// lane per SIMD allocated in blocks of 4, 64 KiB LDS per CU, 16 workgroups.

TEST(OccupancyAmd, GcnWavesPerSimdFollowAmdsVgprTable) {
  const DeviceModel m = ModelDevice(Vega());
  EXPECT_EQ(m.vendor, "AMD");
  EXPECT_EQ(m.architecture, "GCN");
  EXPECT_EQ(m.max_subgroups_per_unit.value, 40);
  // AMD's table: VGPRs <= 24 -> 10 waves per SIMD, 28 -> 9, 32 -> 8, 36 -> 7, 40 -> 6,
  // 41..48 -> 5, 64 -> 4, 84 -> 3, 128 -> 2, 256 -> 1. One-wave workgroups, so
  // workgroups = waves per CU = 4 x waves per SIMD (16 workgroup slots cap it).
  const std::pair<double, uint32_t> table[] = {{24, 10}, {28, 9}, {32, 8}, {36, 7}, {40, 6},
                                               {41, 5},  {48, 5}, {64, 4}, {84, 3}, {128, 2}, {256, 1}};
  for (const auto& [vgprs, waves_per_simd] : table) {
    const Occupancy o = ComputeOccupancy(m, Kernel(256, vgprs));  // 4 waves a workgroup
    EXPECT_EQ(o.active_subgroups_per_unit, 4 * waves_per_simd) << vgprs << " VGPRs: " << o.explanation;
  }
}

TEST(OccupancyAmd, GcnLimiters) {
  const DeviceModel m = ModelDevice(Vega());
  // 256 invocations, 32 VGPRs: 8 waves per SIMD -> 8 workgroups of 4 waves, 80%.
  ExpectOccupancy(ComputeOccupancy(m, Kernel(256, 32)), 8, 32, 0.8, Limiter::kRegisters);
  // 24 VGPRs: all 40 wave slots.
  ExpectOccupancy(ComputeOccupancy(m, Kernel(256, 24)), 10, 40, 1.0, Limiter::kSubgroupSlots);
  // 16 KiB of LDS per workgroup: 4 workgroups in 64 KiB, 16 waves, 40%.
  ExpectOccupancy(ComputeOccupancy(m, Kernel(256, 24, 16 * 1024)), 4, 16, 0.4, Limiter::kSharedMemory);
  // One-wave workgroups with few VGPRs: 16 workgroup slots, 16 of 40 waves.
  ExpectOccupancy(ComputeOccupancy(m, Kernel(64, 16)), 16, 16, 0.4, Limiter::kWorkgroupSlots);
  // 1024 invocations = 16 waves, 4 per SIMD: 64 VGPRs allow exactly one workgroup.
  ExpectOccupancy(ComputeOccupancy(m, Kernel(1024, 64)), 1, 16, 0.4, Limiter::kRegisters);
  // ... and 84 VGPRs (3 waves per SIMD) none.
  const Occupancy too_big = ComputeOccupancy(m, Kernel(1024, 84));
  EXPECT_EQ(too_big.active_workgroups_per_unit, 0u);
  EXPECT_EQ(too_big.limiter, Limiter::kRegisters);
  EXPECT_NE(too_big.explanation.find("registers"), std::string::npos) << too_big.explanation;
}

TEST(OccupancyAmd, ArchitecturesFromDeviceNames) {
  const std::pair<const char*, const char*> names[] = {
      {"AMD Radeon RX 7900 XTX (RADV NAVI31)", "RDNA3"},
      {"AMD Radeon RX 6800 XT", "RDNA2"},
      {"AMD Radeon RX 5700 XT (RADV NAVI10)", "RDNA1"},
      {"AMD Instinct MI250X", "CDNA"},
      {"AMD Radeon RX 580 Series (RADV POLARIS10)", "GCN"},
      {"AMD Radeon Graphics (RADV RENOIR)", "GCN"},
  };
  for (const auto& [name, architecture] : names) EXPECT_EQ(ModelDevice(Device(0x1002, name, 64)).architecture, architecture) << name;
  // RDNA2 in wave32: 2 SIMD32 x 1024 VGPRs per lane; 64 VGPRs -> 16 waves per SIMD
  // (all 16 slots), so 256-invocation workgroups (8 waves): 4 per CU.
  const DeviceModel rdna2 = ModelDevice(Device(0x1002, "AMD Radeon RX 6800 XT", 32));
  ExpectOccupancy(ComputeOccupancy(rdna2, Kernel(256, 64)), 4, 32, 1.0, Limiter::kSubgroupSlots);
  // 128 VGPRs: 8 waves per SIMD, 16 per CU: 2 workgroups, 50%.
  ExpectOccupancy(ComputeOccupancy(rdna2, Kernel(256, 128)), 2, 16, 0.5, Limiter::kRegisters);
}

// ---- Exposed figures and the other vendors.

TEST(OccupancyModel, ExposedFiguresOverrideTheTable) {
  vk::DeviceInfo nv = A100();
  nv.cores.nv_sm_count = 100;
  nv.cores.nv_warps_per_sm = 48;
  nv.max_shared_memory_bytes = 48 * 1024;
  DeviceModel m = ModelDevice(nv);
  EXPECT_EQ(m.compute_units.value, 100);
  EXPECT_EQ(m.compute_units.source, Source::kExposed);
  EXPECT_EQ(m.compute_units.note, "VK_NV_shader_sm_builtins");
  EXPECT_EQ(m.max_subgroups_per_unit.value, 48);
  EXPECT_EQ(m.max_subgroups_per_unit.source, Source::kExposed);
  EXPECT_EQ(m.shared_memory_per_workgroup_max.value, 48 * 1024);
  EXPECT_EQ(m.shared_memory_per_workgroup_max.source, Source::kExposed);
  EXPECT_EQ(m.registers_per_unit.source, Source::kModelled);  // not exposed by NVIDIA
  // The exposed warp count now bounds occupancy: 256 x 32 regs -> 6 blocks of 48 warps.
  ExpectOccupancy(ComputeOccupancy(m, Kernel(256, 32)), 6, 48, 1.0, Limiter::kSubgroupSlots);
  // Vulkan's 48 KiB per workgroup: 64 KiB cannot run even though the SM has 164.
  EXPECT_EQ(ComputeOccupancy(m, Kernel(256, 32, 64 * 1024)).active_workgroups_per_unit, 0u);

  vk::DeviceInfo amd = Vega();
  amd.cores.amd_shader_engines = 4, amd.cores.amd_shader_arrays_per_engine = 1, amd.cores.amd_compute_units_per_array = 16;
  amd.cores.amd_simds_per_compute_unit = 4, amd.cores.amd_wavefronts_per_simd = 8, amd.cores.amd_wavefront_size = 64;
  amd.cores.amd_vgprs_per_simd = 512, amd.cores.amd_max_vgpr_allocation = 512, amd.cores.amd_vgpr_allocation_granularity = 8;
  m = ModelDevice(amd);
  EXPECT_EQ(m.compute_units.value, 64);
  EXPECT_EQ(m.compute_units.note, "VK_AMD_shader_core_properties");
  EXPECT_EQ(m.max_subgroups_per_unit.value, 32);
  EXPECT_EQ(m.registers_per_unit.value, 4 * 512 * 64);
  EXPECT_EQ(m.register_granularity.value, 8 * 64);
  EXPECT_EQ(m.max_registers_per_invocation.source, Source::kExposed);
  // 512 VGPRs per SIMD in blocks of 8: 100 VGPRs -> 104 -> 4 waves per SIMD, 16 per CU:
  // 8 workgroups of 2 waves, half the 32 exposed wave slots.
  ExpectOccupancy(ComputeOccupancy(m, Kernel(128, 100)), 8, 16, 0.5, Limiter::kRegisters);
  amd.cores.amd_active_compute_units = 60;
  m = ModelDevice(amd);
  EXPECT_EQ(m.compute_units.value, 60);
  EXPECT_EQ(m.compute_units.note, "VK_AMD_shader_core_properties2");
}

TEST(OccupancyModel, IntelAndUnknownVendorsGetADefaultRow) {
  const DeviceModel arc = ModelDevice(Device(0x8086, "Intel(R) Arc(tm) A770 Graphics (DG2)", 32));
  EXPECT_EQ(arc.vendor, "Intel");
  EXPECT_EQ(arc.architecture, "Xe-HPG");
  EXPECT_EQ(arc.unit_name, "Xe-core");
  EXPECT_EQ(arc.compute_units.value, 32);
  // Each hardware thread owns its registers: they never limit.
  EXPECT_EQ(ComputeOccupancy(arc, Kernel(256, 200)).by_registers, UINT32_MAX);
  EXPECT_EQ(ModelDevice(Device(0x8086, "Intel(R) UHD Graphics 630 (CFL GT2)", 16)).architecture, "Gen9");
  EXPECT_EQ(ModelDevice(Device(0x8086, "Intel(R) Iris(R) Xe Graphics (TGL GT2)", 16)).architecture, "Xe-LP");
  const DeviceModel other = ModelDevice(Device(0x13B5, "Mali-G78", 16));
  EXPECT_EQ(other.vendor, "unknown");
  EXPECT_GT(ComputeOccupancy(other, Kernel(64, 32)).active_workgroups_per_unit, 0u);
  EXPECT_TRUE(ComputeOccupancy(other, Kernel(64, 32)).modelled);
}

TEST(OccupancyModel, SoftwareDriverRunsOneWorkgroupPerThread) {
  vk::DeviceInfo cpu = Device(0x10005, "llvmpipe (LLVM 15.0.6, 256 bits)", 8);
  cpu.type = VK_PHYSICAL_DEVICE_TYPE_CPU;
  cpu.max_shared_memory_bytes = 32768;
  const char* previous = std::getenv("LP_NUM_THREADS");
  const std::string saved = previous ? previous : "";
  setenv("LP_NUM_THREADS", "3", 1);
  const DeviceModel m = ModelDevice(cpu);
  if (previous) setenv("LP_NUM_THREADS", saved.c_str(), 1); else unsetenv("LP_NUM_THREADS");
  EXPECT_TRUE(m.software);
  EXPECT_EQ(m.vendor, "software (CPU)");
  EXPECT_EQ(m.architecture, "lavapipe (llvmpipe)");
  EXPECT_EQ(m.compute_units.value, 3);
  EXPECT_NE(m.compute_units.note.find("LP_NUM_THREADS"), std::string::npos);
  EXPECT_EQ(m.subgroup_size.value, 8);
  EXPECT_EQ(m.fp32_flops_per_clock_per_unit.value, 16);  // 8 lanes of 256 bits, an FMA each
  for (uint32_t invocations : {8u, 64u, 1024u}) {
    const Occupancy o = ComputeOccupancy(m, Kernel(invocations, 200));  // registers do not matter
    EXPECT_EQ(o.active_workgroups_per_unit, 1u) << o.explanation;
    EXPECT_EQ(o.occupancy, 1.0) << o.explanation;
    EXPECT_EQ(o.subgroups_per_workgroup, invocations / 8);
    EXPECT_NE(o.explanation.find("one workgroup at a time"), std::string::npos) << o.explanation;
    EXPECT_TRUE(o.modelled);
  }
  EXPECT_EQ(ComputeOccupancy(m, Kernel(64, 16, 64 * 1024)).active_workgroups_per_unit, 0u);  // over 32 KiB
}

TEST(OccupancyModel, ModelledRegistersByFamily) {
  EXPECT_GE(ModelledRegisters("matmul", 64).value, 64);
  EXPECT_LE(ModelledRegisters("bias_act", 256).value, 24);
  EXPECT_GE(ModelledRegisters("bias_act", 256).value, 16);
  EXPECT_EQ(ModelledRegisters("bias_act_back", 256).value, 24);
  EXPECT_EQ(ModelledRegisters("copy", 256).source, Source::kModelled);
  EXPECT_NE(ModelledRegisters("something new", 64).note.find("something new"), std::string::npos);
  // Capped so the workgroup fits in 65536 registers: 1024 invocations -> 64.
  EXPECT_EQ(ModelledRegisters("matmul", 1024).value, 64);
  const Occupancy o = ComputeOccupancy(ModelDevice(A100()), {1024, 0, ModelledRegisters("matmul", 1024)});
  EXPECT_EQ(o.active_workgroups_per_unit, 1u) << o.explanation;
  EXPECT_TRUE(o.modelled);
}

// ---- The overrides file.

class OverridesFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("tensorscope-occupancy-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path File() const { return dir_ / "config" / "device_model.json"; }
  void Write(const std::string& text) {
    std::filesystem::create_directories(File().parent_path());
    std::ofstream(File()) << text;
  }
  // The message of the ts::Error loading the file throws.
  std::string LoadError() {
    try {
      LoadDeviceModelOverrides(File());
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  }
  std::filesystem::path dir_;
};

TEST_F(OverridesFile, RoundTripAppliesOnlyWhatTheUserSet) {
  EXPECT_TRUE(LoadDeviceModelOverrides(File()).empty());  // missing: no overrides

  DeviceModel row = ModelDevice(A100());  // copied from the model, two figures edited
  row.clock_mhz = {1200, Source::kUser, ""};
  row.compute_units = {98, Source::kUser, ""};
  DeviceModel other = VendorTable().front();
  other.clock_mhz = {999, Source::kUser, ""};
  SaveDeviceModelOverrides(File(), {row, other});  // creates the directory
  EXPECT_FALSE(std::filesystem::exists(File().string() + ".tmp"));

  const std::vector<DeviceModel> loaded = LoadDeviceModelOverrides(File());
  ASSERT_EQ(loaded.size(), 2u);
  EXPECT_EQ(loaded[0].vendor, "NVIDIA");
  EXPECT_EQ(loaded[0].architecture, "Ampere (GA100, CC 8.0)");
  EXPECT_EQ(loaded[0].clock_mhz.value, 1200);
  EXPECT_EQ(loaded[0].clock_mhz.source, Source::kUser);
  EXPECT_EQ(loaded[0].registers_per_unit.source, Source::kModelled);  // not saved: not edited
  EXPECT_EQ(loaded[0].registers_per_unit.value, 0);

  const DeviceModel m = ModelDevice(A100(), loaded);
  EXPECT_EQ(m.clock_mhz.value, 1200);
  EXPECT_EQ(m.clock_mhz.source, Source::kUser);
  EXPECT_STREQ(SourceName(m.clock_mhz.source), "set by you");
  EXPECT_EQ(m.compute_units.value, 98);
  EXPECT_EQ(m.registers_per_unit.value, 65536);  // the table's, untouched
  EXPECT_NEAR(m.theoretical_gflops(), 98 * 1200 * 128 / 1000.0, 1e-9);
  // The other row names another architecture: it does not apply here.
  EXPECT_NE(m.clock_mhz.value, 999);
}

TEST_F(OverridesFile, MalformedFilesNameTheFileAndField) {
  const std::string name = File().string();
  Write("{ not json");
  std::string message = LoadError();
  EXPECT_NE(message.find(name), std::string::npos) << message;
  EXPECT_NE(message.find("JSON"), std::string::npos) << message;

  Write(R"({"version": 1, "rows": {}})");
  message = LoadError();
  EXPECT_NE(message.find("rows"), std::string::npos) << message;

  Write(R"({"rows": [{"architecture": "GCN"}]})");
  message = LoadError();
  EXPECT_NE(message.find("rows[0].vendor"), std::string::npos) << message;

  Write(R"({"rows": [{"vendor": "AMD", "architecture": "GCN", "figures": {"clock_mhz": -5}}]})");
  message = LoadError();
  EXPECT_NE(message.find("rows[0].figures.clock_mhz"), std::string::npos) << message;
  EXPECT_NE(message.find("-5"), std::string::npos) << message;

  Write(R"({"rows": [{"vendor": "AMD", "architecture": "GCN", "figures": {"clock_mhz": "fast"}}]})");
  message = LoadError();
  EXPECT_NE(message.find("\"fast\""), std::string::npos) << message;

  Write(R"({"rows": [{"vendor": "AMD", "architecture": "GCN", "figures": {"warp_drive": 9}}]})");
  message = LoadError();
  EXPECT_NE(message.find("warp_drive"), std::string::npos) << message;
  EXPECT_NE(message.find("clock_mhz"), std::string::npos) << message;  // lists what is expected
  EXPECT_NE(message.find(name), std::string::npos) << message;

  Write(R"({"version": 2, "rows": []})");
  message = LoadError();
  EXPECT_NE(message.find("version"), std::string::npos) << message;

  // A value nested far past the reader's limit is refused while parsing, never serialised into a message.
  Write(R"({"rows": [{"vendor": )" + std::string(100000, '[') + std::string(100000, ']') + "}]}");
  message = LoadError();
  EXPECT_NE(message.find("nested deeper than"), std::string::npos) << message;
  Write(R"({"rows": [{"vendor": )" + std::string(30, '[') + "1" + std::string(30, ']') + R"(, "architecture": "x"}]})");
  message = LoadError();
  EXPECT_NE(message.find("rows[0].vendor: expected a string, found array"), std::string::npos) << message;
  EXPECT_LT(message.size(), 400u) << message;
}

TEST_F(OverridesFile, AFileThatIsNotARegularFileIsRefused) {
  std::filesystem::create_directories(File());  // a folder where the file should be
  const std::string message = LoadError();
  EXPECT_NE(message.find(File().string()), std::string::npos) << message;
}

}  // namespace
}  // namespace ts::profile
