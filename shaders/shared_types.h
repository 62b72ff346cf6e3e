// Included by both GLSL and C++: push-constant structs are written once, in the
// subset of syntax the two languages share (`struct Name { uint a; float b; };`).
// Only 4-byte scalars (uint, int, float) are allowed in these structs so the
// std430 push-constant layout and the C++ layout agree; the C++ side
// static_asserts the size of each struct.
#ifndef TENSORSCOPE_SHADERS_SHARED_TYPES_H
#define TENSORSCOPE_SHADERS_SHARED_TYPES_H

#ifdef __cplusplus
#include <cstdint>
#define TS_SHADER_NAMESPACE_BEGIN namespace ts::gpu { using uint = std::uint32_t;
#define TS_SHADER_NAMESPACE_END }
// Checks that a struct is made of `fields` 4-byte scalars with no padding.
#define TS_CHECK_PUSH_LAYOUT(name, fields) \
  static_assert(sizeof(name) == 4 * (fields) && alignof(name) == 4, #name " must be packed 4-byte scalars");
#else
#define TS_SHADER_NAMESPACE_BEGIN
#define TS_SHADER_NAMESPACE_END
#define TS_CHECK_PUSH_LAYOUT(name, fields)
#endif

#endif
