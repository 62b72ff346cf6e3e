#include "ui/project.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>

#include "compute/data/registry.h"
#include "compute/nn/data_fit.h"

#include "ui/project_internal.h"

namespace ts::ui {

using namespace detail;

std::string DataSpecFor(const DataChoice& data) {
  if (IsSyntheticKind(data.kind)) {
    std::string spec = data.kind + ":samples=" + std::to_string(data.samples);
    if (data.kind != "xor" && data.kind != "moons") spec += ",classes=" + std::to_string(data.classes);
    spec += ",noise=" + FormatNumber(data.noise) + ",seed=" + std::to_string(data.seed);
    if (std::abs(data.test_fraction - kDefaultTestFraction) > 1e-6f && data.test_fraction > 0 && data.test_fraction < 1) {
      // The registry generates the test set separately: size it so it is test_fraction of all samples.
      double test_samples = std::round(data.samples * data.test_fraction / (1.0 - data.test_fraction));
      spec += ",test_samples=" + std::to_string(std::max<uint64_t>(1, static_cast<uint64_t>(test_samples)));
    }
    return spec;
  }
  if (IsTextKind(data.kind)) {
    // "kjv:context=64", "text:book.txt:context=64,val_fraction=0.05" (text.h); val_fraction only when not the default.
    std::string options = "context=" + std::to_string(data.context);
    if (std::abs(data.test_fraction - kDefaultTextValFraction) > 1e-6f && data.test_fraction > 0 && data.test_fraction < 1)
      options += ",val_fraction=" + FormatNumber(data.test_fraction);
    return data.kind == "kjv" ? "kjv:" + options : "text:" + data.path + ":" + options;
  }
  std::string split = "test_fraction=" + FormatNumber(data.test_fraction) + ",seed=" + std::to_string(data.seed);
  if (IsSklearnKind(data.kind)) return data.kind + ":" + split;
  if (data.kind == "csv") {
    // A path with ':' in it cannot carry options (see compute/data/registry.h).
    return data.path.find(':') == std::string::npos ? data.path + ":" + split : data.path;
  }
  if (data.kind == "idx") return "idx:" + data.path;
  if (data.kind == "images") return "images:" + data.path;
  if (data.kind == "cifar10") return data.path.empty() ? "cifar10" : "cifar10:" + data.path;
  if (data.kind == "shapes") {
    std::string spec = "shapes:samples=" + std::to_string(data.samples) + ",classes=" + std::to_string(data.classes) +
                       ",seed=" + std::to_string(data.seed);
    if (data.test_fraction > 0 && data.test_fraction < 1) {
      double test_samples = std::round(data.samples * data.test_fraction / (1.0 - data.test_fraction));
      spec += ",test_samples=" + std::to_string(std::max<uint64_t>(1, static_cast<uint64_t>(test_samples)));
    }
    return spec;
  }
  return data.kind;  // mnist, fashion-mnist: no options
}

namespace {

// "text:PATH[:options]" / "kjv[:options]" (see compute/data/text.h): the options
// follow the path's last ':' when they hold '=', as the loader reads them.
DataChoice TextChoiceFromSpec(const std::string& spec) {
  DataChoice data;
  data.test_fraction = kDefaultTextValFraction;
  std::string rest;
  if (spec.starts_with("kjv")) {
    data.kind = "kjv";
    rest = spec.size() > 4 ? spec.substr(4) : "";
  } else {
    data.kind = "text";
    data.path = spec.substr(5);
    const size_t colon = data.path.rfind(':');
    if (colon != std::string::npos && data.path.find('=', colon) != std::string::npos) {
      rest = data.path.substr(colon + 1);
      data.path.resize(colon);
    }
  }
  size_t start = 0;
  while (start < rest.size()) {
    const size_t comma = std::min(rest.find(',', start), rest.size());
    const std::string item = rest.substr(start, comma - start);
    const size_t equals = item.find('=');
    start = comma + 1;
    if (equals == std::string::npos) continue;
    const std::string key = Trim(item.substr(0, equals)), value = Trim(item.substr(equals + 1));
    char* end = nullptr;
    const double number = std::strtod(value.c_str(), &end);
    if (value.empty() || !end || *end != '\0' || !std::isfinite(number)) continue;  // would not load anyway
    if (key == "context" && number >= 1 && number <= 4096) data.context = static_cast<uint32_t>(number);
    if (key == "val_fraction" && number > 0 && number < 1) data.test_fraction = static_cast<float>(number);
  }
  return data;
}

}  // namespace

DataChoice DataChoiceFromSpec(const std::string& spec) {
  if (spec.starts_with("text:") || spec == "kjv" || spec.starts_with("kjv:")) return TextChoiceFromSpec(spec);
  DataChoice data;
  auto is_csv = [](const std::string& text) {
    return text.ends_with(".csv") || text.ends_with(".csv.gz");
  };
  if (is_csv(spec)) {
    data.kind = "csv";
    data.path = spec;
    return data;
  }
  size_t colon = spec.find(':');
  std::string name = spec.substr(0, colon);
  std::map<std::string, std::string> options;
  if (colon != std::string::npos) {
    std::string rest = spec.substr(colon + 1);
    size_t start = 0;
    while (start <= rest.size()) {
      size_t comma = std::min(rest.find(',', start), rest.size());
      std::string item = rest.substr(start, comma - start);
      size_t equals = item.find('=');
      if (equals != std::string::npos) options[Trim(item.substr(0, equals))] = Trim(item.substr(equals + 1));
      start = comma + 1;
    }
  }
  auto number = [&](const char* key, double fallback) {
    auto it = options.find(key);
    if (it == options.end()) return fallback;
    char* end = nullptr;
    double value = std::strtod(it->second.c_str(), &end);
    // Negative or malformed values fall back: they would not load anyway.
    return (end && *end == '\0' && std::isfinite(value) && value >= 0 && value < 4e9) ? value : fallback;
  };
  if (IsSyntheticKind(name)) {
    data::SyntheticOptions defaults;  // the registry's defaults for a bare "spiral"
    data.kind = name;
    data.samples = static_cast<uint32_t>(number("samples", defaults.samples));
    data.classes = static_cast<uint32_t>(number("classes", (name == "spiral" || name == "blobs") ? 3 : 2));
    data.noise = static_cast<float>(number("noise", defaults.noise));
    data.seed = static_cast<uint32_t>(number("seed", static_cast<double>(defaults.seed)));
    double test_samples = number("test_samples", data.samples / 4.0);
    data.test_fraction = static_cast<float>(test_samples / (data.samples + test_samples));
    if (std::abs(data.test_fraction - kDefaultTestFraction) < 0.005f) data.test_fraction = kDefaultTestFraction;
    return data;
  }
  if (is_csv(name) || IsSklearnKind(name)) {
    data.kind = IsSklearnKind(name) ? name : "csv";
    if (data.kind == "csv") data.path = name;
    data.test_fraction = static_cast<float>(number("test_fraction", data.test_fraction));
    data.seed = static_cast<uint32_t>(number("seed", data.seed));
    return data;
  }
  if (name == "mnist" || name == "fashion-mnist") data.kind = name;
  if (name == "idx" || name == "images" || name == "cifar10") {
    data.kind = name;
    data.path = colon == std::string::npos ? "" : spec.substr(colon + 1);
  }
  if (name == "shapes") {
    data.kind = name;
    data.samples = static_cast<uint32_t>(number("samples", 10000));
    data.classes = static_cast<uint32_t>(number("classes", 8));
    data.seed = static_cast<uint32_t>(number("seed", 1));
    double test_samples = number("test_samples", data.samples / 5.0);
    data.test_fraction = static_cast<float>(test_samples / (data.samples + test_samples));
  }
  return data;
}

DataChoice DefaultDataChoice(const std::string& kind) {
  // A bare name gets the registry's defaults; file-based kinds keep no path.
  DataChoice data = DataChoiceFromSpec(kind == "csv" || kind == "idx" || kind == "images" || kind == "text" ? kind + ":" : kind);
  data.kind = kind;
  data.path.clear();
  return data;
}

DataChoice DataForImportedModel(const nn::ModelDesc& model, const AppState* window, std::string* note) {
  auto fits = [&](const std::vector<uint32_t>& shape, uint32_t classes) {
    return !nn::CheckDataFit(model, shape, classes, "data").has_value();
  };
  if (window && window->train_data && window->train_data->count() > 0 &&
      !nn::CheckDataFit(model, window->train_data->sample_shape, window->train_data->num_classes, "data",
                        nn::FitRule::kTraining, window->train_data->labels_per_sample)) {
    *note = "It trains on the data loaded before (" + window->train_data->name + "), which fits it.";
    return window->project.data;
  }
  if (const uint32_t tokens = nn::TokensPerSample(model); tokens > 1) {
    // A sequence model reads text: the built-in text in windows of its context.
    DataChoice data = DefaultDataChoice("kjv");
    data.context = tokens;
    *note = "It trains on " + DataSpecFor(data) + ", the built-in text in windows of its " + std::to_string(tokens) +
            " positions; choose another text file in the Data panel.";
    return data;
  }
  // Built-in sets by the shape and classes of their samples, tried in order; those
  // that must be installed only when they are (the weights would wait for them).
  struct Candidate {
    std::string kind;
    std::vector<uint32_t> shape;
    uint32_t classes;
  };
  std::vector<Candidate> candidates;
  for (uint32_t classes = 2; classes <= 10; ++classes) candidates.push_back({"spiral", {2}, classes});
  for (const Candidate& set : {Candidate{"iris", {4}, 3}, Candidate{"wine", {13}, 3}, Candidate{"digits", {64}, 10},
                               Candidate{"mnist", {1, 28, 28}, 10}, Candidate{"fashion-mnist", {1, 28, 28}, 10}})
    if (data::FindDatasetDir(set.kind)) candidates.push_back(set);
  for (uint32_t classes = 2; classes <= 8; ++classes) candidates.push_back({"shapes", {1, 28, 28}, classes});
  if (data::FindDataFiles("cifar10")) candidates.push_back({"cifar10", {3, 32, 32}, 10});
  for (const Candidate& c : candidates) {
    if (!fits(c.shape, c.classes)) continue;
    DataChoice data = DefaultDataChoice(c.kind);
    if (c.kind == "spiral" || c.kind == "shapes") data.classes = c.classes;
    *note = "It trains on " + DataSpecFor(data) + ", a built-in set whose samples (" + nn::ShapeString(c.shape) +
            ") and " + std::to_string(c.classes) + " classes fit it; choose its own data in the Data panel.";
    return data;
  }
  DataChoice data = window ? window->project.data : DataChoice{};
  *note = "No built-in data set fits its input (" + nn::ShapeString(model.layers[0].shape) +
          "): choose its data in the Data panel (a CSV file, IDX files or an image folder); its weights load once "
          "the data fits.";
  return data;
}

}  // namespace ts::ui
