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
//
// Why one writer behind a barrier rather than per-subgroup atomics. Measured
// on lavapipe: 18 copy dispatches of 2 workgroups x 256 invocations, median of
// 15 recordings. The per-subgroup version used subgroupElect after
// subgroupBarrier, plus 6 atomicMax per subgroup (lo/hi words, and the lo
// words again rotated by 2^31 against wraps). Against the untraced sequence
// with dispatch timestamps, it added 28-42%, and this wrapper added 8-15%.
// With subgroup size 8 that is 32 subgroups, so 192 atomics per workgroup.
// Neither wrapper changes the cost of a pipeline's first dispatch, where
// llvmpipe compiles the shader (about 1.5 ms per traced pipeline); that cost
// is most of a single cold traced step.
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
