// conv2d.comp / conv2d_back_data.comp / conv2d_back_filter.comp: 2D
// convolution forward and both backward forms, without bias.
//
// Layouts (row-major, channels innermost):
//   input  X  (N, H, W, Cin)
//   filter W  (KH, KW, Cin, Cout)  = a (KH*KW*Cin, Cout) matrix, like Dense's (in, out)
//   output Y  (N, OH, OW, Cout)    = a (N*OH*OW, Cout) matrix, like Dense's (batch, out)
// so the bias and activation that follow a convolution are bias_act.comp on
// Y as (N*OH*OW, Cout), and the bias gradient is bias_act_back.comp's column sums.
//
//   Y[n][oh][ow][co] = sum over kh, kw, ci of
//                        X[n][oh*sh - pad_top + kh][ow*sw - pad_left + kw][ci] * W[kh][kw][ci][co]
//   dX = the same sums read backwards (gather: each dX element sums its own terms; deterministic)
//   dW = im2col(X)^T dY, a reduction over the N*OH*OW output pixels
// Every dispatch needs subgroup shuffles (as matmul does), and throws ts::Error
// on a device without them.
//
// Costs on lavapipe: the input gradient's columns are Cin, so for Cin < 8 most
// of its 32-channel tiles idle (~1-2 GFLOP/s at Cin 1 to 3); a model should not
// ask for the input gradient of its first layer, which nothing uses.
// Input positions outside the image read as zero. Padding is explicit in the
// geometry (pad_top, pad_left, and OH, OW); ResolveConv2DPadding turns 'valid',
// 'same' or a symmetric padding into it.
//
// Mixed precision (TensorRef::element_bytes 2, fp16): each dispatch runs its
// *_f16 shader when its activation tensors are fp16 (sums stay fp32; Inf and
// NaN in the inputs propagate). Exactly these forms are accepted:
//   forward:         input, filter (the fp16 weight copy), output all fp16
//   backward data:   grad_output, filter (the fp16 weight copy), grad_input all fp16
//   backward filter: input, grad_output fp16; grad_filter fp32 (the master gradient)
// or everything fp32. Any other mix throws ts::Error naming the precisions, as
// does fp16 on a device without 16-bit storage (kernels::Fp16Unavailable).
// Both forward variants, every tiling and the vec4 paths work in fp16 (vec4s
// are f16vec4s: an 8-byte aligned binding; texel views RGBA16F). Costs count
// the real element sizes.
#pragma once

#include <cstdint>
#include <string>

#include "compute/kernels/tensor_ref.h"
#include "compute/vk/device_info.h"

namespace ts::kernels {

struct Conv2DGeometry {
  uint32_t batch = 0;                            // N
  uint32_t in_height = 0, in_width = 0;          // H, W
  uint32_t in_channels = 0, out_channels = 0;    // Cin, Cout
  uint32_t kernel_height = 0, kernel_width = 0;  // KH, KW
  uint32_t stride_h = 1, stride_w = 1;
  uint32_t pad_top = 0, pad_left = 0;    // zero rows above, columns left of the image (below, right: what OH, OW imply)
  uint32_t out_height = 0, out_width = 0;  // OH, OW

  uint64_t input_elements() const { return uint64_t(batch) * in_height * in_width * in_channels; }
  uint64_t output_elements() const { return uint64_t(batch) * out_height * out_width * out_channels; }
  uint64_t filter_elements() const { return uint64_t(kernel_height) * kernel_width * in_channels * out_channels; }
  uint64_t output_pixels() const { return uint64_t(batch) * out_height * out_width; }  // N*OH*OW: rows of Y
  uint64_t filter_rows() const { return uint64_t(kernel_height) * kernel_width * in_channels; }  // KH*KW*Cin
  // 2 * N*OH*OW * Cout * KH*KW*Cin: one multiply-add per (output element, tap,
  // input channel), padding included. The same count for each backward form.
  double flops() const { return 2.0 * double(output_pixels()) * out_channels * double(filter_rows()); }
};

// e.g. "conv2d 3x3/2 64x32x32x3 -> 64x16x16x32".
std::string Conv2DDescription(const Conv2DGeometry& geometry);

enum class Conv2DPadding {
  kValid,     // no padding: OH = floor((H - KH) / sh) + 1
  kSame,      // OH = ceil(H / sh); the padding that needs, top gets the smaller half (Keras / TensorFlow;
              // for stride 1 that is (KH - 1) / 2 on top, as PyTorch's padding='same')
  kExplicit,  // pad_h zero rows above and below, pad_w columns left and right (PyTorch's padding=(pad_h, pad_w)):
              // OH = floor((H + 2 pad_h - KH) / sh) + 1
};

// `geometry` with pad_top, pad_left, out_height and out_width set from its
// input size, kernel and stride. Throws ts::Error, naming the sizes, when a
// size or stride is zero or the kernel does not fit the (padded) input.
Conv2DGeometry ResolveConv2DPadding(Conv2DGeometry geometry, Conv2DPadding padding, uint32_t pad_h = 0,
                                    uint32_t pad_w = 0);

// Forward kernel variants (both are in conv2d.comp).
enum class Conv2DVariant {
  kAuto,          // ChooseConv2DVariant's pick
  kImplicitGemm,  // matmul.comp's register-blocked kernel, rows of im2col(X) gathered on the fly
  kDirect,        // four taps at a time from a window of inputs along each output row; for few input channels
};

// "implicit GEMM (register-blocked)", "direct" ("automatic" for kAuto).
const char* Conv2DVariantName(Conv2DVariant variant);

// kDirect for inputs of 1 to 3 channels (grey or RGB images: the first
// layer), kImplicitGemm otherwise. Measured on lavapipe, where the direct
// kernel is 1.7-3x faster at those inputs and the GEMM faster from about 5
// channels up; the device is an argument for rules that will depend on it.
Conv2DVariant ChooseConv2DVariant(const vk::DeviceInfo& device, const Conv2DGeometry& geometry);

// How a dispatch splits its output matrix (see the shaders): a workgroup of
// group_cols x group_rows invocations, each computing rows_per_invocation
// rows by cols_per_invocation channels. Rows are output pixels (forward; for
// the direct kernel, consecutive pixels of one output row), input pixels
// (input gradient) or filter rows (filter gradient). Zero fields take the
// kernel's default, which suits lavapipe; tests and benchmarks set them.
struct Conv2DTiling {
  uint32_t group_cols = 0, group_rows = 0;
  uint32_t rows_per_invocation = 0, cols_per_invocation = 0;
  // Vec4 loads through the storage buffers even where the kernel would read
  // texel views (software drivers, see Vec4TexelReadsPay): tests both paths.
  bool storage_reads = false;
};

struct Conv2DArgs {
  TensorRef input;   // (N, H, W, Cin) read; fp32 or fp16
  TensorRef filter;  // (KH, KW, Cin, Cout) read; the input's precision (fp16: the weight copy)
  TensorRef output;  // (N, OH, OW, Cout) write; the input's precision
  Conv2DGeometry geometry;
};
// Y = conv(X, W). Cost: geometry.flops(); reads X and W once, writes Y once.
// Throws ts::Error on a precision mix other than those above.
vk::Dispatch Conv2DDispatch(vk::PipelineCache& pipelines, const Conv2DArgs& args,
                            Conv2DVariant variant = Conv2DVariant::kAuto, const Conv2DTiling& tiling = {});

struct Conv2DBackwardDataArgs {
  TensorRef grad_output;  // (N, OH, OW, Cout) read: dL/dY; fp32 or fp16
  TensorRef filter;       // (KH, KW, Cin, Cout) read; grad_output's precision (fp16: the weight copy)
  TensorRef grad_input;   // (N, H, W, Cin) write: dL/dX, every element (zero where no tap reaches);
                          // grad_output's precision
  Conv2DGeometry geometry;
};
// dX. Cost: geometry.flops(); reads dY and W once, writes dX once.
vk::Dispatch Conv2DBackwardDataDispatch(vk::PipelineCache& pipelines, const Conv2DBackwardDataArgs& args,
                                        const Conv2DTiling& tiling = {});

struct Conv2DBackwardFilterArgs {
  TensorRef input;        // (N, H, W, Cin) read: X from the forward pass; fp32 or fp16
  TensorRef grad_output;  // (N, OH, OW, Cout) read: dL/dY; the input's precision
  TensorRef grad_filter;  // (KH, KW, Cin, Cout) write: dL/dW (overwritten, not accumulated); always fp32
  Conv2DGeometry geometry;
};
// dW. Cost: geometry.flops(); reads X and dY once, writes dW once.
vk::Dispatch Conv2DBackwardFilterDispatch(vk::PipelineCache& pipelines, const Conv2DBackwardFilterArgs& args,
                                          const Conv2DTiling& tiling = {});

}  // namespace ts::kernels
