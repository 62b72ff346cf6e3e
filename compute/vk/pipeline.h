// Compute pipelines built from the embedded SPIR-V, with specialization
// constants for workgroup and tile sizes.
//
// The shader's interface is found by reflection, not restated in C++: its
// descriptor bindings (storage buffers or uniform texel buffers, set 0), its
// push-constant block size and its local size (after specialization). A
// dispatch asserts that what it binds and pushes matches.
#pragma once

#include <vulkan/vulkan.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "compute/vk/handle.h"

namespace ts::vk {

class Context;

enum class DescriptorKind { kStorageBuffer, kUniformTexelBuffer };

// The Vulkan descriptor type of a binding of this kind.
VkDescriptorType DescriptorTypeOf(DescriptorKind kind);

// Whether a shader's code reads and writes one of its bindings: any load or
// store through it, however it is guarded (a push constant or specialization
// constant that turns it off does not count). Synchronization validation
// assumes exactly these accesses of every dispatch of the shader, so a
// Sequence checks each dispatch's declared Access against them.
struct BindingUse {
  bool reads = false, writes = false;
  bool operator==(const BindingUse&) const = default;
};

// What a shader declares, read from its SPIR-V.
struct ShaderInterface {
  // Binding i of set 0, up to the last the code uses (the compiler drops the
  // rest); a gap, which the code never touches, is listed as a storage buffer.
  std::vector<DescriptorKind> bindings;
  std::vector<BindingUse> uses;          // per binding, as `bindings`
  uint32_t push_constant_bytes = 0;      // size of the push-constant block, 0 if none
  // Local size; an entry is a spec-constant id when local_size_spec_id[d] >= 0.
  std::array<uint32_t, 3> local_size{1, 1, 1};
  std::array<int, 3> local_size_spec_id{-1, -1, -1};
  std::map<uint32_t, uint32_t> spec_defaults;  // spec-constant id -> default (32-bit scalars)
  // Bytes of shared (workgroup) memory the shader declares, with the spec
  // constants given to ReflectShader (array lengths may be spec constants).
  uint32_t shared_memory_bytes = 0;
  // The traced build of a shader binds its workgroup-trace buffer here (set 1, binding 0).
  bool has_trace_binding = false;
};

// One statistic a driver reports through VK_KHR_pipeline_executable_properties
// (e.g. "Registers", "Spilled registers", "Occupancy"); drivers without the
// extension report none.
struct ExecutableStatistic {
  std::string executable;  // e.g. "compute shader"
  std::string name, description;
  double value = 0;
};

// Reads the interface of a compute shader. Throws ts::Error on malformed SPIR-V,
// on a descriptor outside set 0 (other than the trace binding), and on shared
// memory it cannot size. `spec` overrides spec-constant defaults when sizing
// shared memory: array lengths may be spec constants or OpSpecConstantOp
// expressions of them (integer arithmetic, comparisons, select, components of
// gl_WorkGroupSize), which are evaluated.
ShaderInterface ReflectShader(const uint32_t* words, size_t word_count, const std::map<uint32_t, uint32_t>* spec = nullptr);

// Specialization constants: constant_id -> 32-bit value (int, uint or float bits).
using SpecConstants = std::map<uint32_t, uint32_t>;

class Pipeline {
 public:
  // Builds the pipeline for the embedded shader `shader_name` with `spec`.
  // Where Context::has_executable_properties(), the driver's statistics of the
  // compiled shader are captured (executable_statistics()).
  Pipeline(Context& context, const std::string& shader_name, const SpecConstants& spec);
  // Builds a pipeline from SPIR-V compiled at run time (the Kernel Lab's
  // puzzles); `shader_name` names it in messages.
  Pipeline(Context& context, const std::string& shader_name, std::span<const uint32_t> words,
           const SpecConstants& spec);

  const std::string& shader_name() const { return shader_name_; }
  const ShaderInterface& interface() const { return interface_; }
  // The workgroup size after specialization, e.g. {16, 16, 1}.
  const std::array<uint32_t, 3>& local_size() const { return local_size_; }
  uint32_t invocations_per_workgroup() const { return local_size_[0] * local_size_[1] * local_size_[2]; }
  const SpecConstants& spec() const { return spec_; }
  uint32_t shared_memory_bytes() const { return interface_.shared_memory_bytes; }
  // Register counts, spills etc. where the driver reports them (empty otherwise).
  const std::vector<ExecutableStatistic>& executable_statistics() const { return executable_statistics_; }

  VkPipeline handle() const { return pipeline_.get(); }
  VkPipelineLayout layout() const { return layout_.get(); }
  VkDescriptorSetLayout set_layout() const { return set_layout_.get(); }
  // Set 1 of a traced build (one storage buffer at binding 0, the workgroup
  // records); VK_NULL_HANDLE when interface().has_trace_binding is false.
  VkDescriptorSetLayout trace_set_layout() const { return trace_set_layout_.get(); }

 private:
  std::string shader_name_;
  ShaderInterface interface_;
  std::array<uint32_t, 3> local_size_{};
  SpecConstants spec_;
  std::vector<ExecutableStatistic> executable_statistics_;
  UniqueDescriptorSetLayout set_layout_;
  UniqueDescriptorSetLayout trace_set_layout_;
  UniquePipelineLayout layout_;
  UniquePipeline pipeline_;
};

// Builds each (shader, spec constants) pipeline once and keeps it for the
// context's lifetime. Thread-safe.
class PipelineCache {
 public:
  explicit PipelineCache(Context& context) : context_(context) {}
  const Pipeline& Get(const std::string& shader_name, const SpecConstants& spec = {});
  Context& context() const { return context_; }

 private:
  Context& context_;
  std::mutex mutex_;
  std::map<std::pair<std::string, SpecConstants>, std::unique_ptr<Pipeline>> pipelines_;
};

// The bit pattern of a float, for float-valued specialization constants.
uint32_t FloatBits(float value);

}  // namespace ts::vk
