// Impossible CNN models: conv / pool / dropout / dense / batch-norm settings
// that cannot work give a ts::Error naming the layer, what it expected and
// what it found, whether the model comes from JSON or is built in code.
#include <gtest/gtest.h>

#include <string>

#include "compute/common/error.h"
#include "compute/nn/model.h"
#include "compute/nn/plan.h"
#include "support/vulkan_test.h"

namespace ts {
namespace {

using testing::VulkanTest;

#define EXPECT_CONTAINS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

nn::ModelDesc Model(const std::string& name, const std::string& layers) {
  return nn::ParseModel(R"({"format": "tensorscope-model", "version": 1, "name": ")" + name +
                            R"(", "layers": )" + layers + "}",
                        name);
}

// ---------------------------------------------------------------------------
// Impossible CNN models
// ---------------------------------------------------------------------------

class CnnModelErrorTest : public VulkanTest {
 protected:
  // The ts::Error message parsing `layers` gives ("" if none).
  static std::string ParseError(const std::string& layers) {
    try {
      nn::ParseModel(R"({"name": "bad", "layers": )" + layers + "}", "bad.json");
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
};

TEST_F(CnnModelErrorTest, KernelLargerThanTheImage) {
  std::string message = ParseError(R"([{"type": "input", "shape": [1, 4, 4]},
    {"type": "conv2d", "filters": 2, "kernel": 5}, {"type": "flatten"}, {"type": "dense", "units": 2},
    {"type": "softmax"}])");
  EXPECT_CONTAINS(message, "bad.json");
  EXPECT_CONTAINS(message, "conv2d_1");
  EXPECT_CONTAINS(message, "5x5");
  EXPECT_CONTAINS(message, "1x4x4");
  EXPECT_CONTAINS(message, "does not fit");
  // Deeper in: the second conv meets the pooled 2x3x3 image; only its width is too small.
  message = ParseError(R"([{"type": "input", "shape": [1, 8, 8]},
    {"type": "conv2d", "filters": 2, "kernel": 3}, {"type": "max_pool2d", "size": 2},
    {"type": "conv2d", "filters": 2, "kernel": [2, 4], "name": "too_wide"}, {"type": "flatten"},
    {"type": "dense", "units": 2}, {"type": "softmax"}])");
  EXPECT_CONTAINS(message, "too_wide");
  EXPECT_CONTAINS(message, "2x3x3");
  EXPECT_CONTAINS(message, "kernel width 4 does not fit the input width 3");
  // Padding can make it fit (PyTorch agrees: 4 + 2 * 1 >= 5).
  EXPECT_EQ(ParseError(R"([{"type": "input", "shape": [1, 4, 4]},
    {"type": "conv2d", "filters": 2, "kernel": 5, "padding": 1}, {"type": "flatten"},
    {"type": "dense", "units": 2}, {"type": "softmax"}])"), "");
}

TEST_F(CnnModelErrorTest, ConvOrPoolAfterFlatten) {
  std::string message = ParseError(R"([{"type": "input", "shape": [1, 8, 8]}, {"type": "flatten"},
    {"type": "conv2d", "filters": 4, "kernel": 3}, {"type": "flatten"}, {"type": "dense", "units": 2},
    {"type": "softmax"}])");
  EXPECT_CONTAINS(message, "layers[2] (conv2d 'conv2d_1') expects an image (channels x height x width)");
  EXPECT_CONTAINS(message, "layers[1] (flatten 'flatten_1') produces 64");
  message = ParseError(R"([{"type": "input", "shape": [1, 8, 8]}, {"type": "flatten"},
    {"type": "avg_pool2d", "size": 2}, {"type": "dense", "units": 2}, {"type": "softmax"}])");
  EXPECT_CONTAINS(message, "layers[2] (avg_pool2d 'avg_pool2d_1') expects an image");
  EXPECT_CONTAINS(message, "produces 64");
  message = ParseError(R"([{"type": "input", "shape": [16]}, {"type": "global_avg_pool"},
    {"type": "dense", "units": 2}, {"type": "softmax"}])");
  EXPECT_CONTAINS(message, "layers[1] (global_avg_pool 'global_avg_pool_1') expects an image");
  // An image shape without its channel dimension.
  message = ParseError(R"([{"type": "input", "shape": [28, 28]}, {"type": "conv2d", "filters": 4, "kernel": 3},
    {"type": "flatten"}, {"type": "dense", "units": 2}, {"type": "softmax"}])");
  EXPECT_CONTAINS(message, "layers[1] (conv2d 'conv2d_1') expects an image");
  EXPECT_CONTAINS(message, "produces 28x28");
}

// BUG (compute/nn/model.cpp, InferShapes, case kConv2D): whenever a conv2d
// gets a vector, the message ends "Give the input layer an image shape such
// as [1, 28, 28]." That is the right advice only when the vector is the input
// layer's own shape. After a flatten (or a dense or global_avg_pool) the input
// layer already is an image, and changing it would not help: the message
// should point at the layer before the conv instead. This test fails until
// the advice depends on where the vector comes from.
TEST_F(CnnModelErrorTest, ConvAfterFlattenDoesNotBlameTheImageInputLayer) {
  std::string message = ParseError(R"([{"type": "input", "shape": [1, 8, 8]}, {"type": "flatten"},
    {"type": "conv2d", "filters": 4, "kernel": 3}, {"type": "flatten"}, {"type": "dense", "units": 2},
    {"type": "softmax"}])");
  EXPECT_CONTAINS(message, "layers[1] (flatten 'flatten_1') produces 64");
  EXPECT_EQ(message.find("Give the input layer an image shape"), std::string::npos)
      << "the input layer is already 1x8x8; the flatten before the conv is the problem:\n" << message;
  // When the input layer itself is a vector, that advice is right and stays.
  EXPECT_CONTAINS(ParseError(R"([{"type": "input", "shape": [64]}, {"type": "conv2d", "filters": 4, "kernel": 3},
    {"type": "flatten"}, {"type": "dense", "units": 2}, {"type": "softmax"}])"),
                  "Give the input layer an image shape such as [1, 28, 28].");
}

TEST_F(CnnModelErrorTest, PoolWindowLargerThanTheInput) {
  std::string message = ParseError(R"([{"type": "input", "shape": [2, 3, 3]}, {"type": "max_pool2d", "size": 4},
    {"type": "flatten"}, {"type": "dense", "units": 2}, {"type": "softmax"}])");
  EXPECT_CONTAINS(message, "layers[1] (max_pool2d 'max_pool2d_1') cannot pool a 2x3x3 input");
  EXPECT_CONTAINS(message, "window (4 x 4) is larger than the padded input (3 x 3)");
  // After a conv has shrunk the image: 1x6x6 -> conv 5 -> 4x2x2, then a 3x1 window.
  message = ParseError(R"([{"type": "input", "shape": [1, 6, 6]}, {"type": "conv2d", "filters": 4, "kernel": 5},
    {"type": "relu"}, {"type": "avg_pool2d", "size": [3, 1], "name": "pool"}, {"type": "flatten"},
    {"type": "dense", "units": 2}, {"type": "softmax"}])");
  EXPECT_CONTAINS(message, "layers[3] (avg_pool2d 'pool') cannot pool a 4x2x2 input");
  // Padding as large as the window would make windows of padding only.
  message = ParseError(R"([{"type": "input", "shape": [1, 6, 6]}, {"type": "max_pool2d", "size": 2, "padding": 2},
    {"type": "flatten"}, {"type": "dense", "units": 2}, {"type": "softmax"}])");
  EXPECT_CONTAINS(message, "layers[1] (max_pool2d 'max_pool2d_1')");
  EXPECT_CONTAINS(message, "padding must be smaller than the window");
}

TEST_F(CnnModelErrorTest, DropoutRateOutsideZeroToOne) {
  for (const char* rate : {"1", "1.5", "-0.1"}) {
    SCOPED_TRACE(rate);
    std::string message = ParseError(std::string(R"([{"type": "input", "shape": [1, 8, 8]},
      {"type": "conv2d", "filters": 2, "kernel": 3}, {"type": "relu"}, {"type": "dropout", "rate": )") + rate +
                                     R"(}, {"type": "flatten"}, {"type": "dense", "units": 2}, {"type": "softmax"}])");
    EXPECT_CONTAINS(message, "bad.json: layers[3].rate: expected a drop probability in [0, 1)");
  }
  EXPECT_CONTAINS(ParseError(R"([{"type": "input", "shape": [4]}, {"type": "dropout", "rate": "half"},
    {"type": "dense", "units": 2}, {"type": "softmax"}])"), "layers[1].rate: expected a number, found string");
}

TEST_F(CnnModelErrorTest, DenseOrLossAfterAnImageWithoutFlatten) {
  std::string message = ParseError(R"([{"type": "input", "shape": [1, 8, 8]},
    {"type": "conv2d", "filters": 4, "kernel": 3}, {"type": "relu"}, {"type": "max_pool2d", "size": 2},
    {"type": "dense", "units": 10}, {"type": "softmax"}])");
  EXPECT_CONTAINS(message, "layers[4] (dense 'dense_1') expects a vector input");
  EXPECT_CONTAINS(message, "layers[3] (max_pool2d 'max_pool2d_1') produces 4x3x3");
  EXPECT_CONTAINS(message, "Add a flatten layer before it.");
  message = ParseError(R"([{"type": "input", "shape": [1, 8, 8]}, {"type": "conv2d", "filters": 4, "kernel": 3},
    {"type": "softmax"}])");
  EXPECT_CONTAINS(message, "layers[2] (softmax_cross_entropy 'softmax_cross_entropy_1') expects a vector of scores");
  EXPECT_CONTAINS(message, "produces 4x6x6");
  EXPECT_CONTAINS(message, "Add a flatten and a dense layer before it.");
}

TEST_F(CnnModelErrorTest, ZeroSizedOrMalformedConvAndPoolSettings) {
  EXPECT_CONTAINS(ParseError(R"([{"type": "input", "shape": [1, 8, 8]},
    {"type": "conv2d", "filters": 4, "kernel": 3, "stride": 0}, {"type": "flatten"}, {"type": "dense", "units": 2},
    {"type": "softmax"}])"), "layers[1].stride: expected a positive integer, found number 0");
  EXPECT_CONTAINS(ParseError(R"([{"type": "input", "shape": [1, 8, 8]},
    {"type": "conv2d", "filters": 0, "kernel": 3}, {"type": "flatten"}, {"type": "dense", "units": 2},
    {"type": "softmax"}])"), "layers[1].filters: expected a positive integer, found number 0");
  EXPECT_CONTAINS(ParseError(R"([{"type": "input", "shape": [1, 8, 8]},
    {"type": "conv2d", "filters": 4, "kernel": [3, 0]}, {"type": "flatten"}, {"type": "dense", "units": 2},
    {"type": "softmax"}])"), "layers[1].kernel[1]: expected a positive integer, found number 0");
  EXPECT_CONTAINS(ParseError(R"([{"type": "input", "shape": [1, 8, 8]},
    {"type": "conv2d", "filters": 4, "kernel": 3, "padding": "full"}, {"type": "flatten"},
    {"type": "dense", "units": 2}, {"type": "softmax"}])"), "layers[1].padding: expected 'valid', 'same' or a number");
  EXPECT_CONTAINS(ParseError(R"([{"type": "input", "shape": [1, 8, 8]}, {"type": "max_pool2d"},
    {"type": "flatten"}, {"type": "dense", "units": 2}, {"type": "softmax"}])"), "the field 'size' is missing");
  EXPECT_CONTAINS(ParseError(R"([{"type": "input", "shape": [4, 5]}, {"type": "batch_norm"},
    {"type": "flatten"}, {"type": "dense", "units": 2}, {"type": "softmax"}])"),
                  "layers[1] (batch_norm 'batch_norm_1') normalises features (a vector) or channels (an image)");
}

// A model built in code (as the model editor does) is checked by InferShapes,
// and Plan::Compile refuses it with the same message before touching the device.
TEST_F(CnnModelErrorTest, InferShapesAndCompileNameTheLayerOfAModelBuiltInCode) {
  nn::ModelDesc model = Model("ok", R"([{"type": "input", "shape": [1, 8, 8]},
    {"type": "conv2d", "filters": 4, "kernel": 3}, {"type": "relu"}, {"type": "flatten"},
    {"type": "dense", "units": 3}, {"type": "softmax"}])");
  model.layers[1].kernel = {9, 3};
  std::string message;
  try {
    nn::InferShapes(model);
  } catch (const Error& e) {
    message = e.what();
  }
  EXPECT_CONTAINS(message, "conv2d_1");
  EXPECT_CONTAINS(message, "kernel height 9 does not fit the input height 8");
  nn::PlanOptions options;
  options.batch = 4;
  try {
    nn::Plan::Compile(context(), pipelines(), model, options);
    ADD_FAILURE() << "Plan::Compile accepted a 9x3 kernel on an 8x8 image";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), message);
  }
  model.layers[1].kernel = {3, 3};
  model.layers.erase(model.layers.begin() + 3);  // the flatten
  message.clear();
  try {
    nn::InferShapes(model);
  } catch (const Error& e) {
    message = e.what();
  }
  EXPECT_CONTAINS(message, "layers[3] (dense 'dense_1') expects a vector input, but layers[2] (relu 'relu_1') "
                           "produces 4x6x6. Add a flatten layer before it.");
}

}  // namespace
}  // namespace ts
