// Saving files so that a crash, a kill -9 or a full disk never leaves a
// half-written file under the real name, and two processes saving the same
// file (two windows autosaving) never mix their bytes.
#pragma once

#include <string>

namespace ts {

// Writes `bytes` to `path` atomically: a temporary file beside it (see
// TemporaryNameFor), written, flushed to disk, then renamed over `path`, so
// `path` always holds either the previous file or the new one, whole. Then
// removes the temporaries that killed saves of `path` left behind. Throws
// ts::Error naming the path when it cannot write; the previous file is untouched.
void WriteFileAtomically(const std::string& path, const std::string& bytes);

// The temporary a save of `path` writes first: hidden, beside `path`, named
// after the saving process and ending in ".tmp", so it is never mistaken for a
// save: ".NAME.PID-N.tmp" (NAME cut to 200 bytes, N counts this process's saves).
std::string TemporaryNameFor(const std::string& path, unsigned long long save_number);

// Removes the temporaries of saves of `path` whose process no longer runs (a
// save killed before its rename); another live process's save in progress is
// left alone. Best effort: a file that cannot be removed stays. Returns how
// many were removed. WriteFileAtomically calls it after every save; the app
// also calls it before it reads its autosave.
int RemoveLeftoverTemporaries(const std::string& path);

// Refuses a destination before any work is done for it: its folder missing or
// not writable, or the path a folder. Throws ts::Error "LABEL PATH: why"
// (LABEL: the flag or field that named it, e.g. "--metrics-csv").
void CheckOutputDestination(const std::string& label, const std::string& path);

}  // namespace ts
