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
  kOpTypePointer = 32, kOpConstantTrue = 41, kOpConstantFalse = 42, kOpConstant = 43,
  kOpConstantComposite = 44, kOpConstantNull = 46, kOpSpecConstantTrue = 48, kOpSpecConstantFalse = 49,
  kOpSpecConstant = 50, kOpSpecConstantComposite = 51, kOpSpecConstantOp = 52, kOpVariable = 59,
  kOpDecorate = 71, kOpMemberDecorate = 72, kOpExecutionModeId = 331,
};
// Instructions that derive a pointer from another, and those that read or
// write memory through one (for BindingUse).
enum : uint32_t {
  kOpImageTexelPointer = 60, kOpLoad = 61, kOpStore = 62, kOpCopyMemory = 63, kOpCopyMemorySized = 64,
  kOpAccessChain = 65, kOpInBoundsAccessChain = 66, kOpPtrAccessChain = 67, kOpInBoundsPtrAccessChain = 70,
  kOpCopyObject = 83, kOpAtomicLoad = 227, kOpAtomicStore = 228, kOpAtomicExchange = 229, kOpAtomicXor = 242,
  kOpAtomicFlagTestAndSet = 318, kOpAtomicFlagClear = 319, kOpAtomicFMinEXT = 5614, kOpAtomicFMaxEXT = 5615,
  kOpAtomicFAddEXT = 6035,
};
// Operations an OpSpecConstantOp may apply that array lengths use.
enum : uint32_t {
  kOpCompositeExtract = 81, kOpUConvert = 113, kOpSConvert = 114, kOpSNegate = 126, kOpIAdd = 128,
  kOpISub = 130, kOpIMul = 132, kOpUDiv = 134, kOpSDiv = 135, kOpUMod = 137, kOpSRem = 138, kOpSMod = 139,
  kOpLogicalEqual = 164, kOpLogicalNotEqual = 165, kOpLogicalOr = 166, kOpLogicalAnd = 167,
  kOpLogicalNot = 168, kOpSelect = 169, kOpIEqual = 170, kOpINotEqual = 171, kOpUGreaterThan = 172,
  kOpSGreaterThan = 173, kOpUGreaterThanEqual = 174, kOpSGreaterThanEqual = 175, kOpULessThan = 176,
  kOpSLessThan = 177, kOpULessThanEqual = 178, kOpSLessThanEqual = 179, kOpShiftRightLogical = 194,
  kOpShiftRightArithmetic = 195, kOpShiftLeftLogical = 196, kOpBitwiseOr = 197, kOpBitwiseXor = 198,
  kOpBitwiseAnd = 199, kOpNot = 200,
};
enum : uint32_t {
  kDecorationSpecId = 1, kDecorationArrayStride = 6, kDecorationBuiltIn = 11, kDecorationBinding = 33,
  kDecorationDescriptorSet = 34, kDecorationOffset = 35, kBuiltInWorkgroupSize = 25, kExecutionModeLocalSize = 17,
  kExecutionModeLocalSizeId = 38, kStorageClassUniformConstant = 0, kStorageClassUniform = 2,
  kStorageClassWorkgroup = 4, kStorageClassPushConstant = 9, kStorageClassStorageBuffer = 12, kDimBuffer = 5,
};

// The descriptor set of the workgroup-trace buffer in traced shader builds.
constexpr uint32_t kTraceSet = 1;

struct Instruction {
  uint32_t opcode;
  const uint32_t* operands;
  uint32_t operand_count;
};

// The statistics the driver captured for each executable of `pipeline`
// (VK_KHR_pipeline_executable_properties), every value converted to a double.
std::vector<ExecutableStatistic> ReadExecutableStatistics(VkDevice device, VkPipeline pipeline) {
  auto get_properties = reinterpret_cast<PFN_vkGetPipelineExecutablePropertiesKHR>(
      vkGetDeviceProcAddr(device, "vkGetPipelineExecutablePropertiesKHR"));
  auto get_statistics = reinterpret_cast<PFN_vkGetPipelineExecutableStatisticsKHR>(
      vkGetDeviceProcAddr(device, "vkGetPipelineExecutableStatisticsKHR"));
  std::vector<ExecutableStatistic> statistics;
  if (get_properties == nullptr || get_statistics == nullptr) return statistics;
  VkPipelineInfoKHR pipeline_info{VK_STRUCTURE_TYPE_PIPELINE_INFO_KHR};
  pipeline_info.pipeline = pipeline;
  uint32_t executable_count = 0;
  Check(get_properties(device, &pipeline_info, &executable_count, nullptr), "vkGetPipelineExecutablePropertiesKHR");
  std::vector<VkPipelineExecutablePropertiesKHR> executables(
      executable_count, VkPipelineExecutablePropertiesKHR{VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_PROPERTIES_KHR});
  Check(get_properties(device, &pipeline_info, &executable_count, executables.data()),
        "vkGetPipelineExecutablePropertiesKHR");
  for (uint32_t e = 0; e < executable_count; ++e) {
    VkPipelineExecutableInfoKHR executable_info{VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_INFO_KHR};
    executable_info.pipeline = pipeline;
    executable_info.executableIndex = e;
    uint32_t count = 0;
    Check(get_statistics(device, &executable_info, &count, nullptr), "vkGetPipelineExecutableStatisticsKHR");
    std::vector<VkPipelineExecutableStatisticKHR> values(
        count, VkPipelineExecutableStatisticKHR{VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_STATISTIC_KHR});
    Check(get_statistics(device, &executable_info, &count, values.data()), "vkGetPipelineExecutableStatisticsKHR");
    for (uint32_t i = 0; i < count; ++i) {
      const VkPipelineExecutableStatisticKHR& v = values[i];
      ExecutableStatistic statistic;
      statistic.executable = executables[e].name;
      statistic.name = v.name;
      statistic.description = v.description;
      switch (v.format) {
        case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_BOOL32_KHR: statistic.value = v.value.b32 ? 1.0 : 0.0; break;
        case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_INT64_KHR: statistic.value = double(v.value.i64); break;
        case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_UINT64_KHR: statistic.value = double(v.value.u64); break;
        case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_FLOAT64_KHR: statistic.value = v.value.f64; break;
        default: continue;  // a format newer than this code
      }
      statistics.push_back(std::move(statistic));
    }
  }
  return statistics;
}

}  // namespace

ShaderInterface ReflectShader(const uint32_t* words, size_t word_count, const std::map<uint32_t, uint32_t>* spec) {
  if (word_count < 5 || words[0] != 0x07230203u) throw Error("Embedded shader is not SPIR-V (bad magic number).");
  std::unordered_map<uint32_t, Instruction> definitions;  // result id -> defining instruction
  std::unordered_map<uint32_t, uint32_t> spec_ids, bindings, sets, array_strides;
  std::unordered_map<uint32_t, std::map<uint32_t, uint32_t>> member_offsets;
  std::vector<Instruction> variables;
  // Pointers into a descriptor: pointer id -> the variable it points into,
  // and the variables read and written through them.
  std::unordered_map<uint32_t, uint32_t> pointer_roots;
  std::unordered_map<uint32_t, BindingUse> variable_uses;
  auto use = [&](uint32_t pointer, bool reads, bool writes) {
    auto root = pointer_roots.find(pointer);
    if (root == pointer_roots.end()) return;
    BindingUse& u = variable_uses[root->second];
    u.reads |= reads, u.writes |= writes;
  };
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
        if (o[2] == kStorageClassStorageBuffer || o[2] == kStorageClassUniform ||
            o[2] == kStorageClassUniformConstant)
          pointer_roots[o[1]] = o[1];
        break;
      // A pointer derived from a descriptor's points into it too. (A pointer
      // is defined before it is used, so one pass finds every chain.)
      case kOpAccessChain: case kOpInBoundsAccessChain: case kOpPtrAccessChain: case kOpInBoundsPtrAccessChain:
      case kOpCopyObject: case kOpImageTexelPointer:
        if (auto root = pointer_roots.find(o[2]); root != pointer_roots.end()) pointer_roots[o[1]] = root->second;
        break;
      case kOpLoad: case kOpAtomicLoad:  // (loading a texel buffer's image is how it is read)
        use(o[2], true, false);
        break;
      case kOpStore: case kOpAtomicStore: case kOpAtomicFlagClear:
        use(o[0], false, true);
        break;
      case kOpCopyMemory: case kOpCopyMemorySized:
        use(o[0], false, true);
        use(o[1], true, false);
        break;
      case kOpTypeBool: case kOpTypeInt: case kOpTypeFloat: case kOpTypeVector: case kOpTypeMatrix:
      case kOpTypeImage: case kOpTypeArray: case kOpTypeRuntimeArray: case kOpTypeStruct:
      case kOpTypePointer:
        definitions[o[0]] = inst;
        break;
      case kOpConstant: case kOpConstantComposite: case kOpSpecConstant: case kOpSpecConstantComposite:
      case kOpSpecConstantTrue: case kOpSpecConstantFalse: case kOpConstantTrue: case kOpConstantFalse:
      case kOpConstantNull: case kOpSpecConstantOp:
        definitions[o[1]] = inst;
        break;
      default:
        // Read-modify-write atomics: OpAtomicExchange .. OpAtomicXor and the extensions'.
        if ((opcode >= kOpAtomicExchange && opcode <= kOpAtomicXor) || opcode == kOpAtomicFlagTestAndSet ||
            opcode == kOpAtomicFMinEXT || opcode == kOpAtomicFMaxEXT || opcode == kOpAtomicFAddEXT)
          use(o[2], true, true);
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

  // The value of a 32-bit integer or boolean constant, with spec constants
  // taken from `spec` (else their defaults) and OpSpecConstantOp evaluated.
  std::unordered_map<uint32_t, std::vector<uint32_t>> composite_cache;
  std::function<uint32_t(uint32_t, int)> constant_value = [&](uint32_t id, int depth) -> uint32_t {
    if (depth > 64) throw Error("Embedded shader has a spec-constant expression nested too deeply.");
    auto found = definitions.find(id);
    if (found == definitions.end()) throw Error("Embedded shader sizes an array with an unknown constant.");
    const Instruction& c = found->second;
    const uint32_t* o = c.operands;
    auto overridden = [&](uint32_t fallback) {
      auto spec_id = spec_ids.find(id);
      if (spec && spec_id != spec_ids.end() && spec->count(spec_id->second)) return spec->at(spec_id->second);
      return fallback;
    };
    switch (c.opcode) {
      case kOpConstant: return o[2];
      case kOpConstantTrue: return 1;
      case kOpConstantFalse: case kOpConstantNull: return 0;
      case kOpSpecConstant: return overridden(o[2]);
      case kOpSpecConstantTrue: return overridden(1) != 0;
      case kOpSpecConstantFalse: return overridden(0) != 0;
      case kOpSpecConstantOp: break;
      default: throw Error("Embedded shader sizes an array with a constant reflection cannot evaluate (opcode " +
                           std::to_string(c.opcode) + ").");
    }
    uint32_t operation = o[2];
    const uint32_t* args = o + 3;
    uint32_t arg_count = c.operand_count - 3;
    auto arg = [&](uint32_t k) -> uint32_t {
      if (k >= arg_count) throw Error("Embedded shader has a truncated OpSpecConstantOp.");
      return constant_value(args[k], depth + 1);
    };
    if (operation == kOpCompositeExtract) {
      // e.g. gl_WorkGroupSize.x: a component of a (spec) constant composite.
      if (arg_count < 2) throw Error("Embedded shader has a truncated OpSpecConstantOp.");
      const Instruction& composite = definitions.at(args[0]);
      if (composite.opcode != kOpConstantComposite && composite.opcode != kOpSpecConstantComposite)
        throw Error("Embedded shader extracts a spec constant from something that is not a composite.");
      if (2 + args[1] >= composite.operand_count) throw Error("Embedded shader extracts past a composite's end.");
      return constant_value(composite.operands[2 + args[1]], depth + 1);
    }
    auto sign = [](uint32_t v) { return static_cast<int32_t>(v); };
    auto nonzero = [](uint32_t v) { return v == 0 ? 1u : v; };  // division by zero is undefined: avoid a crash
    switch (operation) {
      case kOpUConvert: case kOpSConvert: return arg(0);
      case kOpSNegate: return 0u - arg(0);
      case kOpNot: return ~arg(0);
      case kOpLogicalNot: return arg(0) == 0;
      case kOpIAdd: return arg(0) + arg(1);
      case kOpISub: return arg(0) - arg(1);
      case kOpIMul: return arg(0) * arg(1);
      case kOpUDiv: return arg(0) / nonzero(arg(1));
      case kOpSDiv: return static_cast<uint32_t>(sign(arg(0)) / sign(nonzero(arg(1))));
      case kOpUMod: return arg(0) % nonzero(arg(1));
      case kOpSRem: return static_cast<uint32_t>(sign(arg(0)) % sign(nonzero(arg(1))));
      case kOpSMod: {
        int32_t a = sign(arg(0)), b = sign(nonzero(arg(1))), r = a % b;
        return static_cast<uint32_t>(r != 0 && ((r < 0) != (b < 0)) ? r + b : r);
      }
      case kOpShiftRightLogical: return arg(0) >> (arg(1) & 31);
      case kOpShiftRightArithmetic: return static_cast<uint32_t>(sign(arg(0)) >> (arg(1) & 31));
      case kOpShiftLeftLogical: return arg(0) << (arg(1) & 31);
      case kOpBitwiseOr: return arg(0) | arg(1);
      case kOpBitwiseXor: return arg(0) ^ arg(1);
      case kOpBitwiseAnd: return arg(0) & arg(1);
      case kOpLogicalEqual: return (arg(0) != 0) == (arg(1) != 0);
      case kOpLogicalNotEqual: return (arg(0) != 0) != (arg(1) != 0);
      case kOpLogicalOr: return arg(0) != 0 || arg(1) != 0;
      case kOpLogicalAnd: return arg(0) != 0 && arg(1) != 0;
      case kOpSelect: return arg(0) != 0 ? arg(1) : arg(2);
      case kOpIEqual: return arg(0) == arg(1);
      case kOpINotEqual: return arg(0) != arg(1);
      case kOpUGreaterThan: return arg(0) > arg(1);
      case kOpSGreaterThan: return sign(arg(0)) > sign(arg(1));
      case kOpUGreaterThanEqual: return arg(0) >= arg(1);
      case kOpSGreaterThanEqual: return sign(arg(0)) >= sign(arg(1));
      case kOpULessThan: return arg(0) < arg(1);
      case kOpSLessThan: return sign(arg(0)) < sign(arg(1));
      case kOpULessThanEqual: return arg(0) <= arg(1);
      case kOpSLessThanEqual: return sign(arg(0)) <= sign(arg(1));
      default:
        throw Error("Embedded shader sizes an array with a spec-constant operation reflection does not evaluate "
                    "(SPIR-V opcode " + std::to_string(operation) + ").");
    }
  };

  // Natural size and alignment of a type in shared memory, std430-like (vec3
  // aligned as vec4, arrays strided by their element's aligned size, structs
  // padded to their largest member's alignment). Drivers choose their own
  // layout and may pad further, so this is what the shader asks for.
  struct SizeAlign { uint64_t size, align; };
  std::function<SizeAlign(uint32_t, int)> natural = [&](uint32_t type, int depth) -> SizeAlign {
    if (depth > 64) throw Error("Embedded shader has a shared-memory type nested too deeply.");
    const Instruction& t = definitions.at(type);
    auto round_up = [](uint64_t v, uint64_t a) { return (v + a - 1) / a * a; };
    switch (t.opcode) {
      case kOpTypeBool: return {4, 4};
      case kOpTypeInt: case kOpTypeFloat: return {t.operands[1] / 8u, t.operands[1] / 8u};
      case kOpTypeVector: {
        SizeAlign component = natural(t.operands[1], depth + 1);
        uint32_t n = t.operands[2];
        return {component.size * n, component.align * (n == 3 ? 4 : n)};
      }
      case kOpTypeMatrix: {  // columns, each a vector, strided by its alignment
        SizeAlign column = natural(t.operands[1], depth + 1);
        return {round_up(column.size, column.align) * t.operands[2], column.align};
      }
      case kOpTypeArray: {
        SizeAlign element = natural(t.operands[1], depth + 1);
        uint64_t length = constant_value(t.operands[2], 0);
        return {round_up(element.size, element.align) * length, element.align};
      }
      case kOpTypeStruct: {
        uint64_t size = 0, align = 1;
        for (uint32_t m = 1; m < t.operand_count; ++m) {
          SizeAlign member = natural(t.operands[m], depth + 1);
          size = round_up(size, member.align) + member.size;
          align = std::max(align, member.align);
        }
        return {round_up(size, align), align};
      }
      default: throw Error("Embedded shader declares shared memory of a type reflection does not size (opcode " +
                           std::to_string(t.opcode) + ").");
    }
  };

  uint64_t shared_bytes = 0;
  for (const Instruction& variable : variables) {
    uint32_t pointer_type = variable.operands[0], id = variable.operands[1], storage = variable.operands[2];
    uint32_t pointee = definitions.at(pointer_type).operands[2];
    if (storage == kStorageClassWorkgroup) {
      shared_bytes += natural(pointee, 0).size;
      continue;
    }
    if (storage == kStorageClassPushConstant) {
      shader.push_constant_bytes = type_size(pointee);
      continue;
    }
    if (storage != kStorageClassUniform && storage != kStorageClassStorageBuffer &&
        storage != kStorageClassUniformConstant)
      continue;
    if (!bindings.count(id)) continue;
    uint32_t set = sets.count(id) ? sets[id] : 0;
    if (set == kTraceSet && bindings[id] == 0) {
      shader.has_trace_binding = true;
      continue;
    }
    if (set != 0)
      throw Error("Tensorscope shaders use descriptor set 0 (and set 1, binding 0 for the workgroup trace of "
                  "traced builds); this one declares set " + std::to_string(set) + ", binding " +
                  std::to_string(bindings[id]) + ".");
    const Instruction& type = definitions.at(pointee);
    DescriptorKind kind = DescriptorKind::kStorageBuffer;
    if (type.opcode == kOpTypeImage && type.operands[2] == kDimBuffer) kind = DescriptorKind::kUniformTexelBuffer;
    // SPIR-V 1.3 puts storage buffers in the StorageBuffer class: a block in Uniform is a uniform buffer.
    else if (storage == kStorageClassUniform)
      throw Error("Tensorscope shaders bind storage buffers and uniform texel buffers; binding " +
                  std::to_string(bindings[id]) + " is a uniform buffer, which Sequence does not bind.");
    uint32_t binding = bindings[id];
    if (shader.bindings.size() <= binding) {
      shader.bindings.resize(binding + 1, DescriptorKind::kStorageBuffer);
      shader.uses.resize(binding + 1);
    }
    shader.bindings[binding] = kind;
    shader.uses[binding] = variable_uses[id];
  }
  shader.shared_memory_bytes = static_cast<uint32_t>(std::min<uint64_t>(shared_bytes, UINT32_MAX));
  return shader;
}

VkDescriptorType DescriptorTypeOf(DescriptorKind kind) {
  switch (kind) {
    case DescriptorKind::kStorageBuffer: return VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    case DescriptorKind::kUniformTexelBuffer: return VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
  }
  return VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
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
    : Pipeline(context, shader_name,
               std::span<const uint32_t>(FindEmbeddedShader(shader_name).words,
                                         FindEmbeddedShader(shader_name).word_count),
               spec) {}

Pipeline::Pipeline(Context& context, const std::string& shader_name, std::span<const uint32_t> words,
                   const SpecConstants& spec)
    : shader_name_(shader_name), spec_(spec) {
  VkDevice device = context.device();
  interface_ = ReflectShader(words.data(), words.size(), &spec);
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
    binding.descriptorType = DescriptorTypeOf(interface_.bindings[b]);
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

  std::vector<VkDescriptorSetLayout> set_layouts{set_layout};
  if (interface_.has_trace_binding) {
    // Set 1 of a traced build: the workgroup records (see shaders/trace_main.glsl).
    VkDescriptorSetLayoutBinding trace_binding{0, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT,
                                               nullptr};
    VkDescriptorSetLayoutCreateInfo trace_create{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
    trace_create.bindingCount = 1;
    trace_create.pBindings = &trace_binding;
    VkDescriptorSetLayout trace_layout = VK_NULL_HANDLE;
    Check(vkCreateDescriptorSetLayout(device, &trace_create, nullptr, &trace_layout),
          "vkCreateDescriptorSetLayout (trace set) for '" + shader_name + "'");
    trace_set_layout_ = UniqueDescriptorSetLayout(device, trace_layout);
    set_layouts.push_back(trace_layout);
  }
  VkPushConstantRange push{VK_SHADER_STAGE_COMPUTE_BIT, 0, interface_.push_constant_bytes};
  VkPipelineLayoutCreateInfo layout_create{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  layout_create.setLayoutCount = static_cast<uint32_t>(set_layouts.size());
  layout_create.pSetLayouts = set_layouts.data();
  layout_create.pushConstantRangeCount = interface_.push_constant_bytes > 0 ? 1 : 0;
  layout_create.pPushConstantRanges = &push;
  VkPipelineLayout layout = VK_NULL_HANDLE;
  Check(vkCreatePipelineLayout(device, &layout_create, nullptr, &layout),
        "vkCreatePipelineLayout for '" + shader_name + "'");
  layout_ = UniquePipelineLayout(device, layout);

  VkShaderModuleCreateInfo module_create{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
  module_create.codeSize = words.size() * sizeof(uint32_t);
  module_create.pCode = words.data();
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
  if (context.has_executable_properties()) create.flags |= VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR;
  VkPipeline pipeline = VK_NULL_HANDLE;
  Check(vkCreateComputePipelines(device, VK_NULL_HANDLE, 1, &create, nullptr, &pipeline),
        "vkCreateComputePipelines for '" + shader_name + "'");
  pipeline_ = UniquePipeline(device, pipeline);
  context.SetObjectName(VK_OBJECT_TYPE_PIPELINE, reinterpret_cast<uint64_t>(pipeline), shader_name);
  if (context.has_executable_properties()) executable_statistics_ = ReadExecutableStatistics(device, pipeline);
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
