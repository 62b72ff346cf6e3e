// Puzzle text for people: budgets, the interface above the editor, verdicts.
#include <cstdio>
#include <sstream>

#include "compute/lab/puzzle_internal.h"

namespace ts::lab {
namespace {

std::string Number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", value);
  return text;
}


// "1 global read", "3 global reads".
std::string Count(uint32_t n, const std::string& what) { return std::to_string(n) + " " + what + (n == 1 ? "" : "s"); }

std::string Ratio(double value, double reference) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2fx", reference > 0 ? value / reference : 0.0);
  return text;
}

std::string Shape(const PuzzleArray& array) {
  return array.two_d ? "[" + std::to_string(array.rows) + "][" + std::to_string(array.columns) + "]"
                     : "[" + std::to_string(array.size()) + "]";
}

}  // namespace

std::string PuzzleTimeText(double ms) {
  char text[32];
  if (ms < 1.0)
    std::snprintf(text, sizeof text, "%.1f us", ms * 1e3);
  else
    std::snprintf(text, sizeof text, "%.3f ms", ms);
  return text;
}

std::string PuzzleTimingText(const PuzzleResult& r) {
  if (!r.ms || !r.reference_ms) return "";
  auto spread = [](const std::pair<double, double>& range) {
    return "middle half " + PuzzleTimeText(range.first) + " to " + PuzzleTimeText(range.second);
  };
  std::string text = "time: " + PuzzleTimeText(*r.ms) + " (" + spread(r.ms_spread) + "); the reference solution: " +
                     PuzzleTimeText(*r.reference_ms) + " (" + spread(r.reference_ms_spread) + "): ";
  const bool overlap = r.ms_spread.first <= r.reference_ms_spread.second &&
                       r.reference_ms_spread.first <= r.ms_spread.second;
  return text + (overlap ? "the same within the run-to-run spread"
                         : "yours takes " + Ratio(*r.ms, *r.reference_ms) + " its time");
}

std::string PuzzleBudget::Describe() const {
  std::vector<std::string> parts;
  auto add = [&](const std::optional<uint32_t>& limit, const char* one, const char* many) {
    if (limit) parts.push_back(std::to_string(*limit) + " " + (*limit == 1 ? one : many));
  };
  add(global_reads, "global read", "global reads");
  add(global_writes, "global write", "global writes");
  add(shared_reads, "shared read", "shared reads");
  add(shared_writes, "shared write", "shared writes");
  add(barriers, "barrier", "barriers");
  std::string text;
  for (size_t i = 0; i < parts.size(); ++i) text += (i ? ", " : "") + parts[i];
  text = text.empty() ? "no limits" : "at most " + text + " per invocation";
  if (coalesced) text += "; coalesced global reads and writes";
  return text;
}

std::string DiagnosisKindName(DiagnosisKind kind) {
  switch (kind) {
    case DiagnosisKind::kCompileError: return "compile error";
    case DiagnosisKind::kNeverEnds: return "never ends";
    case DiagnosisKind::kOutOfBounds: return "out of bounds";
    case DiagnosisKind::kDivergentBarrier: return "divergent barrier";
    case DiagnosisKind::kMissingBarrier: return "missing barrier";
    case DiagnosisKind::kRace: return "race";
    case DiagnosisKind::kWrongValue: return "wrong value";
    case DiagnosisKind::kOverBudget: return "over budget";
    case DiagnosisKind::kRecordsOverflowed: return "records overflowed";
    case DiagnosisKind::kDeviceLost: return "device lost";
  }
  return "unknown";
}

std::string PuzzleInterfaceText(const Puzzle& puzzle) {
  std::ostringstream s;
  s << "// workgroup " << puzzle.workgroup[0] << " x " << puzzle.workgroup[1] << " invocations (gl_WorkGroupSize)\n"
    << "// grid " << puzzle.grid[0] << " x " << puzzle.grid[1] << " workgroups (gl_NumWorkGroups)\n";
  for (const auto& [name, value] : puzzle.constants) s << "const uint " << name << " = " << value << ";\n";
  for (const PuzzleArray& array : puzzle.globals) {
    const std::string index = array.two_d ? "uint row, uint column" : "uint i";
    s << "// " << (array.output ? "output " : "input ") << array.name << Shape(array) << " (global)\n";
    s << "float read_" << array.name << "(" << index << ");\n";
    if (array.output) s << "void write_" << array.name << "(" << index << ", float value);\n";
  }
  for (const PuzzleArray& array : puzzle.shared) {
    const std::string index = array.two_d ? "uint row, uint column" : "uint i";
    s << "// shared " << array.name << Shape(array) << " (one per workgroup)\n";
    s << "float read_" << array.name << "(" << index << ");\n";
    s << "void write_" << array.name << "(" << index << ", float value);\n";
  }
  if (!puzzle.shared.empty()) s << "void barrier();  // the whole workgroup waits here; shared writes become visible\n";
  s << "// budget: " << puzzle.budget.Describe() << "\n";
  s << "void main() {  // your code is its body\n";
  return s.str();
}

std::string FormatPuzzleResult(const Puzzle& puzzle, const PuzzleResult& result) {
  std::ostringstream s;
  s << puzzle.title << " on " << result.device << ": " << (result.passed ? "PASSED" : "NOT PASSED") << "\n";
  for (const Diagnosis& d : result.diagnoses) s << "  - " << d.message << "\n";
  if (!result.wrong.empty()) {
    s << "  wrong elements (expected vs got):\n";
    std::vector<const PuzzleArray*> outputs;
    for (const PuzzleArray& array : puzzle.globals)
      if (array.output) outputs.push_back(&array);
    size_t shown = 0;
    for (const WrongElement& w : result.wrong) {
      if (shown++ == 16) {
        s << "    ... " << result.wrong_count - 16 << " more\n";
        break;
      }
      s << "    " << detail::ElementName(*outputs.at(w.array), w.index) << ": expected " << Number(w.expected)
        << ", got " << Number(w.got) << "\n";
    }
  }
  if (result.compiled && !result.counts.empty()) {
    const InvocationCounts& m = result.most;
    s << "  most per invocation: " << Count(m.global_reads, "global read") << ", "
      << Count(m.global_writes, "global write") << ", " << Count(m.shared_reads, "shared read") << ", "
      << Count(m.shared_writes, "shared write") << ", " << Count(m.barriers, "barrier")
      << " (budget: " << puzzle.budget.Describe() << ")\n";
  }
  if (result.ms) s << "  " << PuzzleTimingText(result) << "\n";
  return s.str();
}

}  // namespace ts::lab
