// Pure helpers behind the Kernel Lab window's views, kept apart from drawing
// so they are unit-tested: GLSL syntax colouring, the grid picture's cells
// and formula, and what a subgroup or a workgroup touched at one step of an
// instrumented run (lab::AccessTrace).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "compute/lab/lab.h"

namespace ts::ui::lab_view {

// --- GLSL source -------------------------------------------------------------

enum class GlslToken { kPlain, kKeyword, kType, kBuiltin, kComment, kNumber, kPreprocessor };

// A run of one kind of text in a line: [begin, end) in bytes.
struct GlslSpan {
  size_t begin = 0, end = 0;
  GlslToken kind = GlslToken::kPlain;
};

// Splits one line of GLSL into coloured spans covering it in order.
// `in_block_comment` carries a /* ... */ comment from line to line.
std::vector<GlslSpan> HighlightGlslLine(std::string_view line, bool& in_block_comment);

// --- The grid picture (lesson 1) ---------------------------------------------

// One invocation's place in the dispatch. Cells of the launched grid beyond
// the array are idle invocations (the bounds guard returned them); their IDs
// follow from the dispatch's shape, as nothing was written for them.
struct GridCell {
  bool inside = false;          // an element of the array
  uint32_t element = 0;         // x + y * width (inside only)
  uint32_t workgroup = 0;       // linear workgroup index
  uint32_t invocation = 0;      // gl_LocalInvocationIndex
  uint32_t subgroup = 0;        // gl_SubgroupID (inside only)
  uint32_t workgroup_id[2] = {0, 0}, local_id[2] = {0, 0}, global_id[2] = {0, 0};
  uint32_t x = 0, y = 0;        // the cell asked for
};

// Invocations launched along x and y: the grid times the workgroup size.
uint32_t LaunchedX(const lab::GridPicture& picture);
uint32_t LaunchedY(const lab::GridPicture& picture);

// The cell at (x, y) of the launched grid (x < LaunchedX, y < LaunchedY):
// inside the array, from what the kernel wrote; outside, from the dispatch.
GridCell CellAt(const lab::GridPicture& picture, uint32_t x, uint32_t y);

// gl_GlobalInvocationID = gl_WorkGroupID * gl_WorkGroupSize + gl_LocalInvocationID
// with the cell's numbers ("... = 2 * 64 + 5 = 133" in 1D, vectors in 2D), and
// a word when the sum does not land on the cell (a kernel that wrote the
// wrong IDs) or the invocation is idle.
std::string GlobalIdFormula(const lab::GridPicture& picture, const GridCell& cell);

// --- Instrumented runs ---------------------------------------------------------

// The workgroups, steps and subgroups present in the records, ascending.
std::vector<uint32_t> RecordedWorkgroups(const lab::AccessTrace& trace);
std::vector<uint32_t> RecordedSteps(const lab::AccessTrace& trace, uint32_t workgroup);
std::vector<uint32_t> RecordedSubgroups(const lab::AccessTrace& trace, uint32_t workgroup);

// What one subgroup did to one buffer with one kind of access at one step,
// one instruction: the n-th such access of each lane (records are in each
// invocation's program order), as the bank model of lab::CountBankConflicts.
struct SubgroupTouch {
  uint32_t buffer = 0;     // a global buffer (trace.buffer_names) or a shared array (trace.shared_names)
  lab::Access access = lab::Access::kGlobalRead;
  uint32_t instruction = 0;  // n: the lanes' n-th access of this kind to this buffer at this step
  std::vector<std::pair<uint32_t, uint32_t>> lane_index;  // (lane, element index), by lane then index
  uint32_t distinct = 0;   // distinct element indices
  uint32_t span = 0;       // largest - smallest index + 1
  uint32_t segments = 0;   // distinct 128-byte segments (32 four-byte elements) touched
  bool contiguous = false; // the distinct indices form one unbroken run
  // Shared memory, 32 banks of 4 bytes: the most distinct addresses that fall
  // in one bank (1: no conflict; n: the access is served in n passes).
  uint32_t bank_ways = 0;
};
// Every (buffer, access, instruction) of the subgroup at that step, in that order.
std::vector<SubgroupTouch> SubgroupTouches(const lab::AccessTrace& trace, uint32_t workgroup, uint32_t subgroup,
                                           uint32_t step);

// What a whole workgroup read (or wrote) of one global buffer at the steps
// first_step ..= last_step: the element indices, sorted and distinct.
std::vector<uint32_t> WorkgroupIndices(const lab::AccessTrace& trace, uint32_t workgroup, uint32_t buffer,
                                       bool writes, uint32_t first_step, uint32_t last_step);

// One level of a reduction tree: the invocations that did something at that
// step, and what each read and wrote (shared or global, whichever the kernel used).
struct TreeLevel {
  uint32_t step = 0;
  struct Move {
    uint32_t invocation = 0;
    std::vector<uint32_t> reads, writes;  // element indices, ascending
  };
  std::vector<Move> moves;  // by invocation
  uint32_t subgroups = 0;   // distinct subgroups with an active invocation (a subgroup runs if any lane does)
};
std::vector<TreeLevel> ReductionLevels(const lab::AccessTrace& trace, uint32_t workgroup);

// The index of the buffer named `name` in trace.buffer_names (-1: none).
int BufferNamed(const lab::AccessTrace& trace, std::string_view name);

bool IsShared(lab::Access access);
// "A", "tile B", or "buffer 3" when the trace does not name it.
std::string BufferName(const lab::AccessTrace& trace, uint32_t buffer, lab::Access access);

}  // namespace ts::ui::lab_view
