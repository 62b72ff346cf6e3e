#include "compute/common/file_write.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <system_error>

#include "compute/common/error.h"

namespace ts {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxNameInTemporary = 200;  // the temporary's name stays under NAME_MAX (255)
constexpr std::string_view kTemporarySuffix = ".tmp";

std::atomic<unsigned long long> next_save_number{0};

std::string TemporaryPrefix(const fs::path& path) {
  return "." + path.filename().string().substr(0, kMaxNameInTemporary) + ".";
}

bool AllDigits(std::string_view text) {
  return !text.empty() && text.size() <= 19 && text.find_first_not_of("0123456789") == std::string_view::npos;
}

// The saving process of a temporary named by TemporaryNameFor for a file whose
// temporaries start with `prefix`; 0 when `name` is not one.
pid_t SaverOf(std::string_view name, std::string_view prefix) {
  if (!name.starts_with(prefix) || !name.ends_with(kTemporarySuffix)) return 0;
  std::string_view middle = name.substr(prefix.size(), name.size() - prefix.size() - kTemporarySuffix.size());
  const size_t dash = middle.find('-');
  if (dash == std::string_view::npos || !AllDigits(middle.substr(0, dash)) || !AllDigits(middle.substr(dash + 1)))
    return 0;
  const unsigned long long pid = std::stoull(std::string(middle.substr(0, dash)));
  return pid > 0 && pid <= 0x7fffffff ? static_cast<pid_t>(pid) : 0;
}

bool ProcessRuns(pid_t pid) {
  // EPERM: it runs under another user.
  return pid == getpid() || kill(pid, 0) == 0 || errno != ESRCH;
}

bool WriteAll(int descriptor, const std::string& bytes) {
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = write(descriptor, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    written += static_cast<size_t>(n);
  }
  return true;
}

// The rename is on disk too once the folder is synced (a power cut, not a kill, needs it).
void SyncFolder(const fs::path& folder) {
  const int descriptor = open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (descriptor < 0) return;
  fsync(descriptor);
  close(descriptor);
}

}  // namespace

std::string TemporaryNameFor(const std::string& path, unsigned long long save_number) {
  const fs::path target(path);
  return (target.parent_path() / (TemporaryPrefix(target) + std::to_string(getpid()) + "-" +
                                  std::to_string(save_number) + std::string(kTemporarySuffix)))
      .string();
}

int RemoveLeftoverTemporaries(const std::string& path) {
  const fs::path target(path);
  const fs::path folder = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  const std::string prefix = TemporaryPrefix(target);
  int removed = 0;
  std::error_code error;
  for (fs::directory_iterator it(folder, error), end; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    const pid_t saver = SaverOf(name, prefix);
    if (saver == 0 || ProcessRuns(saver)) continue;
    std::error_code ignored;
    if (fs::remove(it->path(), ignored)) ++removed;
  }
  return removed;
}

void WriteFileAtomically(const std::string& path, const std::string& bytes) {
  const std::string temporary = TemporaryNameFor(path, next_save_number++);
  // O_EXCL: the name is this process's alone; one left by an earlier process
  // that had the same id (it no longer runs, it was this one's) is replaced.
  int descriptor = open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (descriptor < 0 && errno == EEXIST && unlink(temporary.c_str()) == 0)
    descriptor = open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (descriptor < 0)
    throw Error(path + ": cannot write (could not create " + temporary + ": " + std::strerror(errno) + ").");
  int failure = 0;
  errno = 0;
  if (!WriteAll(descriptor, bytes)) failure = errno ? errno : EIO;
  if (fsync(descriptor) != 0 && !failure) failure = errno;  // on disk before the rename makes it visible
  if (close(descriptor) != 0 && !failure) failure = errno;
  if (failure) {
    unlink(temporary.c_str());
    throw Error(path + ": writing failed (" + std::strerror(failure) + "); the previous file is untouched.");
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    const int rename_error = errno;
    unlink(temporary.c_str());
    throw Error(path + ": could not replace the file (" + std::strerror(rename_error) + ").");
  }
  SyncFolder(fs::path(path).parent_path());
  RemoveLeftoverTemporaries(path);
}

void CheckOutputDestination(const std::string& label, const std::string& path) {
  std::error_code error;
  const std::filesystem::path folder = std::filesystem::path(path).parent_path().empty()
                                           ? std::filesystem::path(".")
                                           : std::filesystem::path(path).parent_path();
  if (!std::filesystem::is_directory(folder, error))
    throw Error(label + " " + path + ": the folder " + folder.string() + " does not exist; create it first.");
  if (access(folder.c_str(), W_OK) != 0)
    throw Error(label + " " + path + ": cannot write into the folder " + folder.string() + " (permission denied).");
  if (std::filesystem::is_directory(path, error)) throw Error(label + " " + path + ": is a folder; name a file.");
}

}  // namespace ts
