// IEEE 754 binary16 (fp16) on the host: what the fp16 kernels store, for
// reading their tensors and for references that round as they do.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace ts {

// The fp32 value of the fp16 bits `h` (exact: every fp16 is an fp32).
inline float HalfToFloat(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
  if (exponent == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));  // Inf, NaN
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24
    const float magnitude = std::ldexp(float(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  return std::bit_cast<float>(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

// `value` rounded to the nearest fp16 (ties to even), as a GPU's conversion
// does: beyond the largest finite fp16 (65504) it becomes Inf.
inline uint16_t FloatToHalf(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude >= 0x7f800000u)  // Inf or NaN (a quiet NaN stays a NaN)
    return sign | 0x7c00u | (magnitude > 0x7f800000u ? 0x200u : 0u);
  if (magnitude >= 0x477ff000u) return sign | 0x7c00u;  // rounds past 65504
  if (magnitude < 0x38800000u) {  // below the smallest normal fp16: a subnormal, rounded to even
    const float scaled = std::bit_cast<float>(magnitude) * 16777216.0f;  // units of 2^-24, exact
    return sign | static_cast<uint16_t>(std::nearbyint(scaled));
  }
  // Normal: rebias the exponent, round the 13 dropped mantissa bits to even.
  uint32_t h = ((magnitude - 0x38000000u) >> 13);
  const uint32_t dropped = magnitude & 0x1fffu;
  if (dropped > 0x1000u || (dropped == 0x1000u && (h & 1u))) ++h;
  return sign | static_cast<uint16_t>(h);
}

// `value` as the fp16 kernels would store it.
inline float RoundToHalf(float value) { return HalfToFloat(FloatToHalf(value)); }

}  // namespace ts
