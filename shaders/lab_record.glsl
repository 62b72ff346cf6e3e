// The Kernel Lab's instrumented run: a lab kernel that includes this file
// (after defining LAB_RECORD_BINDING, the binding of its record buffer)
// appends one record per access it reports through LabRecord(), for the first
// kRecordWorkgroups workgroups (linear index), into a buffer of fixed
// capacity. kRecordWorkgroups = 0 (the default) compiles the timed variant:
// LabRecord then returns at once and the host binds an unused buffer there.
//
// The buffer: word 0 counts the records wanted (an atomic add per record,
// kept counting past the capacity, so overflow is reported, never silent);
// words 1-3 are padding; then 8 words per record:
//   workgroup, invocation (gl_LocalInvocationIndex), subgroup, lane, step,
//   access (0 global read, 1 global write, 2 shared read, 3 shared write),
//   buffer (the kernel's number for the array), index (element index).
// One invocation's atomic adds happen in its program order, so its records
// are in that order (compute/lab/lab.h's bank-conflict model relies on it).
#extension GL_KHR_shader_subgroup_basic : require

layout(constant_id = 31) const uint kRecordWorkgroups = 0;

layout(std430, binding = LAB_RECORD_BINDING) buffer LabRecords {
  uint lab_wanted;
  uint lab_padding[3];
  uint lab_records[];
};

const uint kLabGlobalRead = 0u;
const uint kLabGlobalWrite = 1u;
const uint kLabSharedRead = 2u;
const uint kLabSharedWrite = 3u;

uint LabWorkgroupIndex() {
  return gl_WorkGroupID.x + gl_NumWorkGroups.x * (gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z);
}

bool LabRecording() { return kRecordWorkgroups > 0u && LabWorkgroupIndex() < kRecordWorkgroups; }

void LabRecord(uint step, uint access, uint buffer_number, uint index) {
  if (!LabRecording()) return;
  uint slot = atomicAdd(lab_wanted, 1u);
  if (slot >= uint(lab_records.length()) / 8u) return;  // full: counted, not written
  uint base = slot * 8u;
  lab_records[base + 0u] = LabWorkgroupIndex();
  lab_records[base + 1u] = gl_LocalInvocationIndex;
  lab_records[base + 2u] = gl_SubgroupID;
  lab_records[base + 3u] = gl_SubgroupInvocationID;
  lab_records[base + 4u] = step;
  lab_records[base + 5u] = access;
  lab_records[base + 6u] = buffer_number;
  lab_records[base + 7u] = index;
}
