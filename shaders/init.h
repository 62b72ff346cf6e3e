// Push constants of init.comp and the counter-based hash it draws from, shared
// by GLSL and C++ so kernels::InitValue reproduces the device's integers
// exactly.
#ifndef TENSORSCOPE_SHADERS_INIT_H
#define TENSORSCOPE_SHADERS_INIT_H
#include "shared_types.h"
#ifdef __cplusplus
#define TS_INIT_FUNCTION inline
#else
#define TS_INIT_FUNCTION
#endif
TS_SHADER_NAMESPACE_BEGIN

// Values of InitParams::distribution.
const uint INIT_DISTRIBUTION_ZEROS = 0u;
const uint INIT_DISTRIBUTION_UNIFORM = 1u;  // U(-scale, +scale)
const uint INIT_DISTRIBUTION_NORMAL = 2u;   // N(0, scale^2)
const uint INIT_DISTRIBUTION_CONSTANT = 3u; // every element = scale

struct InitParams {
  uint count;
  uint distribution;
  float scale;  // the uniform's limit or the normal's standard deviation
  uint seed;
};
TS_CHECK_PUSH_LAYOUT(InitParams, 4)

// A 32-bit integer finaliser with full avalanche (xorshift-multiply rounds with
// the "lowbias32" constants from Chris Wellons' hash-prospector). A bijection.
TS_INIT_FUNCTION uint InitMixBits(uint x) {
  x ^= x >> 16u;
  x *= 0x7feb352du;
  x ^= x >> 15u;
  x *= 0x846ca68bu;
  x ^= x >> 16u;
  return x;
}

// 32 random bits for element `index` of stream `stream` (0 or 1: the two
// uniforms of Box-Muller) under `seed`. The key mixes seed and stream; the
// index goes through two keyed rounds, so different seeds are not merely
// shifted or permuted copies of one another.
TS_INIT_FUNCTION uint InitRandomBits(uint seed, uint stream, uint index) {
  uint key = InitMixBits(seed ^ InitMixBits(stream * 0x9e3779b9u + 0x632be5abu));
  return InitMixBits(InitMixBits(index ^ key) + key);
}

TS_SHADER_NAMESPACE_END
#undef TS_INIT_FUNCTION
#endif
