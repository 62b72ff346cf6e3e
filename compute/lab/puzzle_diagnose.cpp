// Puzzle diagnosis from the instrumented run: out of bounds, loops stopped by
// the guard, divergent barriers, missing barriers and races (from the access
// records), budgets and coalescing, and the outputs against the spec.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "compute/lab/puzzle_internal.h"

namespace ts::lab::detail {
namespace {

// "invocation (5, 0) (workgroup (1, 0), local (1, 0))": gl_GlobalInvocationID,
// gl_WorkGroupID and gl_LocalInvocationID of a linear workgroup and local index.
std::string InvocationName(const Puzzle& puzzle, uint32_t workgroup, uint32_t invocation) {
  uint32_t wx = workgroup % puzzle.grid[0], wy = workgroup / puzzle.grid[0];
  uint32_t lx = invocation % puzzle.workgroup[0], ly = invocation / puzzle.workgroup[0];
  auto pair = [](uint32_t x, uint32_t y) { return "(" + std::to_string(x) + ", " + std::to_string(y) + ")"; };
  return "invocation " + pair(wx * puzzle.workgroup[0] + lx, wy * puzzle.workgroup[1] + ly) + " (workgroup " +
         pair(wx, wy) + ", local " + pair(lx, ly) + ")";
}

std::string Plural(uint64_t n, const std::string& one, const std::string& many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// The index as the learner wrote it: a negative int converted to uint shows as negative.
std::string IndexText(uint32_t value) {
  return value > 0x7fffffffu ? std::to_string(static_cast<int32_t>(value)) : std::to_string(value);
}

std::string Ordinal(uint32_t n) {
  const char* suffix = (n % 100 >= 11 && n % 100 <= 13) ? "th" : n % 10 == 1 ? "st" : n % 10 == 2 ? "nd"
                                                                : n % 10 == 3 ? "rd" : "th";
  return std::to_string(n) + suffix;
}

const PuzzleArray& ArrayOf(const Puzzle& puzzle, bool shared, uint32_t number) {
  return shared ? puzzle.shared.at(number) : puzzle.globals.at(number);
}

void DiagnoseProbeHeader(const Puzzle& puzzle, const std::vector<uint32_t>& h, PuzzleResult& result) {
  if (h[kGuard] > 0)
    result.diagnoses.push_back(
        {DiagnosisKind::kNeverEnds,
         "never ends: " + InvocationName(puzzle, h[kGuardWorkgroup], h[kGuardInvocation]) + " ran more than " +
             std::to_string(kPuzzleLoopLimit) + " loop iterations, so the loop guard stopped it (" +
             Plural(h[kGuard], "invocation", "invocations") + " in all). Does every loop's condition become "
             "false, and does every loop change what its condition tests?"});
  if (h[kOutOfBounds] > 0) {
    const uint32_t number = h[kOobArray];
    const bool shared = number >= kSharedArrayBase;
    const uint32_t local = shared ? number - kSharedArrayBase : number;
    if ((shared && local >= puzzle.shared.size()) || (!shared && local >= puzzle.globals.size())) return;
    const PuzzleArray& array = ArrayOf(puzzle, shared, local);
    std::string element = array.name + "[" + IndexText(h[kOobRow]) + "]";
    std::string extent = Plural(array.size(), "element", "elements") + " (0 to " + std::to_string(array.size() - 1) +
                         ")";
    if (h[kOobColumn] != kNoColumn) {
      element += "[" + IndexText(h[kOobColumn]) + "]";
      extent = std::to_string(array.rows) + " x " + std::to_string(array.columns) + " (rows 0 to " +
               std::to_string(array.rows - 1) + ", columns 0 to " + std::to_string(array.columns - 1) + ")";
    }
    result.diagnoses.push_back(
        {DiagnosisKind::kOutOfBounds,
         "out of bounds: " + InvocationName(puzzle, h[kOobWorkgroup], h[kOobInvocation]) +
             (h[kOobWrite] ? " wrote " : " read ") + element + ", but " + (shared ? "shared array " : "") +
             array.name + " is " + extent + ". " + Plural(h[kOutOfBounds], "access", "accesses") +
             " out of bounds in all; the accessors skipped them, so nothing was corrupted. Is an invocation past "
             "the end missing its guard?"});
  }
}

void DiagnoseBarriers(const Puzzle& puzzle, const std::vector<uint32_t>& barriers, PuzzleResult& result) {
  const uint32_t per_group = WorkgroupInvocations(puzzle);
  const uint32_t groups = puzzle.grid[0] * puzzle.grid[1];
  for (uint32_t w = 0; w < groups; ++w) {
    const uint32_t first = w * per_group;
    for (uint32_t i = 1; i < per_group; ++i) {
      const uint32_t k = first + i;
      if (barriers[3 * k] == barriers[3 * first] && barriers[3 * k + 1] == barriers[3 * first + 1]) continue;
      auto passed = [&](uint32_t invocation) {
        uint32_t n = barriers[3 * invocation];
        return Plural(n, "barrier", "barriers") +
               (n ? " (the last on line " + std::to_string(barriers[3 * invocation + 2]) + ")" : "");
      };
      result.diagnoses.push_back(
          {DiagnosisKind::kDivergentBarrier,
           "divergent barrier: in workgroup " + std::to_string(w) + ", " + InvocationName(puzzle, w, 0) + " passed " +
               passed(first) + " but " + InvocationName(puzzle, w, i) + " passed " + passed(k) +
               ". Every invocation of a workgroup must reach the same barrier() calls: a barrier after an early "
               "return or inside an if that only some invocations take is undefined (a GPU may hang)."});
      return;
    }
  }
}

// Who touched one element: up to two distinct writers and readers (an id is
// workgroup << 32 | invocation), with the first record of each.
struct Touches {
  std::vector<const AccessRecord*> writers, readers;
  static void Add(std::vector<const AccessRecord*>& list, const AccessRecord& r) {
    for (const AccessRecord* seen : list)
      if (seen->workgroup == r.workgroup && seen->invocation == r.invocation) return;
    if (list.size() < 2) list.push_back(&r);
  }
};

void DiagnoseConflicts(const Puzzle& puzzle, const AccessTrace& trace, PuzzleResult& result) {
  // Shared: an element of one workgroup between two barriers (same step).
  // Global: an element within one workgroup between two barriers, and an
  // element across workgroups whatever the step.
  using Key = std::tuple<int, uint32_t, uint32_t, uint32_t, uint32_t>;  // space, array, workgroup, step, index
  std::map<Key, Touches> within;
  std::map<std::tuple<uint32_t, uint32_t>, std::map<uint32_t, Touches>> across;  // (array, index) -> workgroup
  for (const AccessRecord& r : trace.records) {
    const bool shared = r.access == Access::kSharedRead || r.access == Access::kSharedWrite;
    const bool write = r.access == Access::kGlobalWrite || r.access == Access::kSharedWrite;
    Touches& t = within[{shared ? 1 : 0, r.buffer, r.workgroup, r.step, r.index}];
    Touches::Add(write ? t.writers : t.readers, r);
    if (!shared) {
      Touches& a = across[{r.buffer, r.index}][r.workgroup];
      Touches::Add(write ? a.writers : a.readers, r);
    }
  }
  uint64_t missing = 0, races = 0;
  std::string missing_text, race_text;
  for (const auto& [key, t] : within) {
    const auto& [space, array_number, workgroup, step, index] = key;
    if (t.writers.empty()) continue;
    const PuzzleArray& array = ArrayOf(puzzle, space == 1, array_number);
    const std::string element = ElementName(array, index);
    const std::string when = step == 0 ? "before any barrier()" : "after " + Plural(step, "barrier", "barriers");
    if (t.writers.size() > 1) {
      if (races++ == 0)
        race_text = "race: " + InvocationName(puzzle, workgroup, t.writers[0]->invocation) + " and " +
                    InvocationName(puzzle, workgroup, t.writers[1]->invocation) + " both write " + element +
                    " with no barrier() between them (" + when + "), so which value stays is up to the device.";
      continue;
    }
    const AccessRecord* other = nullptr;
    for (const AccessRecord* reader : t.readers)
      if (reader->invocation != t.writers[0]->invocation) other = reader;
    if (other && missing++ == 0)
      missing_text = "missing barrier: " + InvocationName(puzzle, workgroup, t.writers[0]->invocation) + " writes " +
                     element + " and " + InvocationName(puzzle, workgroup, other->invocation) +
                     " reads it with no barrier() between them (" + when +
                     "), so it may read the old value or the new one. Put a barrier() between the write and the read.";
  }
  for (const auto& [key, groups] : across) {
    const auto& [array_number, index] = key;
    const AccessRecord* writer = nullptr;
    const AccessRecord* other = nullptr;
    for (const auto& [workgroup, t] : groups)
      if (!t.writers.empty() && !writer) writer = t.writers[0];
    if (!writer) continue;
    for (const auto& [workgroup, t] : groups) {
      if (workgroup == writer->workgroup || other) continue;
      if (!t.writers.empty()) other = t.writers[0];
      else if (!t.readers.empty()) other = t.readers[0];
    }
    if (!other) continue;
    const bool both_write = other->access == Access::kGlobalWrite;
    if (races++ == 0)
      race_text = "race: " + InvocationName(puzzle, writer->workgroup, writer->invocation) + " writes " +
                  ElementName(puzzle.globals.at(array_number), index) + " and " +
                  InvocationName(puzzle, other->workgroup, other->invocation) + (both_write ? " writes" : " reads") +
                  " it too, from another workgroup: no barrier() orders different workgroups.";
  }
  if (missing)
    result.diagnoses.push_back({DiagnosisKind::kMissingBarrier,
                                missing_text + (missing > 1 ? " (" + std::to_string(missing) + " elements in all)" : "")});
  if (races)
    result.diagnoses.push_back({DiagnosisKind::kRace,
                                race_text + (races > 1 ? " (" + std::to_string(races) + " elements in all)" : "")});
}

// Neighbours along x make their n-th access to each global array on
// neighbouring elements (one transaction on a GPU).
std::optional<std::string> FindUncoalesced(const Puzzle& puzzle, const AccessTrace& trace) {
  // (workgroup, invocation, array, write) -> indices in program order
  std::map<std::tuple<uint32_t, uint32_t, uint32_t, bool>, std::vector<uint32_t>> sequences;
  for (const AccessRecord& r : trace.records)
    if (r.access == Access::kGlobalRead || r.access == Access::kGlobalWrite)
      sequences[{r.workgroup, r.invocation, r.buffer, r.access == Access::kGlobalWrite}].push_back(r.index);
  for (const auto& [key, indices] : sequences) {
    const auto& [workgroup, invocation, array, write] = key;
    if ((invocation + 1) % puzzle.workgroup[0] == 0) continue;  // the last along x has no right neighbour
    auto right = sequences.find({workgroup, invocation + 1, array, write});
    if (right == sequences.end()) continue;
    for (size_t n = 0; n < std::min(indices.size(), right->second.size()); ++n) {
      if (right->second[n] == indices[n] + 1) continue;
      const PuzzleArray& a = puzzle.globals.at(array);
      int64_t apart = int64_t(right->second[n]) - int64_t(indices[n]);
      return "not coalesced: the " + Ordinal(n + 1) + (write ? " write to " : " read of ") + a.name + " by " +
             InvocationName(puzzle, workgroup, invocation) + " and its right neighbour touch " +
             ElementName(a, indices[n]) + " and " + ElementName(a, right->second[n]) + ", " + std::to_string(apart) +
             " elements apart; neighbours along x should touch neighbouring elements of a row (one memory "
             "transaction for the subgroup instead of one each).";
    }
  }
  return std::nullopt;
}

void DiagnoseBudget(const Puzzle& puzzle, PuzzleResult& result) {
  const PuzzleBudget& b = puzzle.budget;
  struct Item {
    const std::optional<uint32_t>& limit;
    uint32_t InvocationCounts::*count;
    const char* one;
    const char* many;
  };
  const Item items[] = {
      {b.global_reads, &InvocationCounts::global_reads, "global read", "global reads"},
      {b.global_writes, &InvocationCounts::global_writes, "global write", "global writes"},
      {b.shared_reads, &InvocationCounts::shared_reads, "shared read", "shared reads"},
      {b.shared_writes, &InvocationCounts::shared_writes, "shared write", "shared writes"},
      {b.barriers, &InvocationCounts::barriers, "barrier", "barriers"},
  };
  for (const Item& item : items) {
    if (!item.limit) continue;
    const InvocationCounts* worst = nullptr;
    for (const InvocationCounts& c : result.counts)
      if (!worst || c.*item.count > (*worst).*item.count) worst = &c;
    if (!worst || (*worst).*item.count <= *item.limit) continue;
    result.within_budget = false;
    result.diagnoses.push_back(
        {DiagnosisKind::kOverBudget, "over budget: " + InvocationName(puzzle, worst->workgroup, worst->invocation) +
                                         " made " + Plural((*worst).*item.count, item.one, item.many) +
                                         "; the budget is at most " + Plural(*item.limit, item.one, item.many) +
                                         " per invocation."});
  }
  if (b.coalesced && result.trace)
    if (auto text = FindUncoalesced(puzzle, *result.trace)) {
      result.within_budget = false;
      result.diagnoses.push_back({DiagnosisKind::kOverBudget, *text});
    }
}

}  // namespace

void Diagnose(const Puzzle& puzzle, const ProbeReadout& probe, PuzzleResult& result) {
  const uint32_t per_group = WorkgroupInvocations(puzzle);
  result.counts.assign(TotalInvocations(puzzle), {});
  for (uint32_t k = 0; k < result.counts.size(); ++k) {
    result.counts[k].workgroup = k / per_group;
    result.counts[k].invocation = k % per_group;
    result.counts[k].barriers = probe.barriers[3 * k];
  }
  for (const AccessRecord& r : probe.trace.records) {
    const uint64_t k = uint64_t(r.workgroup) * per_group + r.invocation;
    if (k >= result.counts.size()) continue;
    InvocationCounts& c = result.counts[k];
    switch (r.access) {
      case Access::kGlobalRead: ++c.global_reads; break;
      case Access::kGlobalWrite: ++c.global_writes; break;
      case Access::kSharedRead: ++c.shared_reads; break;
      case Access::kSharedWrite: ++c.shared_writes; break;
    }
  }
  for (const InvocationCounts& c : result.counts) {
    result.most.global_reads = std::max(result.most.global_reads, c.global_reads);
    result.most.global_writes = std::max(result.most.global_writes, c.global_writes);
    result.most.shared_reads = std::max(result.most.shared_reads, c.shared_reads);
    result.most.shared_writes = std::max(result.most.shared_writes, c.shared_writes);
    result.most.barriers = std::max(result.most.barriers, c.barriers);
  }
  result.trace = probe.trace;
  DiagnoseProbeHeader(puzzle, probe.header, result);
  DiagnoseBarriers(puzzle, probe.barriers, result);
  DiagnoseConflicts(puzzle, probe.trace, result);
  result.within_budget = true;
  DiagnoseBudget(puzzle, result);
  if (probe.trace.overflowed())
    result.diagnoses.push_back(
        {DiagnosisKind::kRecordsOverflowed,
         "the instrumented run kept " + std::to_string(probe.trace.capacity) + " of the " +
             std::to_string(probe.trace.wanted) + " accesses the kernel made; races and counts cover those only."});
}

void CheckOutputs(const Puzzle& puzzle, PuzzleResult& result) {
  result.wrong.clear();
  result.wrong_count = 0;
  std::string first;
  uint32_t output = 0;
  for (const PuzzleArray& array : puzzle.globals) {
    if (!array.output) continue;
    const std::vector<float>& got = result.outputs.at(output);
    const std::vector<double>& want = result.expected.at(output);
    for (uint32_t i = 0; i < want.size(); ++i) {
      const double tolerance = 1e-4 * std::max(1.0, std::abs(want[i]));
      if (std::abs(double(got[i]) - want[i]) <= tolerance) continue;  // NaN fails
      if (result.wrong_count++ == 0) {
        char text[160];
        std::snprintf(text, sizeof text, "; the first, %s: expected %.7g, got %.7g", ElementName(array, i).c_str(),
                      want[i], double(got[i]));
        first = text;
      }
      if (result.wrong.size() < kMaxWrongListed) result.wrong.push_back({output, i, want[i], double(got[i])});
    }
    ++output;
  }
  result.correct = result.wrong_count == 0;
  if (!result.correct) {
    uint64_t total = 0;
    for (const auto& want : result.expected) total += want.size();
    result.diagnoses.push_back({DiagnosisKind::kWrongValue, "wrong value: " + std::to_string(result.wrong_count) +
                                                                " of " + std::to_string(total) +
                                                                " output elements differ from the spec" + first + "."});
  }
}

}  // namespace ts::lab::detail
