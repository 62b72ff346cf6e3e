// The wrapper main of a traced shader build ("<name>__trace", made by
// make_traced.cmake): the kernel's own main() has been renamed to
// ts_untraced_main by a #define, and this file is appended to its source.
//
// The first invocation of each workgroup reads the device clock before the
// kernel and after the whole workgroup has finished it (barrier()), and writes
// {start_lo, start_hi, end_lo, end_hi} at its linear workgroup index, when the
// buffer the Sequence bound (set 1, binding 0) has room for that index.
// clockRealtime2x32EXT is one clock for the whole device (shaderDeviceClock),
// so records of different workgroups can be compared.
#undef main

layout(std430, set = 1, binding = 0) writeonly buffer TsWorkgroupTrace { uvec4 ts_workgroup_records[]; };

void main() {
  uvec2 ts_start = uvec2(0u);
  if (gl_LocalInvocationIndex == 0u) ts_start = clockRealtime2x32EXT();
  ts_untraced_main();
  // Every invocation has left the kernel (an early return included).
  barrier();
  if (gl_LocalInvocationIndex == 0u) {
    uvec2 ts_end = clockRealtime2x32EXT();
    uint ts_index = gl_WorkGroupID.x + gl_NumWorkGroups.x * (gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z);
    if (ts_index < uint(ts_workgroup_records.length()))
      ts_workgroup_records[ts_index] = uvec4(ts_start.x, ts_start.y, ts_end.x, ts_end.y);
  }
}
