#include "compute/vk/pipeline.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <unordered_map>

#include "compute/common/error.h"
#include "compute/vk/check.h"
#include "compute/vk/context.h"
#include "compute/vk/shader_registry.h"

namespace ts::vk {
namespace {

// The SPIR-V opcodes and enums reflection needs (SPIR-V 1.x specification).
enum : uint32_t {
  kOpExecutionMode = 16, kOpTypeBool = 20, kOpTypeInt = 21, kOpTypeFloat = 22, kOpTypeVector = 23,
  kOpTypeMatrix = 24, kOpTypeImage = 25, kOpTypeArray = 28, kOpTypeRuntimeArray = 29, kOpTypeStruct = 30,
  kOpTypePointer = 32, kOpConstant = 43, kOpConstantComposite = 44, kOpSpecConstantTrue = 48,
  kOpSpecConstantFalse = 49, kOpSpecConstant = 50,
  kOpSpecConstantComposite = 51, kOpVariable = 59, kOpDecorate = 71, kOpMemberDecorate = 72,
  kOpExecutionModeId = 331,
};
enum : uint32_t {
  kDecorationSpecId = 1, kDecorationArrayStride = 6, kDecorationBuiltIn = 11, kDecorationBinding = 33,
  kDecorationDescriptorSet = 34, kDecorationOffset = 35, kBuiltInWorkgroupSize = 25, kExecutionModeLocalSize = 17,
  kExecutionModeLocalSizeId = 38, kStorageClassUniformConstant = 0, kStorageClassUniform = 2,
  kStorageClassPushConstant = 9, kStorageClassStorageBuffer = 12, kDimBuffer = 5,
};

struct Instruction {
  uint32_t opcode;
  const uint32_t* operands;
  uint32_t operand_count;
};

}  // namespace

ShaderInterface ReflectShader(const uint32_t* words, size_t word_count, const std::map<uint32_t, uint32_t>* spec) {
  if (word_count < 5 || words[0] != 0x07230203u) throw Error("Embedded shader is not SPIR-V (bad magic number).");
  std::unordered_map<uint32_t, Instruction> definitions;  // result id -> defining instruction
  std::unordered_map<uint32_t, uint32_t> spec_ids, bindings, sets, array_strides;
  std::unordered_map<uint32_t, std::map<uint32_t, uint32_t>> member_offsets;
  std::vector<Instruction> variables;
  uint32_t workgroup_size_id = 0;
  std::array<uint32_t, 3> local_size_ids{};  // from LocalSizeId (SPIR-V 1.6 targets)
  ShaderInterface shader;

  for (size_t i = 5; i < word_count;) {
    uint32_t count = words[i] >> 16, opcode = words[i] & 0xffffu;
    if (count == 0 || i + count > word_count) throw Error("Embedded shader has a truncated SPIR-V instruction.");
    Instruction inst{opcode, words + i + 1, count - 1};
    const uint32_t* o = inst.operands;
    switch (opcode) {
      case kOpDecorate:
        if (o[1] == kDecorationSpecId) spec_ids[o[0]] = o[2];
        if (o[1] == kDecorationBinding) bindings[o[0]] = o[2];
        if (o[1] == kDecorationDescriptorSet) sets[o[0]] = o[2];
        if (o[1] == kDecorationArrayStride) array_strides[o[0]] = o[2];
        if (o[1] == kDecorationBuiltIn && o[2] == kBuiltInWorkgroupSize) workgroup_size_id = o[0];
        break;
      case kOpMemberDecorate:
        if (o[2] == kDecorationOffset) member_offsets[o[0]][o[1]] = o[3];
        break;
      case kOpExecutionMode:
        if (o[1] == kExecutionModeLocalSize) shader.local_size = {o[2], o[3], o[4]};
        break;
      case kOpVariable:
        variables.push_back(inst);
        break;
      case kOpTypeBool: case kOpTypeInt: case kOpTypeFloat: case kOpTypeVector: case kOpTypeMatrix:
      case kOpTypeImage: case kOpTypeArray: case kOpTypeRuntimeArray: case kOpTypeStruct:
      case kOpTypePointer:
        definitions[o[0]] = inst;
        break;
      case kOpConstant: case kOpConstantComposite: case kOpSpecConstant: case kOpSpecConstantComposite:
      case kOpSpecConstantTrue: case kOpSpecConstantFalse:
        definitions[o[1]] = inst;
        break;
      default:
        break;
    }
    if (opcode == kOpExecutionModeId && o[1] == kExecutionModeLocalSizeId)
      local_size_ids = {o[2], o[3], o[4]};  // constant ids, resolved below
    i += count;
  }

  for (auto& [id, spec_id] : spec_ids) {
    auto it = definitions.find(id);
    if (it == definitions.end()) continue;
    if (it->second.opcode == kOpSpecConstant) shader.spec_defaults[spec_id] = it->second.operands[2];
    // Booleans: a VkBool32 in the specialization data (Vulkan reads 4 bytes).
    if (it->second.opcode == kOpSpecConstantTrue) shader.spec_defaults[spec_id] = 1;
    if (it->second.opcode == kOpSpecConstantFalse) shader.spec_defaults[spec_id] = 0;
  }
  // local_size_x_id etc.: glslc emits a WorkgroupSize built-in composite of spec constants.
  if (workgroup_size_id != 0 || local_size_ids[0] != 0) {
    for (int d = 0; d < 3; ++d) {
      uint32_t component = workgroup_size_id != 0 ? definitions.at(workgroup_size_id).operands[2 + d]
                                                  : local_size_ids[d];
      const Instruction& constant = definitions.at(component);
      shader.local_size[d] = constant.operands[2];
      if (spec_ids.count(component)) shader.local_size_spec_id[d] = static_cast<int>(spec_ids[component]);
    }
  }

  // Byte size of a type in an explicitly laid-out block.
  std::function<uint32_t(uint32_t)> type_size = [&](uint32_t type) -> uint32_t {
    const Instruction& t = definitions.at(type);
    switch (t.opcode) {
      case kOpTypeBool: return 4;
      case kOpTypeInt: case kOpTypeFloat: return t.operands[1] / 8;
      case kOpTypeVector: return type_size(t.operands[1]) * t.operands[2];
      case kOpTypeMatrix: return type_size(t.operands[1]) * t.operands[2];
      case kOpTypeArray: {
        uint32_t length = definitions.at(t.operands[2]).operands[2];
        uint32_t stride = array_strides.count(type) ? array_strides[type] : type_size(t.operands[1]);
        return stride * length;
      }
      case kOpTypeStruct: {
        uint32_t size = 0;
        for (uint32_t m = 0; m + 1 < t.operand_count; ++m)
          size = std::max(size, member_offsets[type][m] + type_size(t.operands[1 + m]));
        return size;
      }
      default: throw Error("Embedded shader uses a push-constant type that reflection does not size.");
    }
  };

  for (const Instruction& variable : variables) {
    uint32_t pointer_type = variable.operands[0], id = variable.operands[1], storage = variable.operands[2];
    uint32_t pointee = definitions.at(pointer_type).operands[2];
    if (storage == kStorageClassPushConstant) {
      shader.push_constant_bytes = type_size(pointee);
      continue;
    }
    if (storage != kStorageClassUniform && storage != kStorageClassStorageBuffer &&
        storage != kStorageClassUniformConstant)
      continue;
    if (!bindings.count(id)) continue;
    if (sets.count(id) && sets[id] != 0) throw Error("Tensorscope shaders use descriptor set 0 only.");
    const Instruction& type = definitions.at(pointee);
    DescriptorKind kind = DescriptorKind::kStorageBuffer;
    if (type.opcode == kOpTypeImage && type.operands[2] == kDimBuffer) kind = DescriptorKind::kUniformTexelBuffer;
    uint32_t binding = bindings[id];
    if (shader.bindings.size() <= binding) shader.bindings.resize(binding + 1, DescriptorKind::kStorageBuffer);
    shader.bindings[binding] = kind;
  }
  return shader;
}

uint32_t FloatBits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

const EmbeddedShader& FindEmbeddedShader(std::string_view name) {
  for (const EmbeddedShader& shader : EmbeddedShaders())
    if (name == shader.name) return shader;
  throw Error("No embedded shader is called '" + std::string(name) + "'.");
}

Pipeline::Pipeline(Context& context, const std::string& shader_name, const SpecConstants& spec)
    : shader_name_(shader_name), spec_(spec) {
  VkDevice device = context.device();
  const EmbeddedShader& shader = FindEmbeddedShader(shader_name);
  interface_ = ReflectShader(shader.words, shader.word_count);
  for (int d = 0; d < 3; ++d) {
    int id = interface_.local_size_spec_id[d];
    local_size_[d] = (id >= 0 && spec.count(id)) ? spec.at(id) : interface_.local_size[d];
  }
  const DeviceInfo& info = context.info();
  uint32_t invocations = invocations_per_workgroup();
  for (int d = 0; d < 3; ++d)
    if (local_size_[d] > info.max_workgroup_size[d] || invocations > info.max_workgroup_invocations)
      throw Error("Shader '" + shader_name + "' asks for a workgroup of " + std::to_string(local_size_[0]) + "x" +
                  std::to_string(local_size_[1]) + "x" + std::to_string(local_size_[2]) + ", beyond what '" +
                  info.name + "' allows (" + std::to_string(info.max_workgroup_invocations) + " invocations).");
  if (interface_.push_constant_bytes > info.max_push_constants_bytes)
    throw Error("Shader '" + shader_name + "' needs " + std::to_string(interface_.push_constant_bytes) +
                " bytes of push constants; the device allows " + std::to_string(info.max_push_constants_bytes) + ".");

  std::vector<VkDescriptorSetLayoutBinding> layout_bindings;
  for (uint32_t b = 0; b < interface_.bindings.size(); ++b) {
    VkDescriptorSetLayoutBinding binding{};
    binding.binding = b;
    binding.descriptorType = interface_.bindings[b] == DescriptorKind::kStorageBuffer
                                 ? VK_DESCRIPTOR_TYPE_STORAGE_BUFFER
                                 : VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
    binding.descriptorCount = 1;
    binding.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
    layout_bindings.push_back(binding);
  }
  VkDescriptorSetLayoutCreateInfo set_create{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
  set_create.bindingCount = static_cast<uint32_t>(layout_bindings.size());
  set_create.pBindings = layout_bindings.data();
  VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
  Check(vkCreateDescriptorSetLayout(device, &set_create, nullptr, &set_layout),
        "vkCreateDescriptorSetLayout for '" + shader_name + "'");
  set_layout_ = UniqueDescriptorSetLayout(device, set_layout);

  VkPushConstantRange push{VK_SHADER_STAGE_COMPUTE_BIT, 0, interface_.push_constant_bytes};
  VkPipelineLayoutCreateInfo layout_create{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  layout_create.setLayoutCount = 1;
  layout_create.pSetLayouts = &set_layout;
  layout_create.pushConstantRangeCount = interface_.push_constant_bytes > 0 ? 1 : 0;
  layout_create.pPushConstantRanges = &push;
  VkPipelineLayout layout = VK_NULL_HANDLE;
  Check(vkCreatePipelineLayout(device, &layout_create, nullptr, &layout),
        "vkCreatePipelineLayout for '" + shader_name + "'");
  layout_ = UniquePipelineLayout(device, layout);

  VkShaderModuleCreateInfo module_create{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
  module_create.codeSize = shader.word_count * sizeof(uint32_t);
  module_create.pCode = shader.words;
  VkShaderModule module_handle = VK_NULL_HANDLE;
  Check(vkCreateShaderModule(device, &module_create, nullptr, &module_handle),
        "vkCreateShaderModule for '" + shader_name + "'");
  UniqueShaderModule module(device, module_handle);

  std::vector<VkSpecializationMapEntry> entries;
  std::vector<uint32_t> values;
  // Constants the optimizer removed from the SPIR-V (unused in this shader)
  // are skipped; Vulkan ignores map entries for absent ids anyway.
  for (auto& [id, value] : spec) {
    if (!interface_.spec_defaults.count(id)) continue;
    entries.push_back({id, static_cast<uint32_t>(values.size() * sizeof(uint32_t)), sizeof(uint32_t)});
    values.push_back(value);
  }
  VkSpecializationInfo specialization{static_cast<uint32_t>(entries.size()), entries.data(),
                                      values.size() * sizeof(uint32_t), values.data()};
  VkComputePipelineCreateInfo create{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
  create.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
  create.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  create.stage.module = module_handle;
  create.stage.pName = "main";
  create.stage.pSpecializationInfo = entries.empty() ? nullptr : &specialization;
  create.layout = layout;
  VkPipeline pipeline = VK_NULL_HANDLE;
  Check(vkCreateComputePipelines(device, VK_NULL_HANDLE, 1, &create, nullptr, &pipeline),
        "vkCreateComputePipelines for '" + shader_name + "'");
  pipeline_ = UniquePipeline(device, pipeline);
}

const Pipeline& PipelineCache::Get(const std::string& shader_name, const SpecConstants& spec) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto key = std::make_pair(shader_name, spec);
  auto it = pipelines_.find(key);
  if (it == pipelines_.end())
    it = pipelines_.emplace(key, std::make_unique<Pipeline>(context_, shader_name, spec)).first;
  return *it->second;
}

}  // namespace ts::vk
