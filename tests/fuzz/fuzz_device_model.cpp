// The user's device-model corrections (device_model.json, compute/profile/occupancy.h):
// any bytes load or are refused with ts::Error; what loads is written back and read again.
#include "compute/profile/occupancy.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ts::fuzz::Expect([&] {
    const auto rows = ts::profile::LoadDeviceModelOverrides(ts::fuzz::WriteScratch("device_model.json", data, size));
    const std::string again = ts::fuzz::ScratchPath("again/device_model.json");
    ts::profile::SaveDeviceModelOverrides(again, rows);
    ts::profile::LoadDeviceModelOverrides(again);
  });
  return 0;
}
