#include "ui/project.h"

#include "ui/project_internal.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>

#include "compute/common/error.h"
#include "compute/common/file_read.h"
#include "compute/common/file_write.h"
#include "compute/data/synthetic.h"
#include "compute/interop/onnx_import.h"
#include "compute/nn/presets.h"

namespace ts::ui {
namespace {

using nlohmann::json;
using namespace detail;
namespace fs = std::filesystem;

// Reads the fields of one JSON object, naming each field with its path
// ("file.tsproj.json: data.samples") in every message, and rejects unknown ones.
class FieldReader {
 public:
  FieldReader(const json& object, std::string source, std::string path)
      : object_(object), source_(std::move(source)), path_(std::move(path)) {
    if (!object.is_object()) throw Error(Where() + ": expected an object, found " + Describe(object) + ".");
  }
  const json* Find(const std::string& key) {
    known_.insert(key);
    auto it = object_.find(key);
    return it == object_.end() ? nullptr : &*it;
  }
  std::string Field(const std::string& key) const { return source_ + ": " + (path_.empty() ? "" : path_ + ".") + key; }
  std::string Where() const { return path_.empty() ? source_ : source_ + ": " + path_; }

  std::string String(const std::string& key, const std::string& fallback) {
    const json* value = Find(key);
    if (!value) return fallback;
    if (!value->is_string()) throw Error(Field(key) + ": expected a string, found " + Describe(*value) + ".");
    return value->get<std::string>();
  }
  uint32_t Count(const std::string& key, uint32_t fallback, uint32_t minimum) {
    const json* value = Find(key);
    if (!value) return fallback;
    if (!value->is_number_integer() || value->get<int64_t>() < minimum || value->get<int64_t>() > 0x7fffffff)
      throw Error(Field(key) + ": expected a whole number of at least " + std::to_string(minimum) + ", found " +
                  Describe(*value) + ".");
    return static_cast<uint32_t>(value->get<int64_t>());
  }
  double Number(const std::string& key, double fallback, double minimum, double below) {
    const json* value = Find(key);
    if (!value) return fallback;
    if (!value->is_number() || !(value->get<double>() >= minimum && value->get<double>() < below))
      throw Error(Field(key) + ": expected a number in [" + FormatNumber(minimum) + ", " + FormatNumber(below) +
                  "), found " + Describe(*value) + ".");
    return value->get<double>();
  }
  bool Bool(const std::string& key, bool fallback) {
    const json* value = Find(key);
    if (!value) return fallback;
    if (!value->is_boolean()) throw Error(Field(key) + ": expected true or false, found " + Describe(*value) + ".");
    return value->get<bool>();
  }
  // A field kept as typed text: a string as is, or a number/array written in its canonical text.
  template <typename ToText>
  std::string Typed(const std::string& key, const std::string& fallback, ToText to_text) {
    const json* value = Find(key);
    if (!value) return fallback;
    if (value->is_string()) return value->get<std::string>();
    std::optional<std::string> text = to_text(*value);
    if (!text) throw Error(Field(key) + ": unexpected " + Describe(*value) + ".");
    return *text;
  }
  void RejectUnknown(const std::string& what) {
    for (auto it = object_.begin(); it != object_.end(); ++it)
      if (!known_.count(it.key())) {
        std::string list;
        for (const std::string& k : known_) list += (list.empty() ? "" : ", ") + k;
        throw Error(Field(it.key()) + ": unknown field '" + it.key() + "' in " + what + "; known: " + list + ".");
      }
  }

 private:
  const json& object_;
  std::string source_, path_;
  std::set<std::string> known_;
};

// The "model" section, read leniently: a value the user left invalid was
// written as the typed string and comes back as that string.
std::vector<LayerEdit> ReadModelLayers(const json& model, const std::string& source, std::string* model_name) {
  FieldReader reader(model, source, "model");
  std::string format = reader.String("format", kModelFormat);
  if (format != kModelFormat)
    throw Error(reader.Field("format") + ": expected \"" + kModelFormat + "\", found \"" + format + "\".");
  if (const json* version = reader.Find("version"); version && (!version->is_number_integer() || *version != 1))
    throw Error(reader.Field("version") + ": expected model version 1, found " + Describe(*version) + ".");
  *model_name = reader.String("name", "");
  reader.Find("training");  // the project's own "training" section is authoritative
  const json* layers = reader.Find("layers");
  if (layers && !layers->is_array()) throw Error(reader.Field("layers") + ": expected a list of layers, found " + Describe(*layers) + ".");
  reader.RejectUnknown("the model");

  std::vector<LayerEdit> edits;
  for (size_t i = 0; layers && i < layers->size(); ++i) {
    FieldReader layer(layers->at(i), source, "model.layers[" + std::to_string(i) + "]");
    LayerEdit edit;
    const json* type = layer.Find("type");
    if (!type || !type->is_string())
      throw Error(layer.Where() + ": expected a \"type\" string, found " + (type ? Describe(*type) : "none") + ".");
    edit.type = CanonicalTypeName(type->get<std::string>());
    if (!FindLayerType(edit.type)) {
      std::string known;
      for (const LayerType& t : kLayerTypes) known += (known.empty() ? "" : ", ") + std::string(t.name);
      throw Error(layer.Field("type") + ": unknown layer type '" + edit.type + "'; known: " + known + ".");
    }
    edit.name = layer.String("name", "");
    edit.units = layer.Typed("units", edit.units, [](const json& v) -> std::optional<std::string> {
      if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
      return std::nullopt;
    });
    edit.shape = layer.Typed("shape", edit.shape, [](const json& v) -> std::optional<std::string> {
      if (!v.is_array()) return std::nullopt;
      std::string text;
      for (const json& d : v) {
        if (!d.is_number_integer()) return std::nullopt;
        text += (text.empty() ? "" : "x") + std::to_string(d.get<int64_t>());
      }
      return text;
    });
    edit.slope = layer.Typed("slope", edit.slope, [](const json& v) -> std::optional<std::string> {
      if (v.is_number()) return FormatNumber(v.get<float>());
      return std::nullopt;
    });
    edit.bias = layer.Bool("bias", true);
    edit.init = layer.String("init", "");
    // A pair is a number, [height, width], or the text the user left invalid.
    auto pair_text = [](const json& v) -> std::optional<std::string> {
      if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
      if (v.is_array() && v.size() == 2 && v[0].is_number_integer() && v[1].is_number_integer())
        return std::to_string(v[0].get<int64_t>()) + "x" + std::to_string(v[1].get<int64_t>());
      return std::nullopt;
    };
    auto number_text = [](const json& v) -> std::optional<std::string> {
      if (v.is_number()) return FormatNumber(v.get<float>());
      return std::nullopt;
    };
    edit.filters = layer.Typed("filters", edit.filters, [](const json& v) -> std::optional<std::string> {
      if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
      return std::nullopt;
    });
    const bool pool = edit.type == "max_pool2d" || edit.type == "avg_pool2d";
    if (pool) edit.kernel = edit.padding = "";
    edit.kernel = layer.Typed(pool ? "size" : "kernel", pool ? "2" : edit.kernel, pair_text);
    edit.stride = layer.Typed("stride", "", pair_text);
    edit.padding = layer.Typed("padding", pool ? "0" : edit.padding, [&](const json& v) -> std::optional<std::string> {
      if (v.is_string()) return v.get<std::string>();
      return pair_text(v);
    });
    edit.rate = layer.Typed("rate", edit.rate, number_text);
    edit.momentum = layer.Typed("momentum", edit.momentum, number_text);
    edit.epsilon = layer.Typed("epsilon", edit.epsilon, number_text);
    auto count_text = [](const json& v) -> std::optional<std::string> {
      if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
      return std::nullopt;
    };
    edit.vocab = layer.Typed("vocab", edit.vocab, count_text);
    edit.heads = layer.Typed("heads", edit.heads, count_text);
    edit.mlp_ratio = layer.Typed("mlp_ratio", edit.mlp_ratio, count_text);
    edit.attention = layer.String("attention", edit.attention);
    edit.tied = layer.Bool("tied", false);
    layer.RejectUnknown("a layer");
    edits.push_back(edit);
  }
  ClearDefaultNames(edits);
  return edits;
}

json LayersToJson(const std::vector<LayerEdit>& layers) {
  std::vector<std::string> names = ResolvedNames(layers);
  json list = json::array();
  for (size_t i = 0; i < layers.size(); ++i) {
    const LayerEdit& edit = layers[i];
    std::string ignored;
    if (std::optional<nn::LayerDesc> layer = LayerFromEdit(edit, &ignored)) {
      nn::ModelDesc one;
      layer->name = names[i];
      one.layers.push_back(*layer);
      list.push_back(nn::ModelToJson(one)["layers"][0]);
      continue;
    }
    // Invalid: keep what the user typed, so nothing is lost.
    json raw = {{"type", edit.type}, {"name", names[i]}};
    const LayerType* type = FindLayerType(CanonicalTypeName(edit.type));
    nn::LayerKind kind = type ? type->kind : nn::LayerKind::kDense;
    if (kind == nn::LayerKind::kInput) raw["shape"] = edit.shape;
    if (kind == nn::LayerKind::kDense) {
      raw["units"] = edit.units;
      if (!edit.bias) raw["bias"] = false;
      if (!edit.init.empty()) raw["init"] = edit.init;
      if (edit.tied) raw["tied"] = true;
    }
    if (kind == nn::LayerKind::kEmbedding) {
      raw["vocab"] = edit.vocab;
      raw["units"] = edit.units;
      if (!edit.init.empty()) raw["init"] = edit.init;
    }
    if (kind == nn::LayerKind::kLayerNorm) raw["epsilon"] = edit.epsilon;
    if (kind == nn::LayerKind::kTransformerBlock) {
      raw["heads"] = edit.heads;
      raw["mlp_ratio"] = edit.mlp_ratio;
      raw["attention"] = edit.attention;
      raw["epsilon"] = edit.epsilon;
    }
    if (type && type->activation == kernels::Activation::kLeakyRelu) raw["slope"] = edit.slope;
    if (kind == nn::LayerKind::kConv2D) {
      raw["filters"] = edit.filters;
      raw["kernel"] = edit.kernel;
      if (!Trim(edit.stride).empty()) raw["stride"] = edit.stride;
      raw["padding"] = edit.padding;
      if (!edit.bias) raw["bias"] = false;
      if (!edit.init.empty()) raw["init"] = edit.init;
    }
    if (kind == nn::LayerKind::kPool2D) {
      raw["size"] = edit.kernel;
      if (!Trim(edit.stride).empty()) raw["stride"] = edit.stride;
      raw["padding"] = edit.padding;
    }
    if (kind == nn::LayerKind::kDropout) raw["rate"] = edit.rate;
    if (kind == nn::LayerKind::kBatchNorm) raw["momentum"] = edit.momentum, raw["epsilon"] = edit.epsilon;
    list.push_back(raw);
  }
  return list;
}

json DataToJson(const DataChoice& data) {
  json points = json::array();
  for (const DataChoice::AddedPoint& p : data.added_points) points.push_back({p.x, p.y, p.label});
  return {{"kind", data.kind},   {"samples", data.samples},
          {"classes", data.classes}, {"noise", AsTyped(data.noise)},
          {"seed", data.seed},   {"test_fraction", AsTyped(data.test_fraction)},
          {"path", TextToJson(data.path)},   {"context", data.context},
          {"added_points", points}};  // any file name survives
}

DataChoice ReadData(const json& section, const std::string& source) {
  FieldReader reader(section, source, "data");
  DataChoice data;
  data.kind = reader.String("kind", data.kind);
  if (std::find_if(std::begin(kDataKinds), std::end(kDataKinds), [&](const char* k) { return data.kind == k; }) ==
      std::end(kDataKinds)) {
    std::string known;
    for (const char* k : kDataKinds) known += (known.empty() ? "" : ", ") + std::string(k);
    throw Error(reader.Field("kind") + ": unknown data set '" + data.kind + "'; known: " + known + ".");
  }
  data.samples = reader.Count("samples", data.samples, 1);
  data.classes = reader.Count("classes", data.classes, 1);
  data.noise = static_cast<float>(reader.Number("noise", data.noise, 0.0, 1e9));
  data.seed = reader.Count("seed", data.seed, 0);
  data.test_fraction = static_cast<float>(reader.Number("test_fraction", data.test_fraction, 0.0, 1.0));
  if (const json* path = reader.Find("path")) data.path = TextFromJson(*path, reader.Field("path"), "a path");
  data.context = reader.Count("context", data.context, 1);
  if (const json* points = reader.Find("added_points")) {
    if (!points->is_array())
      throw Error(reader.Field("added_points") + ": expected a list of [x, y, label], found " + Describe(*points) + ".");
    for (size_t i = 0; i < points->size(); ++i) {
      const json& p = points->at(i);
      if (!p.is_array() || p.size() != 3 || !p[0].is_number() || !p[1].is_number() || !p[2].is_number_unsigned())
        throw Error(reader.Field("added_points") + "[" + std::to_string(i) + "]: expected [x, y, label] (label a whole number >= 0), found " +
                    Describe(p) + ".");
      data.added_points.push_back({p[0].get<float>(), p[1].get<float>(), p[2].get<uint32_t>()});
    }
  }
  reader.RejectUnknown("the data section");
  return data;
}

struct SessionInfo {
  std::string path;
  bool dirty = false;
};

Project ParseProjectText(const std::string& text, const std::string& source, SessionInfo* session) {
  json root = ParseJson(text, source);  // depth-limited; errors name the byte and field
  FieldReader reader(root, source, "");
  const json* format = reader.Find("format");
  if (format && *format == kModelFormat) {
    // A model file: open it as a new project with its training section.
    nn::ModelDesc model = nn::ParseModel(text, source);
    return ProjectFromModel(model, nn::ParseTrainConfig(model.training, source + ": training"));
  }
  if (!format) throw Error(source + ": the field 'format' is missing; expected \"" + kProjectFormat + "\".");
  if (*format != kProjectFormat)
    throw Error(reader.Field("format") + ": expected \"" + kProjectFormat + "\" (or a \"" + kModelFormat +
                "\" model file), found " + Describe(*format) + ".");
  const json* version = reader.Find("version");
  if (!version) throw Error(source + ": the field 'version' is missing; expected " + std::to_string(kProjectVersion) + ".");
  if (!version->is_number_integer() || *version != kProjectVersion)
    throw Error(reader.Field("version") + ": this Tensorscope reads project version " + std::to_string(kProjectVersion) +
                ", found " + Describe(*version) + " (written by a newer Tensorscope?).");

  Project project;
  std::string model_name;
  if (const json* model = reader.Find("model")) project.layers = ReadModelLayers(*model, source, &model_name);
  project.name = reader.String("name", model_name.empty() ? project.name : model_name);
  if (const json* training = reader.Find("training"))
    project.training = nn::ParseTrainConfig(*training, source + ": training");
  if (const json* data = reader.Find("data")) project.data = ReadData(*data, source);
  if (const json* saved = reader.Find("session")) {
    FieldReader fields(*saved, source, "session");
    const json* path = fields.Find("path");
    SessionInfo info{path ? TextFromJson(*path, fields.Field("path"), "a path") : "", fields.Bool("dirty", false)};
    fields.RejectUnknown("the session section");
    if (session) *session = info;
  }
  reader.RejectUnknown("a project");
  return project;
}

std::string AutosaveText(const AppState& state) {
  json root = ProjectToJson(state.project);
  root["session"] = {{"path", TextToJson(state.project_path)}, {"dirty", state.dirty}};
  return DumpJson(root, AutosavePath(), 2) + "\n";
}

void WriteWithDirectories(const std::string& path, const std::string& text) {
  fs::path parent = fs::path(path).parent_path();
  std::error_code error;
  if (!parent.empty()) fs::create_directories(parent, error);
  if (error) throw Error(path + ": cannot create the folder " + parent.string() + ": " + error.message() + ".");
  nn::WriteFileAtomically(path, text);
}

}  // namespace

// ---- Files -----------------------------------------------------------------

json ProjectToJson(const Project& project) {
  json model = {{"format", kModelFormat}, {"version", 1}, {"name", project.name}, {"layers", LayersToJson(project.layers)}};
  return {{"format", kProjectFormat}, {"version", kProjectVersion},
          {"name", project.name},     {"model", model},
          {"training", nn::TrainConfigToJson(project.training)}, {"data", DataToJson(project.data)}};
}

Project ParseProject(const std::string& json_text, const std::string& source) {
  return ParseProjectText(json_text, source, nullptr);
}

Project LoadProject(const std::string& path) {
  return ParseProject(ReadRegularFile(path, kMaxJsonFileBytes, "a project file"), path);
}

void SaveProject(const Project& project, const std::string& path) {
  WriteWithDirectories(path, DumpJson(ProjectToJson(project), path, 2) + "\n");
}

std::string AutosavePath() {
  const char* xdg = std::getenv("XDG_DATA_HOME");
  const char* home = std::getenv("HOME");
  fs::path base;
  if (xdg && *xdg) base = xdg;
  else if (home && *home) base = fs::path(home) / ".local" / "share";
  else return "";
  return (base / "tensorscope" / "autosave.tsproj.json").string();
}

std::string LastCheckpointPath() {
  std::string autosave = AutosavePath();
  return autosave.empty() ? "tensorscope-last.ckpt" : (fs::path(autosave).parent_path() / "last.ckpt").string();
}

bool Autosaver::Tick(AppState& state, double now_seconds) {
  if (now_seconds - last_check_ < interval_seconds_) return false;
  last_check_ = now_seconds;
  return Flush(state);
}

bool Autosaver::Flush(AppState& state) {
  if (path_.empty()) return false;
  std::string text = AutosaveText(state);
  if (text == last_written_) return false;
  try {
    WriteWithDirectories(path_, text);
    last_written_ = std::move(text);
    reported_error_ = false;
    return true;
  } catch (const Error& e) {
    if (!reported_error_) state.Notify(Notice::Level::kError, std::string("Autosave failed: ") + e.what());
    reported_error_ = true;  // one notice, not one every few seconds
    return false;
  }
}

void LoadStartupProject(AppState& state, const std::string& autosave_path) {
  state.project = DefaultProject();
  state.project_path.clear();
  state.dirty = false;
  // A save killed before its rename left only a temporary: never the autosave itself.
  if (!autosave_path.empty()) RemoveLeftoverTemporaries(autosave_path);
  std::error_code missing;
  if (!autosave_path.empty() && fs::exists(autosave_path, missing)) {
    try {
      SessionInfo session;
      state.project = ParseProjectText(ReadRegularFile(autosave_path, kMaxJsonFileBytes, "a project file"),
                                       autosave_path, &session);
      state.project_path = session.path;
      state.dirty = session.dirty;
    } catch (const Error& e) {
      state.Notify(Notice::Level::kError, std::string("Could not restore the last session (opened the default project): ") + e.what());
    }
  }
  RebuildModel(state);
}

std::string WindowTitle(const AppState& state) {
  std::string title = "Tensorscope \xE2\x80\x94 " + state.project.name;
  if (!state.project_path.empty()) title += " (" + fs::path(state.project_path).filename().string() + ")";
  return title + (state.dirty ? "*" : "");
}

std::string ProjectNameFromPath(const std::string& path) {
  std::string name = fs::path(path).filename().string();
  for (const char* extension : {kProjectExtension, ".json"})
    if (name.size() > std::string(extension).size() && name.ends_with(extension)) {
      name.resize(name.size() - std::string(extension).size());
      break;
    }
  return name;
}

std::string LastRunPath() { return (fs::path(LastCheckpointPath()).parent_path() / "last-run.json").string(); }

namespace {

bool IsOnnxPath(const std::string& path) {
  std::string extension = fs::path(path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(), [](unsigned char c) { return std::tolower(c); });
  return extension == ".onnx";
}

// An ONNX model imported as `tensorscope import` does; it opens as that checkpoint would.
OpenedFile OpenOnnx(const std::string& path, const AppState* window) {
  auto checkpoint = std::make_shared<const nn::Checkpoint>(interop::ImportedCheckpoint(interop::ImportOnnxFile(path)));
  OpenedFile opened;
  opened.project = ProjectFromModel(checkpoint->model, nn::ParseTrainConfig(checkpoint->config, path + ": training"));
  opened.project.name = fs::path(path).stem().string();
  std::string data_note;
  opened.project.data = DataForImportedModel(checkpoint->model, window, &data_note);
  opened.note = "Imported the ONNX model " + path + " (" + nn::ArchitectureSignature(checkpoint->model) +
                ") with the default training settings (Adam). " + data_note +
                " Its network is the current run: Continue trains it further; Save As keeps it as a project.";
  opened.checkpoint = std::move(checkpoint);
  return opened;
}

}  // namespace

OpenedFile OpenProjectFile(const std::string& path, const AppState* window) {
  if (IsOnnxPath(path)) return OpenOnnx(path, window);
  std::string head;
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot be opened (" + std::string(std::strerror(errno)) + ").");
    head.resize(16);
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<size_t>(in.gcount()));
  }
  OpenedFile opened;
  if (head.starts_with(nn::kCheckpointMagic)) {
    auto checkpoint = std::make_shared<const nn::Checkpoint>(nn::LoadCheckpoint(path));
    opened.project = ProjectFromModel(checkpoint->model, nn::ParseTrainConfig(checkpoint->config, path + ": training"));
    const nn::TrainPosition& at = checkpoint->position;
    opened.note = "Opened the checkpoint " + path + ": the model '" + checkpoint->model.name + "' (" +
                  nn::ArchitectureSignature(checkpoint->model) + ") trained to epoch " + std::to_string(at.epoch + 1) +
                  ", step " + std::to_string(at.global_step) +
                  ". Its network is the current run: Continue trains it further; Save As keeps it as a project.";
    opened.checkpoint = std::move(checkpoint);
    return opened;
  }
  const size_t first = head.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || head[first] != '{') {
    std::string found;
    for (unsigned char c : head.substr(0, 8)) {
      char text[8];
      std::snprintf(text, sizeof text, std::isprint(c) ? "%c" : "\\x%02x", c);
      found += text;
    }
    throw Error(path + ": not a Tensorscope project, model or checkpoint: expected a JSON file starting with '{' "
                "(a .tsproj.json project or a .json model), a checkpoint starting with \"" + std::string(nn::kCheckpointMagic) +
                "\" or an ONNX model named *.onnx; found " + (head.empty() ? std::string("an empty file") : "\"" + found + "\"") + ".");
  }
  std::string text = ReadRegularFile(path, kMaxJsonFileBytes, "a project, model or checkpoint");
  opened.project = ParseProject(text, path);
  // A model file opens as a new project: saving must not overwrite the model with a project.
  json root = ParseJson(text, path);
  const bool model_file = root.is_object() && root.value("format", "") == kModelFormat;
  opened.project_path = model_file ? "" : path;
  if (model_file) opened.note = "Opened the model " + path + " as a new project (Save As names it).";
  return opened;
}

}  // namespace ts::ui
