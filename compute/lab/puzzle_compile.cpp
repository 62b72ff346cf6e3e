// Puzzle kernels: the source around the learner's body, the loop guard, and
// compilation with glslang in a child process (errors mapped to the learner's lines).
#include <algorithm>
#include <cctype>
#include <optional>
#include <sstream>

#include "compute/common/error.h"
#include "compute/lab/puzzle_internal.h"

namespace ts::lab::detail {
namespace {

// The file name compile messages give the lines after the learner's body.
constexpr const char* kAfterBody = "after-your-kernel";

bool IsIdentifierStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsIdentifierChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Walks GLSL text skipping comments and preprocessor lines.
class Scanner {
 public:
  // `directives`: preprocessor lines are scanned as code, not skipped.
  explicit Scanner(const std::string& text, bool directives = false) : text_(text), directives_(directives) {}
  // Moves past whitespace, comments and preprocessor lines; false at the end.
  bool SkipSpace() {
    while (at_ < text_.size()) {
      char c = text_[at_];
      if (c == '\n') {
        line_start_ = true;
        ++at_;
      } else if (std::isspace(static_cast<unsigned char>(c))) {
        ++at_;
      } else if (text_.compare(at_, 2, "//") == 0 || (c == '#' && line_start_ && !directives_)) {
        while (at_ < text_.size() && text_[at_] != '\n') ++at_;
      } else if (text_.compare(at_, 2, "/*") == 0) {
        size_t end = text_.find("*/", at_ + 2);
        at_ = end == std::string::npos ? text_.size() : end + 2;
      } else {
        line_start_ = false;
        return true;
      }
    }
    return false;
  }
  size_t at() const { return at_; }
  char peek() const { return at_ < text_.size() ? text_[at_] : '\0'; }
  // The identifier at the cursor (moved past), or the one character.
  std::string Next() {
    size_t start = at_;
    if (IsIdentifierStart(peek()))
      while (at_ < text_.size() && IsIdentifierChar(text_[at_])) ++at_;
    else
      ++at_;
    return text_.substr(start, at_ - start);
  }
  // From an opening '(', moves past its matching ')'; false when none.
  bool SkipParentheses() {
    int depth = 0;
    while (SkipSpace()) {
      char c = text_[at_++];
      if (c == '(') ++depth;
      if (c == ')' && --depth == 0) return true;
    }
    return false;
  }

 private:
  const std::string& text_;
  size_t at_ = 0;
  bool line_start_ = true;
  bool directives_ = false;
};

std::string GlslType(const PuzzleArray&) { return "float"; }

// Accessors of one array: read_NAME (and write_NAME for outputs and shared
// arrays), 1D or 2D, each checking its index and recording the access.
std::string Accessors(const PuzzleArray& array, bool is_shared, uint32_t number) {
  const std::string storage = is_shared ? "ts_shared_" + array.name : "ts_" + array.name;
  const std::string read_kind = is_shared ? "kTsSharedRead" : "kTsGlobalRead";
  const std::string write_kind = is_shared ? "kTsSharedWrite" : "kTsGlobalWrite";
  const std::string oob_number = std::to_string(is_shared ? kSharedArrayBase + number : number) + "u";
  const std::string record_number = std::to_string(number) + "u";
  const std::string type = GlslType(array);
  std::ostringstream out;
  std::string params, inside, row, column, index;
  if (array.two_d) {
    params = "uint row, uint column";
    inside = "row < " + std::to_string(array.rows) + "u && column < " + std::to_string(array.columns) + "u";
    row = "row", column = "column";
    index = "row * " + std::to_string(array.columns) + "u + column";
  } else {
    params = "uint i";
    inside = "i < " + std::to_string(array.size()) + "u";
    row = "i", column = "kTsNoColumn";
    index = "i";
  }
  out << type << " read_" << array.name << "(" << params << ") {\n"
      << "  if (!ts_in_bounds(" << inside << ", " << oob_number << ", " << row << ", " << column
      << ", false)) return 0.0;\n"
      << "  ts_record(" << read_kind << ", " << record_number << ", " << index << ");\n"
      << "  return " << storage << "[" << index << "];\n}\n";
  if (is_shared || array.output)
    out << "void write_" << array.name << "(" << params << ", " << type << " value) {\n"
        << "  if (!ts_in_bounds(" << inside << ", " << oob_number << ", " << row << ", " << column
        << ", true)) return;\n"
        << "  ts_record(" << write_kind << ", " << record_number << ", " << index << ");\n"
        << "  " << storage << "[" << index << "] = value;\n}\n";
  return out.str();
}

// What a kernel body may not do, since the prelude's checks rely on it: use
// the prelude's own names (ts_...: the raw buffers), paste tokens together
// (which could spell them), or #undef and #line (barrier() and line numbers).
std::optional<CompileError> ForbiddenUseIn(const std::string& body) {
  Scanner scanner(body, true);
  std::string previous;
  uint32_t line = 1;
  size_t counted_to = 0;  // the line is counted on from the last token, not from the start each time
  while (scanner.SkipSpace()) {
    const size_t at = scanner.at();
    line += static_cast<uint32_t>(std::count(body.begin() + counted_to, body.begin() + at, '\n'));
    counted_to = at;
    const std::string token = scanner.Next();
    if (token.rfind("ts_", 0) == 0)
      return CompileError{line, "names beginning with ts_ belong to the puzzle's prelude; use the accessors "
                                "(read_..., write_...) and barrier() instead"};
    if (token == "#" && scanner.peek() == '#')
      return CompileError{line, "token pasting (##) is not allowed in a puzzle kernel"};
    if (previous == "#" && (token == "undef" || token == "line"))
      return CompileError{line, "#" + token + " is not allowed in a puzzle kernel (the prelude's barrier() and "
                                "line numbers rely on it)"};
    previous = token;
  }
  return std::nullopt;
}

struct LocatedMessage {
  std::string file;
  uint32_t line = 0;
  std::string message;
};

// "ERROR: FILE:LINE: MESSAGE" (FILE has no ':'), or nothing.
std::optional<LocatedMessage> ParseLocatedMessage(const std::string& text) {
  const std::string prefix = "ERROR: ";
  if (text.rfind(prefix, 0) != 0) return std::nullopt;
  const size_t file_end = text.find(':', prefix.size());
  if (file_end == std::string::npos) return std::nullopt;
  size_t at = file_end + 1;
  uint64_t line = 0;
  const size_t digits_start = at;
  while (at < text.size() && std::isdigit(static_cast<unsigned char>(text[at])) && at - digits_start < 9)
    line = line * 10 + static_cast<uint64_t>(text[at++] - '0');
  if (at == digits_start || text.compare(at, 2, ": ") != 0) return std::nullopt;
  std::string message = text.substr(at + 2);
  while (!message.empty() && std::isspace(static_cast<unsigned char>(message.back()))) message.pop_back();
  return LocatedMessage{text.substr(prefix.size(), file_end - prefix.size()), static_cast<uint32_t>(line), message};
}

}  // namespace

uint32_t WorkgroupInvocations(const Puzzle& puzzle) { return puzzle.workgroup[0] * puzzle.workgroup[1]; }
uint32_t TotalInvocations(const Puzzle& puzzle) {
  return WorkgroupInvocations(puzzle) * puzzle.grid[0] * puzzle.grid[1];
}

std::string ElementName(const PuzzleArray& array, uint64_t index) {
  if (!array.two_d) return array.name + "[" + std::to_string(index) + "]";
  return array.name + "[" + std::to_string(index / array.columns) + "][" + std::to_string(index % array.columns) + "]";
}

std::string GuardLoops(const std::string& body) {
  const std::string guard = " if (ts_loop_guard()) break; else ";
  std::vector<std::pair<size_t, std::string>> inserts;  // position, text
  Scanner scanner(body);
  int open_do = 0;  // `do` bodies whose `while (...);` is still to come
  while (scanner.SkipSpace()) {
    std::string word = scanner.Next();
    if (word == "do") {
      inserts.push_back({scanner.at(), guard});
      ++open_do;
    } else if (word == "for" || word == "while") {
      if (!scanner.SkipSpace() || scanner.peek() != '(') continue;
      if (!scanner.SkipParentheses()) break;  // unbalanced: the compiler will say where
      size_t after = scanner.at();
      if (word == "while" && scanner.SkipSpace() && scanner.peek() == ';' && open_do > 0) {
        --open_do;  // the end of a do-while
        continue;
      }
      inserts.push_back({after, guard});
    }
  }
  std::string guarded = body;
  for (auto it = inserts.rbegin(); it != inserts.rend(); ++it) guarded.insert(it->first, it->second);
  return guarded;
}

std::string PuzzleKernelSource(const Puzzle& puzzle, const std::string& body, const std::string& file_name) {
  std::ostringstream s;
  s << "#version 450\n"
       "#extension GL_GOOGLE_cpp_style_line_directive : require\n"
       "#extension GL_KHR_shader_subgroup_basic : require\n"
       "#extension GL_KHR_shader_subgroup_arithmetic : require\n"
       "#extension GL_KHR_shader_subgroup_ballot : require\n"
       "#extension GL_KHR_shader_subgroup_shuffle : require\n";
  s << "layout(local_size_x = " << puzzle.workgroup[0] << ", local_size_y = " << puzzle.workgroup[1]
    << ", local_size_z = 1) in;\n";
  s << "const uint kWorkgroupInvocations = " << WorkgroupInvocations(puzzle) << "u;\n"
    << "const uint kInvocations = " << TotalInvocations(puzzle) << "u;\n"
    << "const uint kLoopLimit = " << kPuzzleLoopLimit << "u;\n";
  s << "#line 1 \"puzzle/prelude.glsl\"\n" << kPuzzlePrelude << "\n";
  s << "#line 1 \"puzzle-interface\"\n";
  for (const auto& [name, value] : puzzle.constants) s << "const uint " << name << " = " << value << "u;\n";
  for (uint32_t g = 0; g < puzzle.globals.size(); ++g) {
    const PuzzleArray& array = puzzle.globals[g];
    s << "layout(std430, binding = " << g + 1 << ") " << (array.output ? "" : "readonly ") << "buffer TsArray_"
      << array.name << " { float ts_" << array.name << "[]; };\n";
    s << Accessors(array, false, g);
  }
  for (uint32_t a = 0; a < puzzle.shared.size(); ++a) {
    const PuzzleArray& array = puzzle.shared[a];
    s << "shared float ts_shared_" << array.name << "[" << array.size() << "];\n";
    s << Accessors(array, true, a);
  }
  s << "void main() {\n#line 1 \"" << file_name << "\"\n" << GuardLoops(body) << "\n#line 1 \"" << kAfterBody
    << "\"\n}\n";
  return s.str();
}

std::optional<CompileError> FindForbiddenUse(const std::string& body) { return ForbiddenUseIn(body); }

std::vector<CompileError> CompileErrorsFromLog(const std::string& log, const std::string& file_name) {
  std::vector<CompileError> errors;
  // "ERROR: FILE:LINE: MESSAGE" per error; the summary ("ERROR: 2 compilation errors.") and
  // glslang's "compilation terminated" follow-ups are dropped. Read by hand, not with
  // std::regex: its matcher recurses per character and a long line would exhaust the stack.
  std::istringstream messages(log);
  std::string line;
  while (std::getline(messages, line)) {
    std::optional<LocatedMessage> m = ParseLocatedMessage(line);
    if (!m || m->message.find("compilation terminated") != std::string::npos) continue;
    if (m->file == file_name) {
      errors.push_back({m->line, m->message});
    } else if (m->file == kAfterBody) {
      errors.push_back({0, "at the end of your kernel: " + m->message + " (is a brace or parenthesis left open?)"});
    } else {
      errors.push_back({0, "in the puzzle's " + m->file + " (line " + std::to_string(m->line) +
                               "), after something in your kernel: " + m->message});
    }
  }
  if (errors.empty()) errors.push_back({0, Excerpt(log, 2000)});
  return errors;
}

CompiledKernel CompilePuzzleKernel(const Puzzle& puzzle, const std::string& body, const std::string& file_name,
                                   const GlslCompileLimits& limits) {
  CompiledKernel kernel;
  if (std::optional<CompileError> error = FindForbiddenUse(body)) {
    kernel.errors.push_back(*error);
    return kernel;
  }
  // Compile messages name the file: keep the learner's name free of the
  // characters that would confuse "ERROR: FILE:LINE: ..." parsing.
  std::string name = file_name;
  for (char& c : name)
    if (c == ':' || c == '"' || c == '\n' || c == '\\') c = '_';
  const GlslCompileOutput output = CompileGlslIsolated(PuzzleKernelSource(puzzle, body, name), limits);
  if (output.compiled) {
    kernel.spirv = output.spirv;
    return kernel;
  }
  if (!output.stopped.empty()) {
    kernel.errors.push_back({0, output.stopped});
    return kernel;
  }
  kernel.errors = CompileErrorsFromLog(output.log, name);
  return kernel;
}

}  // namespace ts::lab::detail
