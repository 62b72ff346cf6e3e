// How a plan stores activations: fp32, or mixed precision (fp16 storage, fp32
// arithmetic, fp32 master weights, dynamic loss scaling; see nn::Plan and
// compute/kernels/mixed_precision.h).
#pragma once

#include <string>

#include "compute/common/error.h"

namespace ts::nn {

struct ModelDesc;

enum class Precision { kFp32, kFp16 };

// "" when every layer of `model` has fp16 kernels (dense, conv2d, pooling,
// batch norm, activation, dropout, the loss head); else why not, naming the
// first layer that has none (the sequence layers; defined in plan.cpp).
std::string Fp16UnsupportedLayers(const ModelDesc& model);

inline const char* PrecisionName(Precision precision) { return precision == Precision::kFp16 ? "fp16" : "fp32"; }

// Parses "fp32" / "fp16"; throws ts::Error naming `where` and the value otherwise.
inline Precision ParsePrecision(const std::string& text, const std::string& where) {
  if (text == "fp32") return Precision::kFp32;
  if (text == "fp16") return Precision::kFp16;
  throw Error(where + ": unknown precision '" + text + "': expected fp32 or fp16.");
}

}  // namespace ts::nn
