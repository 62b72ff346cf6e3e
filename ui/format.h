// Number formatting shared by the panels and widgets.
#pragma once

#include <string>

namespace ts::ui {

// A count with a metric suffix: "950", "12.5K", "3.25M", "1.10G" (`digits` after the point).
std::string FormatCount(double value, int digits = 2);

// A duration as "m:ss" (or "h:mm:ss" from an hour up).
std::string FormatDuration(double seconds);

// `value` through a printf `format` with one double ("%.1f GB/s").
std::string Printf(const char* format, double value);

// A size in bytes with a binary unit: "512 B", "1.50 KiB", "2.00 MiB".
std::string Bytes(double bytes);

}  // namespace ts::ui
