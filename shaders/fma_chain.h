// Push constants of fma_chain.comp (shared by GLSL and C++).
#ifndef TENSORSCOPE_SHADERS_FMA_CHAIN_H
#define TENSORSCOPE_SHADERS_FMA_CHAIN_H
#include "shared_types.h"
TS_SHADER_NAMESPACE_BEGIN

// Each invocation runs FMA_CHAINS independent vec4 chains x = x * multiplier + addend.
const uint FMA_CHAINS = 8u;

struct FmaChainParams {
  float multiplier;
  float addend;
  uint invocations;  // results written: one vec4 per invocation
  uint reserved;
};
TS_CHECK_PUSH_LAYOUT(FmaChainParams, 4)

TS_SHADER_NAMESPACE_END
#endif
