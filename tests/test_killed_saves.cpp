// kill -9 during saves: a child process saves one file over and over, two
// contents in turn, and is killed at random moments. After every kill the file
// must be one of the two contents, whole, and load; a temporary the killed
// save left must never be the file, and the next save (or the app's start, for
// the autosave) removes it. For project files (Save), the autosave and
// checkpoints, all written by ts::WriteFileAtomically.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "compute/common/file_write.h"
#include "compute/nn/checkpoint.h"
#include "compute/nn/model.h"
#include "compute/nn/train_config.h"
#include "support/temp_files.h"
#include "ui/app_state.h"
#include "ui/project.h"

namespace ts {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kKills = 40;

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The names in `folder` that are not in `keep`: what saves left behind.
std::vector<std::string> OtherFiles(const fs::path& folder, const std::vector<std::string>& keep) {
  std::vector<std::string> others;
  for (const auto& entry : fs::directory_iterator(folder)) {
    const std::string name = entry.path().filename().string();
    if (std::find(keep.begin(), keep.end(), name) == keep.end()) others.push_back(name);
  }
  return others;
}

// A process that runs `save(0)`, `save(1)`, `save(0)`, ... until it is killed
// (or for 60 s at most, or until a save throws: exit status 3).
pid_t StartSaving(const std::function<void(int)>& save) {
  const pid_t child = fork();
  if (child != 0) return child;
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlives the test
  const Clock::time_point start = Clock::now();
  try {
    for (int i = 0; Clock::now() - start < std::chrono::seconds(60); ++i) save(i % 2);
  } catch (...) {
    _exit(3);
  }
  _exit(0);
}

// Returns once a save by `saver` has created its temporary beside `path` (or after 5 s).
void WaitForTemporaryOf(pid_t saver, const std::string& path) {
  const std::string prefix = "." + fs::path(path).filename().string() + "." + std::to_string(saver) + "-";
  const Clock::time_point start = Clock::now();
  while (Clock::now() - start < std::chrono::seconds(5)) {
    for (const auto& entry : fs::directory_iterator(fs::path(path).parent_path()))
      if (entry.path().filename().string().starts_with(prefix)) return;
    std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
}

struct KillFigures {
  int kills = 0;
  int leftovers = 0;  // kills that left a temporary behind (the kill hit a save before its rename)
};

// Kills a saving process `kKills` times, half at random moments within a few
// saves' time, half as soon as a save has created its temporary; after each
// kill `path` must be exactly expected[0] or expected[1] and `check_loads` must
// accept it. `path` must hold expected[0] before the call.
KillFigures KillDuringSaves(const std::string& path, const std::function<void(int)>& save,
                            const std::vector<std::string>& expected, const std::function<void()>& check_loads) {
  // How long one save takes here, so that the kills spread over a whole save.
  const Clock::time_point before = Clock::now();
  for (int i = 0; i < 4; ++i) save(i % 2);
  const auto save_time = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - before) / 4;
  EXPECT_TRUE(OtherFiles(fs::path(path).parent_path(), {fs::path(path).filename()}).empty());

  std::mt19937 random(17);
  KillFigures figures;
  for (int k = 0; k < kKills; ++k) {
    SCOPED_TRACE("kill " + std::to_string(k));
    const pid_t child = StartSaving(save);
    EXPECT_GT(child, 0);
    if (child <= 0) return figures;
    if (k % 2 == 0) {
      std::uniform_int_distribution<long> delay(0, 3 * std::max<long>(save_time.count(), 100));
      std::this_thread::sleep_for(std::chrono::microseconds(delay(random)));
    } else {
      WaitForTemporaryOf(child, path);  // then the kill most likely lands mid-write
    }
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "the saving process ended by itself, status " << status;
    ++figures.kills;

    const std::string now = ReadAll(path);
    EXPECT_TRUE(now == expected[0] || now == expected[1])
        << path << " is neither save after a kill: " << now.size() << " bytes (saves are " << expected[0].size()
        << " and " << expected[1].size() << ")";
    const std::vector<std::string> others = OtherFiles(fs::path(path).parent_path(), {fs::path(path).filename()});
    if (!others.empty()) ++figures.leftovers;
    for (const std::string& name : others)
      EXPECT_TRUE(name.starts_with(".") && name.ends_with(".tmp")) << "an unexpected file beside the save: " << name;
    check_loads();
  }
  EXPECT_GT(figures.leftovers, 0) << "no kill hit a save before its rename: the test saw no temporary";
  // The next save removes what the killed ones left.
  save(0);
  EXPECT_TRUE(OtherFiles(fs::path(path).parent_path(), {fs::path(path).filename()}).empty());
  EXPECT_EQ(ReadAll(path), expected[0]);
  std::printf("%d kills during saves of %s (one save: %lld us): %d left a temporary, none mistaken for the file\n",
              figures.kills, fs::path(path).filename().c_str(), static_cast<long long>(save_time.count()),
              figures.leftovers);
  return figures;
}

// A project large enough (about 1 MB) that a save takes a while to write.
ui::Project BigProject(const std::string& name) {
  ui::Project project = ui::DefaultProject();
  project.name = name;
  for (uint32_t i = 0; i < 40000; ++i)
    project.data.added_points.push_back({0.001f * static_cast<float>(i), -0.5f, i % 3});
  return project;
}

class KilledSaves : public testing::TempDirTest {};

TEST_F(KilledSaves, ProjectSaveLeavesTheOldOrTheNewFile) {
  const std::vector<ui::Project> versions = {BigProject("first"), BigProject("second")};
  std::vector<std::string> expected;
  for (size_t i = 0; i < versions.size(); ++i) {
    const std::string reference = PathOf("reference/" + std::to_string(i) + ".tsproj.json");
    ui::SaveProject(versions[i], reference);
    expected.push_back(ReadAll(reference));
  }
  const std::string path = PathOf("saves/p.tsproj.json");
  ui::SaveProject(versions[0], path);
  KillFigures figures = KillDuringSaves(
      path, [&](int version) { ui::SaveProject(versions[version], path); }, expected,
      [&] { EXPECT_NO_THROW(ui::LoadProject(path)); });
  EXPECT_EQ(figures.kills, kKills);
}

TEST_F(KilledSaves, AutosaveLeavesTheOldOrTheNewFileAndStartupOpensIt) {
  auto state_for = [](int version) {
    ui::AppState state;
    state.project = BigProject(version == 0 ? "first" : "second");
    state.project_path = "/somewhere/p" + std::to_string(version) + ".tsproj.json";
    state.dirty = version == 1;
    return state;
  };
  std::vector<std::string> expected;
  for (int i = 0; i < 2; ++i) {
    ui::AppState state = state_for(i);
    ui::Autosaver reference(PathOf("reference/" + std::to_string(i) + ".tsproj.json"));
    ASSERT_TRUE(reference.Flush(state));
    expected.push_back(ReadAll(reference.path()));
  }
  const std::string path = PathOf("state/autosave.tsproj.json");
  ui::AppState first = state_for(0);
  ui::Autosaver(path).Flush(first);
  // The app's loop: one Autosaver, whose project changes between saves.
  auto save = [&, autosaver = ui::Autosaver(path), states = std::vector{state_for(0), state_for(1)}](int version) mutable {
    autosaver.Flush(states[version]);
  };
  auto startup_opens_it = [&] {
    ui::AppState restored;
    ui::LoadStartupProject(restored, path);
    EXPECT_TRUE(restored.notices.empty()) << restored.notices.front().text;
    EXPECT_TRUE(restored.project.name == "first" || restored.project.name == "second");
    EXPECT_EQ(restored.dirty, restored.project.name == "second");
    EXPECT_TRUE(OtherFiles(fs::path(path).parent_path(), {"autosave.tsproj.json"}).empty());  // startup removed them
  };
  KillFigures figures = KillDuringSaves(path, save, expected, startup_opens_it);
  EXPECT_EQ(figures.kills, kKills);
}

TEST_F(KilledSaves, CheckpointSaveLeavesTheOldOrTheNewFile) {
  nn::ModelDesc model = nn::ParseModel(R"({"format": "tensorscope-model", "version": 1, "layers": [
      {"type": "input", "shape": [64]}, {"type": "dense", "units": 2048}, {"type": "relu"},
      {"type": "dense", "units": 10}, {"type": "softmax_cross_entropy"}]})", "model.json");
  uint64_t parameters = 0;
  for (const nn::LayerShape& shape : nn::InferShapes(model)) parameters += shape.parameters;
  std::vector<nn::Checkpoint> versions(2);
  for (int i = 0; i < 2; ++i) {
    nn::Checkpoint& c = versions[i];
    c.model = model;
    c.config = nn::TrainConfigToJson(nn::TrainConfig{});  // Adam: two state tensors
    c.position = {static_cast<uint32_t>(i), 3, static_cast<uint64_t>(10 + i)};
    c.parameters.assign(parameters, 0.25f * static_cast<float>(i + 1));
    c.optimizer_state.assign(2, std::vector<float>(parameters, static_cast<float>(i)));
  }
  std::vector<std::string> expected;
  for (int i = 0; i < 2; ++i) {
    const std::string reference = PathOf("reference/" + std::to_string(i) + ".ckpt");
    nn::SaveCheckpoint(reference, versions[i]);
    ASSERT_NO_THROW(nn::LoadCheckpoint(reference));
    expected.push_back(ReadAll(reference));
  }
  const std::string path = PathOf("runs/model.ckpt");
  nn::SaveCheckpoint(path, versions[0]);
  KillFigures figures = KillDuringSaves(
      path, [&](int version) { nn::SaveCheckpoint(path, versions[version]); }, expected,
      [&] { EXPECT_NO_THROW(nn::LoadCheckpoint(path)); });
  EXPECT_EQ(figures.kills, kKills);
}

// Deterministic: the temporary of a save killed before its rename (its
// process gone) is removed by the next save, and by the app's start for the
// autosave; a live process's save in progress is left alone; nothing else
// beside the file is touched.
TEST_F(KilledSaves, LeftoverTemporariesAreRemovedNeverOpened) {
  const pid_t gone = fork();
  if (gone == 0) _exit(0);
  ASSERT_GT(gone, 0);
  waitpid(gone, nullptr, 0);  // its id now names no process
  const std::string path = PathOf("state/autosave.tsproj.json");
  auto temporary_of = [&](pid_t pid) {
    // The name a save by `pid` would write (TemporaryNameFor names this process's).
    std::string name = fs::path(TemporaryNameFor(path, 7)).filename().string();
    const std::string own = std::to_string(getpid()) + "-7.tmp";
    return (fs::path(path).parent_path() / name.replace(name.size() - own.size(), own.size(), std::to_string(pid) + "-7.tmp")).string();
  };
  const std::string dead = temporary_of(gone), live = temporary_of(getppid());
  EXPECT_EQ(fs::path(dead).filename().string(), ".autosave.tsproj.json." + std::to_string(gone) + "-7.tmp");
  WriteText("state/" + fs::path(dead).filename().string(), "{\"format\": \"tensorscope-pro");  // cut mid-write
  WriteText("state/" + fs::path(live).filename().string(), "{\"format\": \"tensorscope-pro");
  WriteText("state/autosave.tsproj.json.tmp", "not ours");
  WriteText("state/notes.txt", "the user's");

  // No autosave, only a temporary: startup opens the default project, with no error.
  ui::AppState state;
  ui::LoadStartupProject(state, path);
  EXPECT_TRUE(state.notices.empty()) << state.notices.front().text;
  EXPECT_EQ(state.project.name, ui::DefaultProject().name);
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(live));  // its save may still finish
  EXPECT_TRUE(fs::exists(PathOf("state/autosave.tsproj.json.tmp")));
  EXPECT_TRUE(fs::exists(PathOf("state/notes.txt")));

  // A save removes one too.
  WriteText("state/" + fs::path(dead).filename().string(), "partial");
  ui::SaveProject(ui::DefaultProject(), path);
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_EQ(OtherFiles(fs::path(path).parent_path(),
                       {"autosave.tsproj.json", fs::path(live).filename(), "autosave.tsproj.json.tmp", "notes.txt"}),
            std::vector<std::string>{});
  EXPECT_EQ(RemoveLeftoverTemporaries(path), 0);
}

}  // namespace
}  // namespace ts
