#include "compute/reference/conv.h"

#include <cassert>

namespace ts::reference {
namespace {

size_t InputElements(const Conv2DShape& s) { return size_t(s.batch) * s.in_height * s.in_width * s.in_channels; }
size_t OutputElements(const Conv2DShape& s) { return size_t(s.batch) * s.out_height * s.out_width * s.out_channels; }
size_t FilterElements(const Conv2DShape& s) {
  return size_t(s.kernel_height) * s.kernel_width * s.in_channels * s.out_channels;
}

// Calls visit(input_pixel, tap, output_pixel) for every (output pixel, tap)
// pair whose input position lies inside the image, with the flat indices of
// input pixel (n, ih, iw), tap (kh, kw) and output pixel (n, oh, ow); the
// callers loop over the channels.
template <typename Visit>
void ForEachTap(const Conv2DShape& s, Visit visit) {
  for (uint32_t n = 0; n < s.batch; ++n)
    for (uint32_t oh = 0; oh < s.out_height; ++oh)
      for (uint32_t ow = 0; ow < s.out_width; ++ow)
        for (uint32_t kh = 0; kh < s.kernel_height; ++kh) {
          int64_t ih = int64_t(oh) * s.stride_h - s.pad_top + kh;
          if (ih < 0 || ih >= s.in_height) continue;
          for (uint32_t kw = 0; kw < s.kernel_width; ++kw) {
            int64_t iw = int64_t(ow) * s.stride_w - s.pad_left + kw;
            if (iw < 0 || iw >= s.in_width) continue;
            size_t input_pixel = (size_t(n) * s.in_height + size_t(ih)) * s.in_width + size_t(iw);
            size_t tap = size_t(kh) * s.kernel_width + kw;
            size_t output_pixel = (size_t(n) * s.out_height + oh) * s.out_width + ow;
            visit(input_pixel, tap, output_pixel);
          }
        }
}

template <typename T>
std::vector<double> Forward(std::span<const T> x, std::span<const T> w, const Conv2DShape& s) {
  assert(x.size() >= InputElements(s) && w.size() >= FilterElements(s) && "reference conv2d: tensor too small");
  const size_t cin = s.in_channels, cout = s.out_channels;
  std::vector<double> y(OutputElements(s), 0.0);
  ForEachTap(s, [&](size_t input_pixel, size_t tap, size_t output_pixel) {
    for (size_t ci = 0; ci < cin; ++ci) {
      double xv = x[input_pixel * cin + ci];
      for (size_t co = 0; co < cout; ++co)
        y[output_pixel * cout + co] += xv * double(w[(tap * cin + ci) * cout + co]);
    }
  });
  return y;
}

template <typename T>
std::vector<double> BackwardData(std::span<const T> dy, std::span<const T> w, const Conv2DShape& s) {
  assert(dy.size() >= OutputElements(s) && w.size() >= FilterElements(s) && "reference conv2d: tensor too small");
  const size_t cin = s.in_channels, cout = s.out_channels;
  std::vector<double> dx(InputElements(s), 0.0);
  ForEachTap(s, [&](size_t input_pixel, size_t tap, size_t output_pixel) {
    for (size_t ci = 0; ci < cin; ++ci) {
      double sum = 0;
      for (size_t co = 0; co < cout; ++co)
        sum += double(dy[output_pixel * cout + co]) * double(w[(tap * cin + ci) * cout + co]);
      dx[input_pixel * cin + ci] += sum;
    }
  });
  return dx;
}

template <typename T>
std::vector<double> BackwardFilter(std::span<const T> x, std::span<const T> dy, const Conv2DShape& s) {
  assert(x.size() >= InputElements(s) && dy.size() >= OutputElements(s) && "reference conv2d: tensor too small");
  const size_t cin = s.in_channels, cout = s.out_channels;
  std::vector<double> dw(FilterElements(s), 0.0);
  ForEachTap(s, [&](size_t input_pixel, size_t tap, size_t output_pixel) {
    for (size_t ci = 0; ci < cin; ++ci) {
      double xv = x[input_pixel * cin + ci];
      for (size_t co = 0; co < cout; ++co)
        dw[(tap * cin + ci) * cout + co] += xv * double(dy[output_pixel * cout + co]);
    }
  });
  return dw;
}

}  // namespace

std::vector<double> Conv2DForward(std::span<const float> input, std::span<const float> filter,
                                  const Conv2DShape& shape) {
  return Forward(input, filter, shape);
}
std::vector<double> Conv2DForward(std::span<const double> input, std::span<const double> filter,
                                  const Conv2DShape& shape) {
  return Forward(input, filter, shape);
}

std::vector<double> Conv2DBackwardData(std::span<const float> grad_output, std::span<const float> filter,
                                       const Conv2DShape& shape) {
  return BackwardData(grad_output, filter, shape);
}
std::vector<double> Conv2DBackwardData(std::span<const double> grad_output, std::span<const double> filter,
                                       const Conv2DShape& shape) {
  return BackwardData(grad_output, filter, shape);
}

std::vector<double> Conv2DBackwardFilter(std::span<const float> input, std::span<const float> grad_output,
                                         const Conv2DShape& shape) {
  return BackwardFilter(input, grad_output, shape);
}
std::vector<double> Conv2DBackwardFilter(std::span<const double> input, std::span<const double> grad_output,
                                         const Conv2DShape& shape) {
  return BackwardFilter(input, grad_output, shape);
}

}  // namespace ts::reference
