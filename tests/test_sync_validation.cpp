// Synchronization: what each dispatch declares it reads and writes is what
// its shader's code does (the Sequence derives its barriers from the
// declarations, synchronization validation checks the code), absent tensors
// bind scratch rather than a placeholder view of a real one, and
// synchronization validation is on wherever validation is.
#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "compute/common/error.h"
#include "compute/kernels/activation.h"
#include "compute/kernels/copy.h"
#include "compute/vk/shader_registry.h"
#include "support/vulkan_test.h"

namespace ts {
namespace {

using testing::VulkanTest;

// (A binding past the last the code uses is dropped by the compiler: neither.)
vk::BindingUse UseOf(const std::string& shader_name, uint32_t binding) {
  const vk::EmbeddedShader& shader = vk::FindEmbeddedShader(shader_name);
  vk::ShaderInterface reflected = vk::ReflectShader(shader.words, shader.word_count);
  return binding < reflected.uses.size() ? reflected.uses[binding] : vk::BindingUse{};
}

constexpr vk::BindingUse kReads{true, false}, kWrites{false, true}, kReadsAndWrites{true, true}, kNeither{};

TEST(BindingUses, ReflectionFindsWhatTheCodeReadsAndWrites) {
  EXPECT_EQ(UseOf("copy", 0), kReads);
  EXPECT_EQ(UseOf("copy", 1), kWrites);
  // Written only when a push constant says so, but written by the code.
  EXPECT_EQ(UseOf("bias_act_back", 3), kWrites);
  // Texel reads count as reads.
  EXPECT_EQ(UseOf("bias_act_back_vec4_texel", 0), kReads);
  // A build per batchnorm phase: each touches only what the phase does.
  EXPECT_EQ(UseOf("batchnorm_evaluation", 3), kReads);         // running mean
  EXPECT_EQ(UseOf("batchnorm_evaluation", 5), kNeither);       // saved mean
  EXPECT_EQ(UseOf("batchnorm_evaluation", 8), kNeither);       // workspace
  EXPECT_EQ(UseOf("batchnorm_statistics", 8), kWrites);
  EXPECT_EQ(UseOf("batchnorm_statistics_vec4", 7), kNeither);  // y
  EXPECT_EQ(UseOf("batchnorm_normalize", 3), kReadsAndWrites);
  EXPECT_EQ(UseOf("batchnorm_normalize", 8), kReads);
  EXPECT_EQ(UseOf("batchnorm_back_sums", 8), kWrites);
  EXPECT_EQ(UseOf("batchnorm_back_sums", 5), kNeither);        // grad_x
  EXPECT_EQ(UseOf("batchnorm_back_apply_vec4", 8), kReads);
}

TEST(BindingUses, TracedBuildsReadAndWriteWhatTheirShadersDo) {
  for (const vk::EmbeddedShader& shader : vk::EmbeddedShaders()) {
    std::string name = shader.name;
    if (name.ends_with("__trace")) continue;
    const vk::EmbeddedShader& trace = vk::FindEmbeddedShader(name + "__trace");
    EXPECT_EQ(vk::ReflectShader(shader.words, shader.word_count).uses,
              vk::ReflectShader(trace.words, trace.word_count).uses)
        << name;
  }
}

TEST_F(VulkanTest, SequenceRefusesADeclaredAccessTheCodeDoesNotMake) {
  vk::Buffer a = MakeBuffer(std::vector<float>(64, 1.0f), "source tensor");
  vk::Buffer b = MakePoisonedBuffer(64, "destination tensor");
  vk::Dispatch copy = kernels::CopyDispatch(pipelines(), kernels::WholeBuffer(a), kernels::WholeBuffer(b));

  vk::Dispatch reads_its_output = copy;  // a placeholder-style read-only view of a written binding
  reads_its_output.bindings[1].access = vk::Access::kRead;
  try {
    vk::Sequence sequence(context(), {reads_its_output});
    FAIL() << "a read-only declaration of a binding the shader writes was accepted";
  } catch (const Error& e) {
    std::string message = e.what();
    EXPECT_NE(message.find("binding 1"), std::string::npos) << message;
    EXPECT_NE(message.find("destination tensor"), std::string::npos) << message;
    EXPECT_NE(message.find("'copy' writes it"), std::string::npos) << message;
  }

  vk::Dispatch writes_its_input = copy;  // would add barriers for a write that never happens
  writes_its_input.bindings[0].access = vk::Access::kReadWrite;
  try {
    vk::Sequence sequence(context(), {writes_its_input});
    FAIL() << "a write declaration of a binding the shader only reads was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("only reads it"), std::string::npos) << e.what();
  }
}

// Two bias-free, identity forwards on separate tensors: their absent bias
// and output bindings (which the code can read and write) get scratch
// regions of their own, so the dispatches stay independent (no barrier), and
// the shader's writes land where nothing reads.
TEST_F(VulkanTest, UnusedBindingsGetTheirOwnScratchAndNoBarrier) {
  const uint32_t rows = 8, cols = 16;
  std::vector<float> values(rows * cols);
  for (size_t i = 0; i < values.size(); ++i) values[i] = float(i) - 40.0f;
  vk::Buffer first = MakeBuffer(values, "first pre"), second = MakeBuffer(values, "second pre");
  auto forward = [&](const vk::Buffer& pre) {
    kernels::BiasActivationArgs args;
    args.pre = kernels::WholeBuffer(pre);
    args.rows = rows, args.cols = cols;
    args.activation = kernels::Activation::kIdentity;
    return kernels::BiasActivationDispatch(pipelines(), args);
  };
  vk::Sequence sequence(context(), {forward(first), forward(second)});
  EXPECT_EQ(sequence.barriers_per_slot(), 0u);
  std::vector<std::pair<const vk::Buffer*, uint64_t>> scratch;
  for (const vk::Dispatch& d : sequence.dispatches())
    for (const vk::Binding& binding : d.bindings)
      if (binding.unused) {
        ASSERT_NE(binding.buffer, nullptr);
        scratch.emplace_back(binding.buffer, binding.offset);
      }
  ASSERT_GE(scratch.size(), 4u);  // bias and out (and the texel build's write-back of pre), twice
  for (size_t i = 0; i < scratch.size(); ++i)
    for (size_t j = i + 1; j < scratch.size(); ++j) EXPECT_NE(scratch[i], scratch[j]);
  context().RunOnce([&](VkCommandBuffer cb) {
    sequence.Record(cb);
    vk::RecordComputeToHostBarrier(cb);
  });
  EXPECT_EQ(Read<float>(first, values.size()), values);
  EXPECT_EQ(Read<float>(second, values.size()), values);
}

// The layer's synchronization validation is on in a validating context: a
// dispatch that reads what a transfer just wrote, with no barrier from the
// transfer, is reported; with the barrier it is not. (Its own context, so
// the expected report does not fail the shared one's tests.)
TEST(SynchronizationValidation, IsOnWhereValidationIsAndReportsAMissingBarrier) {
  std::vector<std::string> messages;
  std::mutex mutex;
  vk::ContextOptions options;
  options.validation = true;
  options.on_validation_message = [&](const std::string& message) {
    std::lock_guard<std::mutex> lock(mutex);
    messages.push_back(message);
  };
  std::unique_ptr<vk::Context> context = vk::Context::Create(options);
  vk::PipelineCache pipelines(*context);
  vk::Buffer src(*context, 256, "filled tensor"), dst(*context, 256, "copied tensor");
  vk::Sequence copy(*context, {kernels::CopyDispatch(pipelines, kernels::WholeBuffer(src), kernels::WholeBuffer(dst))});

  context->RunOnce([&](VkCommandBuffer cb) {
    vkCmdFillBuffer(cb, src.handle(), 0, VK_WHOLE_SIZE, 0);
    vk::RecordTransferToComputeBarrier(cb);
    copy.Record(cb);
  });
  {
    std::lock_guard<std::mutex> lock(mutex);
    EXPECT_TRUE(messages.empty()) << messages.front();
    messages.clear();
  }

  context->RunOnce([&](VkCommandBuffer cb) {
    vkCmdFillBuffer(cb, src.handle(), 0, VK_WHOLE_SIZE, 0);
    copy.Record(cb);  // its leading barrier orders earlier compute work, not transfers
  });
  std::lock_guard<std::mutex> lock(mutex);
  ASSERT_FALSE(messages.empty()) << "a read after an unordered transfer write went unreported";
  EXPECT_NE(messages.front().find("SYNC-HAZARD-READ-AFTER-WRITE"), std::string::npos) << messages.front();
  EXPECT_NE(messages.front().find("filled tensor"), std::string::npos) << messages.front();  // objects are named
}

}  // namespace
}  // namespace ts
