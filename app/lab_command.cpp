#include "app/lab_command.h"

#include <cstdio>
#include <memory>
#include <set>

#include "app/arguments.h"
#include "app/puzzle_command.h"
#include "compute/common/error.h"
#include "compute/lab/lab.h"
#include "compute/vk/context.h"
#include "compute/vk/pipeline.h"

namespace ts::app {
namespace {

// A knob's command-line flag: its key with '-' for '_' (--branch-percent).
std::string FlagOf(const std::string& key) {
  std::string flag = key;
  for (char& c : flag)
    if (c == '_') c = '-';
  return flag;
}

int ListLessons() {
  for (const lab::LessonInfo& lesson : lab::Lessons()) {
    std::string knobs;
    for (const lab::Knob& knob : lesson.knobs) knobs += " --" + FlagOf(knob.key);
    std::printf("%-11s %s: %s  (settings:%s)\n", lesson.name.c_str(), lesson.title.c_str(), lesson.summary.c_str(),
                knobs.c_str());
  }
  return 0;
}

}  // namespace

int RunLabCommand(const std::vector<std::string>& words) {
  if (!words.empty() && words[0] == "puzzle") return RunPuzzleCommand({words.begin() + 1, words.end()});
  std::set<std::string> value_flags = {"device", "repeats"};
  for (const lab::LessonInfo& lesson : lab::Lessons())
    for (const lab::Knob& knob : lesson.knobs) value_flags.insert(FlagOf(knob.key));
  Arguments args(words, value_flags, {"list", "json", "validate", "help"});
  if (args.Has("list")) return ListLessons();
  if (args.positional().empty()) {
    std::fprintf(stderr, "tensorscope lab: name a lesson (`tensorscope lab --list` lists them); `tensorscope lab` "
                         "alone opens the Lab window.\n");
    return 2;
  }
  if (args.positional().size() > 1)
    throw Error("lab takes one lesson; found " + std::to_string(args.positional().size()) + " words (\"" +
                Excerpt(args.positional()[1]) + "\" is extra).");
  const lab::LessonInfo& lesson = lab::FindLesson(args.positional()[0]);
  lab::Settings settings;
  for (const std::string& flag : value_flags) {
    if (flag == "device" || flag == "repeats" || !args.Has(flag)) continue;
    std::string key = flag;
    for (char& c : key)
      if (c == '-') c = '_';
    settings[key] = *args.Int(flag);  // RunLesson names the knob when it is not this lesson's
  }

  vk::ContextOptions options;
  options.device_index = args.Int("device").value_or(-1);
  options.validation = args.Has("validate");
  std::unique_ptr<vk::Context> context = vk::Context::Create(options);
  vk::PipelineCache pipelines(*context);
  lab::RunOptions run_options;
  if (args.Has("repeats")) run_options.repeats = *args.PositiveInt("repeats");
  lab::LessonResult result = lab::RunLesson(*context, pipelines, lesson.name, settings, run_options);
  std::printf("%s", args.Has("json") ? (lab::ResultJson(result) + "\n").c_str() : lab::FormatResult(result).c_str());
  int code = 0;
  for (const lab::Variant& v : result.variants)
    if (!v.check_passed) code = 3;
  if (code) std::fprintf(stderr, "tensorscope lab: a variant's output did not match the CPU reference (above).\n");
  if (context->validation_message_count() > 0) {
    std::fprintf(stderr, "tensorscope: the validation layer reported %llu message(s) (above).\n",
                 static_cast<unsigned long long>(context->validation_message_count()));
    if (code == 0) code = 1;
  }
  return code;
}

}  // namespace ts::app
