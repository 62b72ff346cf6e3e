#include "ui/format.h"

#include <cstdio>

namespace ts::ui {

std::string FormatCount(double value, int digits) {
  char text[32];
  if (value >= 1e9)
    std::snprintf(text, sizeof text, "%.*fG", digits, value / 1e9);
  else if (value >= 1e6)
    std::snprintf(text, sizeof text, "%.*fM", digits, value / 1e6);
  else if (value >= 1e4)
    std::snprintf(text, sizeof text, "%.1fK", value / 1e3);
  else
    std::snprintf(text, sizeof text, "%.0f", value);
  return text;
}

std::string FormatDuration(double seconds) {
  long total = static_cast<long>(seconds + 0.5);
  char text[32];
  if (total >= 3600)
    std::snprintf(text, sizeof text, "%ld:%02ld:%02ld", total / 3600, total / 60 % 60, total % 60);
  else
    std::snprintf(text, sizeof text, "%ld:%02ld", total / 60, total % 60);
  return text;
}

std::string Printf(const char* format, double value) {
  char text[64];
  std::snprintf(text, sizeof text, format, value);
  return text;
}

std::string Bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) bytes /= 1024, ++u;
  char text[32];
  std::snprintf(text, sizeof text, u == 0 ? "%.0f %s" : "%.2f %s", bytes, units[u]);
  return text;
}

}  // namespace ts::ui
