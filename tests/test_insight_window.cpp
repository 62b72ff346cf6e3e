// The GPU insight window drawn headless (no device, no session): the
// Occupancy tab's "as if on" choice, picked with real clicks, shows for every
// kernel the occupancy compute/profile's model gives for the reference GPU
// chosen, labelled modelled; and back on "this device", this device's model.
#include <gtest/gtest.h>

#include <cfloat>
#include <map>
#include <string>
#include <vector>

#include "compute/profile/kernel_table.h"
#include "compute/profile/occupancy.h"
#include "imgui.h"
#include "support/headless_imgui.h"
#include "ui/app_state.h"
#include "ui/format.h"
#include "ui/panels/insight_panel.h"
#include "ui/test_hooks.h"

namespace ts::ui {
namespace {

// A software driver as lavapipe describes itself at 256 bits.
vk::DeviceInfo Lavapipe() {
  vk::DeviceInfo info;
  info.name = "llvmpipe (LLVM 15.0.7, 256 bits)";
  info.vendor_id = 0x10005;
  info.type = VK_PHYSICAL_DEVICE_TYPE_CPU;
  info.subgroup_size = 8;
  info.max_workgroup_invocations = 1024;
  info.max_workgroup_size = {1024, 1024, 1024};
  info.max_shared_memory_bytes = 32768;
  return info;
}

nn::DispatchInfo Dispatch(const std::string& kernel, int layer, nn::Pass pass, std::array<uint32_t, 3> local,
                          uint32_t shared_bytes) {
  nn::DispatchInfo d;
  d.kernel = d.shader = kernel;
  d.label = kernel + " of layer " + std::to_string(layer);
  d.role = {layer, pass};
  d.local_size = local;
  d.workgroups = {4, 4, 1};
  d.shared_memory_bytes = shared_bytes;
  d.cost.flops = 1e6;
  d.cost.bytes_read = d.cost.bytes_written = 1e5;
  return d;
}

class InsightWindow : public ::testing::Test {
 protected:
  void SetUp() override {
    context_ = testing::CreateHeadlessImGui();
    state_.device = &device_;
    state_.insight.open = true;
    // Kernels whose workgroups, shared memory and (modelled) registers differ.
    state_.training.dispatches = {Dispatch("matmul", 1, nn::Pass::kForward, {8, 1, 1}, 0),
                                  Dispatch("bias_act", 1, nn::Pass::kForward, {64, 1, 1}, 0),
                                  Dispatch("matmul", 3, nn::Pass::kBackward, {16, 16, 1}, 8448),
                                  Dispatch("optimizer", -1, nn::Pass::kUpdate, {256, 1, 1}, 0)};
    state_.training.dispatch_ns = {4000, 1000, 6000, 2000};
  }
  void TearDown() override { ImGui::DestroyContext(context_); }

  void Frame(ImVec2 mouse = ImVec2(-FLT_MAX, -FLT_MAX), bool down = false) {
    ImGuiIO& io = ImGui::GetIO();
    io.MousePos = mouse;
    io.MouseDown[0] = down;
    ImGui::NewFrame();
    ImGui::SetNextWindowPos(ImVec2(0, 0));
    ImGui::SetNextWindowSize(ImVec2(1600, 1000));
    DrawInsightPanel(state_);
    ImGui::Render();
  }
  void Click(const std::string& rect) {
    testing::ClickRecordedRect(rect, [this](ImVec2 mouse, bool down) { Frame(mouse, down); });
  }
  // What compute/profile's model gives for each kernel row under `model`, as
  // the tab writes it, by row key.
  std::map<std::string, std::string> Expected(const profile::DeviceModel& model) const {
    std::map<std::string, std::string> expected;
    for (const profile::KernelRow& row : state_.insight.rows) {
      profile::KernelResources resources;
      resources.workgroup_invocations = row.local_size[0] * row.local_size[1] * row.local_size[2];
      resources.shared_memory_bytes = row.shared_memory_bytes;
      resources.registers_per_invocation = profile::ModelledRegisters(row.kernel, resources.workgroup_invocations);
      const profile::Occupancy o = profile::ComputeOccupancy(model, resources);
      expected.emplace(profile::KeyText(profile::KeyOf(row)),
                     Printf("%.0f%%", o.occupancy * 100) + (o.modelled ? " (modelled)" : ""));
    }
    return expected;
  }

  vk::DeviceInfo device_ = Lavapipe();
  AppState state_;

 private:
  ImGuiContext* context_ = nullptr;
};

// The cells the tab drew, by row key (its lines are in step order, the rows by time).
std::map<std::string, std::string> Shown(const AppState& state) {
  const auto& cells = state.insight.drawn.occupancy_cells;
  EXPECT_EQ(cells.size(), state.insight.rows.size());
  return {cells.begin(), cells.end()};
}

TEST_F(InsightWindow, AsIfOnAReferenceGpuShowsItsModelledOccupancy) {
  Frame();
  Frame();
  ASSERT_EQ(state_.insight.rows.size(), 4u);
  Click("insight_tab_Occupancy");
  ASSERT_EQ(state_.insight.drawn.tab, "Occupancy");
  EXPECT_EQ(state_.insight.drawn.occupancy_model, "this device");
  EXPECT_EQ(Shown(state_), Expected(profile::ModelDevice(device_)));

  const std::vector<profile::ReferenceDevice>& references = profile::ReferenceDeviceModels();
  ASSERT_GE(references.size(), 4u);  // NVIDIA CC 8.6 and 9.0, AMD RDNA3, Intel Xe
  bool any_below_full = false;
  for (const profile::ReferenceDevice& reference : references) {
    SCOPED_TRACE(reference.label);
    Click("occupancy_as_if_on");
    Click("as_if_on " + reference.label);
    EXPECT_EQ(state_.insight.drawn.occupancy_model, reference.label);
    EXPECT_EQ(Shown(state_), Expected(reference.model));
    for (const auto& [key, text] : state_.insight.drawn.occupancy_cells) {
      EXPECT_NE(text.find("(modelled)"), std::string::npos) << key << ": " << text;
      any_below_full |= text.rfind("100%", 0) != 0;
    }
  }
  // On the reference GPUs registers and shared memory limit some kernel (lavapipe shows 100% for all).
  EXPECT_TRUE(any_below_full);

  Click("occupancy_as_if_on");
  Click("as_if_on this device");
  EXPECT_EQ(state_.insight.drawn.occupancy_model, "this device");
  EXPECT_EQ(Shown(state_), Expected(profile::ModelDevice(device_)));
}

}  // namespace
}  // namespace ts::ui

namespace ts::ui {
namespace {

TEST_F(InsightWindow, AKernelRowClickSelectsItsLayerBesideTheForceVariantChoice) {
  Frame();
  Frame();
  Click("insight_tab_Kernels");
  ASSERT_EQ(state_.insight.drawn.tab, "Kernels");
  ASSERT_GE(state_.insight.drawn.first_layer_row, 0);
  const int layer = state_.insight.drawn.first_layer_row;
  Click("insight_kernel_layer_row");
  EXPECT_EQ(state_.insight.selected_layer, layer);
}

}  // namespace
}  // namespace ts::ui
