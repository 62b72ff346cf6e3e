// Project files (ui/project.h): ParseProject on any bytes, and the JSON round trip.
#include "fuzz_support.h"
#include "ui/project.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ts::fuzz::Expect([&] {
    const ts::ui::Project project =
        ts::ui::ParseProject(std::string(reinterpret_cast<const char*>(data), size), "fuzz.tsproj.json");
    ts::ui::ParseProject(ts::DumpJson(ts::ui::ProjectToJson(project), "x", 2), "again.tsproj.json");
  });
  return 0;
}
