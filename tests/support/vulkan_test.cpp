#include "support/vulkan_test.h"

#include <cmath>
#include <limits>
#include <memory>

namespace ts::testing {
namespace {

std::mutex g_messages_mutex;
std::vector<std::string> g_messages;

struct Shared {
  std::unique_ptr<vk::Context> context;
  std::unique_ptr<vk::PipelineCache> pipelines;
};

Shared& GetShared() {
  static Shared shared = [] {
    Shared s;
    vk::ContextOptions options;
    options.validation = true;
    options.on_validation_message = [](const std::string& message) {
      std::lock_guard<std::mutex> lock(g_messages_mutex);
      g_messages.push_back(message);
    };
    s.context = vk::Context::Create(options);
    s.pipelines = std::make_unique<vk::PipelineCache>(*s.context);
    return s;
  }();
  return shared;
}

}  // namespace

vk::Context& TestContext() { return *GetShared().context; }
vk::PipelineCache& TestPipelines() { return *GetShared().pipelines; }

std::vector<std::string> ValidationMessages() {
  std::lock_guard<std::mutex> lock(g_messages_mutex);
  return g_messages;
}

void VulkanTest::SetUp() { messages_at_start_ = ValidationMessages().size(); }

void VulkanTest::TearDown() {
  std::vector<std::string> messages = ValidationMessages();
  for (size_t i = messages_at_start_; i < messages.size(); ++i) ADD_FAILURE() << messages[i];
}

vk::Buffer VulkanTest::MakePoisonedBuffer(size_t count, const std::string& name) {
  return MakeBuffer(std::vector<float>(count, std::numeric_limits<float>::quiet_NaN()), name);
}

std::vector<double> VulkanTest::Run(std::vector<vk::Dispatch> dispatches) {
  vk::Sequence sequence(context(), std::move(dispatches));
  context().RunOnce([&](VkCommandBuffer cb) {
    sequence.Record(cb);
    vk::RecordComputeToHostBarrier(cb);
  });
  return sequence.ReadDispatchTimesNs();
}

std::mt19937_64 MakeRng(uint64_t salt) {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "no test";
  return std::mt19937_64(std::hash<std::string>{}(name) ^ (salt * 0x9E3779B97F4A7C15ull));
}

std::vector<float> RandomFloats(std::mt19937_64& rng, size_t count, float low, float high) {
  std::vector<float> values(count);
  for (float& v : values) v = low + (high - low) * float(double(rng() >> 11) * 0x1.0p-53);
  return values;
}

}  // namespace ts::testing
