#include "ui/lab/lab_geometry.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <tuple>
#include <unordered_set>

namespace ts::ui::lab_view {
namespace {

bool IsIdentifierStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsIdentifierChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

GlslToken WordKind(std::string_view word) {
  static const std::unordered_set<std::string_view> kKeywords = {
      "if", "else", "for", "while", "do", "return", "break", "continue", "discard", "switch", "case", "default",
      "layout", "in", "out", "inout", "uniform", "buffer", "shared", "const", "readonly", "writeonly", "restrict",
      "coherent", "volatile", "struct", "true", "false", "precision", "highp", "mediump", "lowp", "std430", "std140",
      "binding", "set", "push_constant", "constant_id", "local_size_x", "local_size_y", "local_size_z",
      "local_size_x_id", "local_size_y_id", "local_size_z_id", "scalar", "offset"};
  static const std::unordered_set<std::string_view> kTypes = {
      "void", "bool", "int", "uint", "float", "double", "vec2", "vec3", "vec4", "ivec2", "ivec3", "ivec4", "uvec2",
      "uvec3", "uvec4", "bvec2", "bvec3", "bvec4", "dvec2", "dvec3", "dvec4", "mat2", "mat3", "mat4", "float16_t",
      "f16vec2", "f16vec4", "int64_t", "uint64_t", "u64vec2", "samplerBuffer", "textureBuffer", "imageBuffer"};
  static const std::unordered_set<std::string_view> kBuiltinFunctions = {
      "barrier", "memoryBarrier", "memoryBarrierShared", "memoryBarrierBuffer", "groupMemoryBarrier",
      "subgroupAdd", "subgroupMax", "subgroupMin", "subgroupBarrier", "subgroupElect", "subgroupBroadcast",
      "subgroupBroadcastFirst", "subgroupShuffle", "subgroupShuffleXor", "subgroupInclusiveAdd",
      "subgroupExclusiveAdd", "subgroupBallot", "subgroupAll", "subgroupAny", "atomicAdd", "atomicMax", "atomicMin",
      "atomicExchange", "atomicCompSwap", "atomicOr", "atomicAnd", "clockARB", "clockRealtimeEXT", "min", "max",
      "clamp", "fma", "dot", "mix", "abs", "sqrt", "exp", "log", "pow", "floor", "ceil", "texelFetch",
      "imageLoad", "imageStore", "uintBitsToFloat", "floatBitsToUint"};
  if (word.starts_with("gl_")) return GlslToken::kBuiltin;
  if (kBuiltinFunctions.count(word)) return GlslToken::kBuiltin;
  if (kTypes.count(word)) return GlslToken::kType;
  if (kKeywords.count(word)) return GlslToken::kKeyword;
  return GlslToken::kPlain;
}

void Push(std::vector<GlslSpan>& spans, size_t begin, size_t end, GlslToken kind) {
  if (end <= begin) return;
  if (!spans.empty() && spans.back().kind == kind && spans.back().end == begin) {
    spans.back().end = end;
    return;
  }
  spans.push_back({begin, end, kind});
}

uint32_t Sat32(uint64_t value) { return static_cast<uint32_t>(std::min<uint64_t>(value, UINT32_MAX)); }

}  // namespace

std::vector<GlslSpan> HighlightGlslLine(std::string_view line, bool& in_block_comment) {
  std::vector<GlslSpan> spans;
  size_t i = 0;
  const size_t n = line.size();
  // A directive (#version, #include, #define ...) is coloured whole, up to a comment.
  const size_t first = line.find_first_not_of(" \t");
  const bool directive = !in_block_comment && first != std::string_view::npos && line[first] == '#';
  while (i < n) {
    if (in_block_comment) {
      const size_t close = line.find("*/", i);
      const size_t end = close == std::string_view::npos ? n : close + 2;
      Push(spans, i, end, GlslToken::kComment);
      if (close != std::string_view::npos) in_block_comment = false;
      i = end;
      continue;
    }
    if (line.compare(i, 2, "//") == 0) {
      Push(spans, i, n, GlslToken::kComment);
      break;
    }
    if (line.compare(i, 2, "/*") == 0) {
      in_block_comment = true;
      Push(spans, i, i + 2, GlslToken::kComment);
      i += 2;
      continue;
    }
    if (directive) {
      size_t end = i;
      while (end < n && line.compare(end, 2, "//") != 0 && line.compare(end, 2, "/*") != 0) ++end;
      Push(spans, i, end, GlslToken::kPreprocessor);
      i = end;
      continue;
    }
    const char c = line[i];
    if (IsIdentifierStart(c)) {
      size_t end = i + 1;
      while (end < n && IsIdentifierChar(line[end])) ++end;
      Push(spans, i, end, WordKind(line.substr(i, end - i)));
      i = end;
      continue;
    }
    const bool digit = std::isdigit(static_cast<unsigned char>(c));
    if (digit || (c == '.' && i + 1 < n && std::isdigit(static_cast<unsigned char>(line[i + 1])))) {
      size_t end = i + 1;
      // Digits, a point, hex digits, an exponent with its sign, and suffixes (u, f, lf).
      while (end < n) {
        const char d = line[end];
        const bool sign = (d == '+' || d == '-') && (line[end - 1] == 'e' || line[end - 1] == 'E') &&
                          !(line[i] == '0' && i + 1 < n && (line[i + 1] == 'x' || line[i + 1] == 'X'));
        if (!(IsIdentifierChar(d) || d == '.' || sign)) break;
        ++end;
      }
      Push(spans, i, end, GlslToken::kNumber);
      i = end;
      continue;
    }
    Push(spans, i, i + 1, GlslToken::kPlain);
    ++i;
  }
  return spans;
}

bool IsShared(lab::Access access) { return access == lab::Access::kSharedRead || access == lab::Access::kSharedWrite; }

uint32_t LaunchedX(const lab::GridPicture& picture) { return Sat32(uint64_t{picture.grid_x} * picture.workgroup_x); }
uint32_t LaunchedY(const lab::GridPicture& picture) {
  return Sat32(uint64_t{std::max(picture.grid_y, 1u)} * std::max(picture.workgroup_y, 1u));
}

GridCell CellAt(const lab::GridPicture& picture, uint32_t x, uint32_t y) {
  GridCell cell;
  cell.x = x, cell.y = y;
  const uint32_t wx = std::max(picture.workgroup_x, 1u), wy = std::max(picture.workgroup_y, 1u);
  const uint32_t gx = std::max(picture.grid_x, 1u);
  cell.inside = x < picture.width && y < std::max(picture.height, 1u);
  const size_t element = size_t{y} * picture.width + x;
  if (cell.inside && element < picture.workgroup_of.size() && element < picture.invocation_of.size()) {
    cell.element = static_cast<uint32_t>(element);
    cell.workgroup = picture.workgroup_of[element];
    cell.invocation = picture.invocation_of[element];
    cell.subgroup = element < picture.subgroup_of.size() ? picture.subgroup_of[element] : 0;
  } else {
    // An idle invocation: where the dispatch put it.
    cell.inside = false;
    cell.workgroup = x / wx + (y / wy) * gx;
    cell.invocation = x % wx + (y % wy) * wx;
  }
  cell.workgroup_id[0] = cell.workgroup % gx, cell.workgroup_id[1] = cell.workgroup / gx;
  cell.local_id[0] = cell.invocation % wx, cell.local_id[1] = cell.invocation / wx;
  cell.global_id[0] = cell.workgroup_id[0] * wx + cell.local_id[0];
  cell.global_id[1] = cell.workgroup_id[1] * wy + cell.local_id[1];
  return cell;
}

std::string GlobalIdFormula(const lab::GridPicture& picture, const GridCell& cell) {
  const bool two_d = picture.height > 1 || picture.workgroup_y > 1 || picture.grid_y > 1;
  const uint32_t wx = std::max(picture.workgroup_x, 1u), wy = std::max(picture.workgroup_y, 1u);
  std::string text;
  if (two_d) {
    const auto vec = [](uint32_t a, uint32_t b) {
      std::string text(1, '(');  // appended, not "(" + ...: GCC 12 warns falsely on that at -O3 (-Wrestrict)
      text.append(std::to_string(a)).append(", ").append(std::to_string(b)).push_back(')');
      return text;
    };
    text = "gl_GlobalInvocationID = gl_WorkGroupID * gl_WorkGroupSize + gl_LocalInvocationID = " +
           vec(cell.workgroup_id[0], cell.workgroup_id[1]) + " * " + vec(wx, wy) + " + " +
           vec(cell.local_id[0], cell.local_id[1]) + " = " + vec(cell.global_id[0], cell.global_id[1]);
  } else {
    text = "gl_GlobalInvocationID.x = gl_WorkGroupID.x * gl_WorkGroupSize.x + gl_LocalInvocationID.x = " +
           std::to_string(cell.workgroup_id[0]) + " * " + std::to_string(wx) + " + " +
           std::to_string(cell.local_id[0]) + " = " + std::to_string(cell.global_id[0]);
  }
  if (!cell.inside) {
    text += two_d ? ": outside the " + std::to_string(picture.width) + " x " + std::to_string(picture.height) +
                        " array, so this invocation is idle (the bounds guard returns)"
                  : ": past the array's " + std::to_string(picture.width) +
                        " elements, so this invocation is idle (the bounds guard returns)";
  } else if (cell.global_id[0] != cell.x || (two_d && cell.global_id[1] != cell.y)) {
    text += "  (but the kernel wrote this for element " + std::to_string(cell.element) + ": its IDs do not add up)";
  }
  return text;
}

std::vector<uint32_t> RecordedWorkgroups(const lab::AccessTrace& trace) {
  std::set<uint32_t> found;
  for (const lab::AccessRecord& r : trace.records) found.insert(r.workgroup);
  return {found.begin(), found.end()};
}

std::vector<uint32_t> RecordedSteps(const lab::AccessTrace& trace, uint32_t workgroup) {
  std::set<uint32_t> found;
  for (const lab::AccessRecord& r : trace.records)
    if (r.workgroup == workgroup) found.insert(r.step);
  return {found.begin(), found.end()};
}

std::vector<uint32_t> RecordedSubgroups(const lab::AccessTrace& trace, uint32_t workgroup) {
  std::set<uint32_t> found;
  for (const lab::AccessRecord& r : trace.records)
    if (r.workgroup == workgroup) found.insert(r.subgroup);
  return {found.begin(), found.end()};
}

std::vector<SubgroupTouch> SubgroupTouches(const lab::AccessTrace& trace, uint32_t workgroup, uint32_t subgroup,
                                           uint32_t step) {
  // (buffer, access, n) -> (lane, index) in lane order; per (buffer, access) each lane's count so far.
  std::map<std::tuple<uint32_t, uint32_t, uint32_t>, std::vector<std::pair<uint32_t, uint32_t>>> by_instruction;
  std::map<std::pair<uint32_t, uint32_t>, std::map<uint32_t, uint32_t>> count;
  for (const lab::AccessRecord& r : trace.records) {
    if (r.workgroup != workgroup || r.subgroup != subgroup || r.step != step) continue;
    const auto kind = std::pair{r.buffer, static_cast<uint32_t>(r.access)};
    const uint32_t n = count[kind][r.lane]++;
    by_instruction[{r.buffer, kind.second, n}].push_back({r.lane, r.index});
  }
  std::vector<SubgroupTouch> touches;
  for (auto& [key, pairs] : by_instruction) {
    SubgroupTouch touch;
    touch.buffer = std::get<0>(key);
    touch.access = static_cast<lab::Access>(std::get<1>(key));
    touch.instruction = std::get<2>(key);
    std::sort(pairs.begin(), pairs.end());
    touch.lane_index = pairs;
    std::set<uint32_t> indices, segments;
    std::map<uint32_t, std::set<uint32_t>> banks;  // bank -> distinct word addresses
    for (const auto& [lane, index] : pairs) {
      indices.insert(index);
      segments.insert(index / 32);
      banks[index % 32].insert(index);
    }
    touch.distinct = static_cast<uint32_t>(indices.size());
    touch.span = *indices.rbegin() - *indices.begin() + 1;
    touch.segments = static_cast<uint32_t>(segments.size());
    touch.contiguous = touch.span == touch.distinct;
    for (const auto& [bank, addresses] : banks) touch.bank_ways = std::max(touch.bank_ways, uint32_t(addresses.size()));
    touches.push_back(std::move(touch));
  }
  return touches;
}

std::vector<uint32_t> WorkgroupIndices(const lab::AccessTrace& trace, uint32_t workgroup, uint32_t buffer,
                                       bool writes, uint32_t first_step, uint32_t last_step) {
  std::set<uint32_t> found;
  for (const lab::AccessRecord& r : trace.records) {
    const bool is_write = r.access == lab::Access::kGlobalWrite || r.access == lab::Access::kSharedWrite;
    const bool global = r.access == lab::Access::kGlobalRead || r.access == lab::Access::kGlobalWrite;
    if (r.workgroup == workgroup && r.buffer == buffer && global && is_write == writes && r.step >= first_step && r.step <= last_step)
      found.insert(r.index);
  }
  return {found.begin(), found.end()};
}

std::vector<TreeLevel> ReductionLevels(const lab::AccessTrace& trace, uint32_t workgroup) {
  // The tree lives in shared memory when the kernel uses it, else in the global buffer.
  bool shared = false;
  for (const lab::AccessRecord& r : trace.records)
    if (r.workgroup == workgroup && IsShared(r.access)) shared = true;
  std::map<uint32_t, std::map<uint32_t, std::pair<std::set<uint32_t>, std::set<uint32_t>>>> by_step;
  std::map<uint32_t, std::set<uint32_t>> subgroups;  // by step
  for (const lab::AccessRecord& r : trace.records) {
    if (r.workgroup != workgroup) continue;
    if (IsShared(r.access) != shared) continue;
    subgroups[r.step].insert(r.subgroup);
    auto& [reads, writes] = by_step[r.step][r.invocation];
    (r.access == lab::Access::kSharedWrite || r.access == lab::Access::kGlobalWrite ? writes : reads).insert(r.index);
  }
  std::vector<TreeLevel> levels;
  for (const auto& [step, invocations] : by_step) {
    TreeLevel level;
    level.step = step;
    level.subgroups = static_cast<uint32_t>(subgroups[step].size());
    for (const auto& [invocation, moves] : invocations)
      level.moves.push_back({invocation, {moves.first.begin(), moves.first.end()}, {moves.second.begin(), moves.second.end()}});
    levels.push_back(std::move(level));
  }
  return levels;
}

std::string BufferName(const lab::AccessTrace& trace, uint32_t buffer, lab::Access access) {
  const std::vector<std::string>& names = IsShared(access) ? trace.shared_names : trace.buffer_names;
  if (buffer < names.size()) return names[buffer];
  return (IsShared(access) ? "shared array " : "buffer ") + std::to_string(buffer);
}

int BufferNamed(const lab::AccessTrace& trace, std::string_view name) {
  for (size_t i = 0; i < trace.buffer_names.size(); ++i)
    if (trace.buffer_names[i] == name) return static_cast<int>(i);
  return -1;
}

}  // namespace ts::ui::lab_view
