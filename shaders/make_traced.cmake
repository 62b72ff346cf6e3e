# Writes the traced build of one compute shader: the same source with the
# shader-clock extension enabled right after its #version line, its main()
# renamed to ts_untraced_main (a #define, so a main() in an included .glsl is
# renamed too), and the wrapper main of trace_main.glsl appended.
# Inputs: SOURCE (the .comp), WRAPPER (trace_main.glsl), OUT (the generated .comp).
file(READ ${SOURCE} source)
file(READ ${WRAPPER} wrapper)
string(REGEX MATCH "^#version[^\n]*\n" version_line "${source}")
if(NOT version_line)
  message(FATAL_ERROR "${SOURCE} does not start with a #version line, so its traced build cannot enable "
                      "GL_EXT_shader_realtime_clock before the rest of the shader.")
endif()
string(LENGTH "${version_line}" version_length)
string(SUBSTRING "${source}" ${version_length} -1 body)
# `#line 2` keeps compiler messages on the original line numbers.
file(WRITE ${OUT}.tmp
     "${version_line}#extension GL_EXT_shader_realtime_clock : require\n#define main ts_untraced_main\n#line 2\n"
     "${body}\n${wrapper}")
# Only touch OUT when it changed, so glslc does not rerun needlessly.
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUT}.tmp)
