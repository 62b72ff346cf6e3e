// Reading whole files with a bound: only regular files (a device such as
// /dev/zero, a FIFO or a folder is refused by name), and never more bytes than
// the caller's limit, checked against the file's size before anything is read.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ts {

// Throws ts::Error naming `path` unless it is an existing regular file
// (symbolic links are followed). `what` says what the file should be, e.g.
// "a model file" ("/dev/zero: expected a model file, found a character device").
// Returns the file's size in bytes.
uint64_t RequireRegularFile(const std::string& path, std::string_view what);

// The whole file, at most `max_bytes` of it: a larger file throws ts::Error
// saying the size, the limit and `what` the file should be.
std::string ReadRegularFile(const std::string& path, uint64_t max_bytes, std::string_view what);

// "64 MiB", "300 bytes": a limit as messages write it (whole units when it has them).
std::string ByteSizeText(uint64_t bytes);

}  // namespace ts
