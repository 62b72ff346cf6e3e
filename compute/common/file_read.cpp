#include "compute/common/file_read.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "compute/common/error.h"

namespace ts {
namespace {

std::string KindOf(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a pipe (FIFO)";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

}  // namespace

std::string ByteSizeText(uint64_t bytes) {
  for (auto [shift, unit] : {std::pair{40, "TiB"}, {30, "GiB"}, {20, "MiB"}, {10, "KiB"}})
    if (bytes >= (uint64_t{1} << shift) && bytes % (uint64_t{1} << shift) == 0)
      return std::to_string(bytes >> shift) + " " + unit;
  return std::to_string(bytes) + (bytes == 1 ? " byte" : " bytes");
}

uint64_t RequireRegularFile(const std::string& path, std::string_view what) {
  struct stat status {};
  if (stat(path.c_str(), &status) != 0) {
    const int error = errno;
    throw Error(path + ": cannot open the file (" +
                (error == ENOENT ? std::string("it does not exist") : std::string(std::strerror(error))) + ").");
  }
  if (!S_ISREG(status.st_mode))
    throw Error(path + ": expected " + std::string(what) + ", found " + KindOf(status.st_mode) + ".");
  return static_cast<uint64_t>(status.st_size);
}

std::string ReadRegularFile(const std::string& path, uint64_t max_bytes, std::string_view what) {
  const uint64_t size = RequireRegularFile(path, what);
  if (size > max_bytes)
    throw Error(path + ": the file is " + std::to_string(size) + " bytes; " + std::string(what) + " may be at most " +
                ByteSizeText(max_bytes) + ".");
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) throw Error(path + ": cannot open the file (" + std::strerror(errno) + ").");
  std::string bytes(size, '\0');
  const size_t got = std::fread(bytes.data(), 1, bytes.size(), file.get());
  if (std::ferror(file.get())) throw Error(path + ": cannot read the file (" + std::strerror(errno) + ").");
  // The file may have shrunk since stat; one more byte means it grew.
  if (got != size || std::fgetc(file.get()) != EOF)
    throw Error(path + ": the file changed size while it was read (" + std::to_string(size) + " bytes, then " +
                (got != size ? std::to_string(got) : "more") + "); read it again once it is written.");
  return bytes;
}

}  // namespace ts
