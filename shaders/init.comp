#version 450
// Seeded parameter initialisation: element i's value depends only on
// (seed, i), through the counter-based hash of init.h, so it is the same on
// every device and for every workgroup size, and kernels::InitValue computes
// it on the CPU.
//   uniform: u = (bits >> 8) / 2^24 in [0, 1);  value = scale * (2u - 1)
//   normal:  Box-Muller with u1 = ((bits0 >> 8) + 1) / 2^24 in (0, 1] and
//            u2 = (bits1 >> 8) / 2^24:  value = scale * sqrt(-2 ln u1) * cos(2 pi u2)
// The log and cosine are computed here (not by the driver's builtins, whose
// precision Vulkan leaves loose) so the device matches the double-precision
// CPU value to a few float ulps.
#include "init.h"
#include "math.glsl"

layout(local_size_x_id = 0) in;  // workgroup size: specialization constant 0

layout(std430, binding = 0) writeonly buffer Params { float params[]; };  // (count)
layout(push_constant) uniform Push { InitParams p; };

// sin(pi/2 g) and cos(pi/2 g) for g in [0, 0.5] (angles up to pi/4): Taylor
// series through g^11 and g^10, whose first omitted terms are below 1e-10.
float SinHalfPi(float g) {
  float s = g * g;
  float r = -3.598843235e-06;
  r = r * s + 1.604411848e-04;
  r = r * s - 4.681754135e-03;
  r = r * s + 7.969262625e-02;
  r = r * s - 6.459640975e-01;
  r = r * s + 1.570796327e+00;
  return g * r;
}
float CosHalfPi(float g) {
  float s = g * g;
  float r = -2.520204237e-05;
  r = r * s + 9.192602748e-04;
  r = r * s - 2.086348076e-02;
  r = r * s + 2.536695079e-01;
  r = r * s - 1.233700550e+00;
  return r * s + 1.0;
}

// cos(2 pi k / 2^24) for a 24-bit k. The reduction is exact: the top two bits
// pick the quadrant, the other 22 the angle within it, and angles past pi/4
// use the complementary function of (1 - g), which is exact too.
float CosTwoPiFraction(uint k) {
  uint quadrant = k >> 22u;
  float g = float(k & 0x3fffffu) * (1.0 / 4194304.0);  // 2^-22
  float c = g <= 0.5 ? CosHalfPi(g) : SinHalfPi(1.0 - g);  // cos(pi/2 g)
  float s = g <= 0.5 ? SinHalfPi(g) : CosHalfPi(1.0 - g);  // sin(pi/2 g)
  if (quadrant == 0u) return c;
  if (quadrant == 1u) return -s;
  if (quadrant == 2u) return -c;
  return s;
}

void main() {
  const float kTwoToMinus24 = 1.0 / 16777216.0;
  uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < p.count; i += stride) {
    float value = 0.0;
    if (p.distribution == INIT_DISTRIBUTION_UNIFORM) {
      float u = float(InitRandomBits(p.seed, 0u, i) >> 8u) * kTwoToMinus24;
      value = p.scale * (2.0 * u - 1.0);  // 2u - 1 is exact
    } else if (p.distribution == INIT_DISTRIBUTION_NORMAL) {
      float u1 = float((InitRandomBits(p.seed, 0u, i) >> 8u) + 1u) * kTwoToMinus24;
      float radius = sqrt(-2.0 * PreciseLog(u1));
      value = p.scale * radius * CosTwoPiFraction(InitRandomBits(p.seed, 1u, i) >> 8u);
    } else if (p.distribution == INIT_DISTRIBUTION_CONSTANT) {
      value = p.scale;
    }
    params[i] = value;
  }
}
