// The Kernel Lab puzzles' prelude: what every puzzle kernel is compiled with
// (compute/lab/puzzle_compile.cpp puts it after the puzzle's constants and
// before its buffer accessors and the learner's kernel body).
//
// It watches the kernel from inside, so mistakes are caught and explained
// instead of corrupting memory or hanging the device:
// - every access goes through an accessor that checks its index (an access
//   out of bounds does nothing and reports the first offender);
// - with recording on (push constant ts_recording), every access is appended
//   to a record buffer in the Kernel Lab's format (compute/lab/lab.h's
//   AccessRecord), its step being the barriers the invocation has passed, so
//   races and missing barriers are found on the host;
// - barrier() counts per invocation how many barriers it passed and on which
//   lines (a divergent barrier shows as a difference);
// - every loop iteration asks ts_loop_guard(), which ends a loop that runs
//   too long (lavapipe would also stop it after 65 535 iterations).
//
// Defined before: kWorkgroupInvocations, kInvocations, kLoopLimit (uint).

layout(push_constant) uniform TsPush {
  uint ts_recording;  // 1: append records and barrier counts (the instrumented run)
};

// Header words, then 3 words per invocation (barriers passed, a hash of their
// lines, the last one's line), then 8 words per record.
layout(std430, binding = 0) buffer TsProbe {
  uint ts_header[16];
  uint ts_barriers[kInvocations * 3u];
  uint ts_records[];
};
const uint kTsWanted = 0u;            // records the kernel tried to append
const uint kTsOutOfBounds = 1u;       // accesses out of bounds (the first one's details follow)
const uint kTsOobWorkgroup = 2u, kTsOobInvocation = 3u, kTsOobArray = 4u, kTsOobRow = 5u, kTsOobColumn = 6u,
           kTsOobWrite = 7u;
const uint kTsGuard = 8u;             // invocations stopped by the loop guard (the first one follows)
const uint kTsGuardWorkgroup = 9u, kTsGuardInvocation = 10u;
const uint kTsNoColumn = 0xffffffffu; // a 1D access

const uint kTsGlobalRead = 0u, kTsGlobalWrite = 1u, kTsSharedRead = 2u, kTsSharedWrite = 3u;

uint ts_workgroup_index() {
  return gl_WorkGroupID.x + gl_NumWorkGroups.x * (gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z);
}
uint ts_invocation_index() { return ts_workgroup_index() * kWorkgroupInvocations + gl_LocalInvocationIndex; }

uint ts_barriers_passed = 0u;  // this invocation's step
uint ts_loop_iterations = 0u;

void ts_record(uint access, uint array, uint index) {
  if (ts_recording == 0u) return;
  uint slot = atomicAdd(ts_header[kTsWanted], 1u);
  if (slot >= uint(ts_records.length()) / 8u) return;  // full: counted, not written
  uint base = slot * 8u;
  ts_records[base + 0u] = ts_workgroup_index();
  ts_records[base + 1u] = gl_LocalInvocationIndex;
  ts_records[base + 2u] = gl_SubgroupID;
  ts_records[base + 3u] = gl_SubgroupInvocationID;
  ts_records[base + 4u] = ts_barriers_passed;
  ts_records[base + 5u] = access;
  ts_records[base + 6u] = array;
  ts_records[base + 7u] = index;
}

// Reports an access outside its array (the first one in full) and says
// whether the access may go ahead.
bool ts_in_bounds(bool inside, uint array, uint row, uint column, bool write) {
  if (inside) return true;
  if (atomicAdd(ts_header[kTsOutOfBounds], 1u) == 0u) {
    ts_header[kTsOobWorkgroup] = ts_workgroup_index();
    ts_header[kTsOobInvocation] = gl_LocalInvocationIndex;
    ts_header[kTsOobArray] = array;
    ts_header[kTsOobRow] = row;
    ts_header[kTsOobColumn] = column;
    ts_header[kTsOobWrite] = write ? 1u : 0u;
  }
  return false;
}

// True once this invocation has run kLoopLimit loop iterations: the loop it
// is in then breaks (compute/lab/puzzle_compile.cpp puts the call in every loop).
bool ts_loop_guard() {
  ts_loop_iterations += 1u;
  if (ts_loop_iterations <= kLoopLimit) return false;
  if (ts_loop_iterations == kLoopLimit + 1u && atomicAdd(ts_header[kTsGuard], 1u) == 0u) {
    ts_header[kTsGuardWorkgroup] = ts_workgroup_index();
    ts_header[kTsGuardInvocation] = gl_LocalInvocationIndex;
  }
  return true;
}

// The learner's barrier() (a macro, below): makes shared and buffer writes of
// the workgroup visible, and counts the barrier and its line.
void ts_barrier(uint line) {
  ts_barriers_passed += 1u;
  if (ts_recording != 0u) {
    uint base = ts_invocation_index() * 3u;
    ts_barriers[base + 0u] = ts_barriers_passed;
    ts_barriers[base + 1u] = ts_barriers[base + 1u] * 31u + line;
    ts_barriers[base + 2u] = line;
  }
  memoryBarrierShared();
  memoryBarrierBuffer();
  barrier();
}
#define barrier() ts_barrier(__LINE__)
