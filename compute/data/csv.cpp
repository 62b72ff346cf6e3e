#include "compute/data/csv.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "compute/common/error.h"
#include "compute/data/content_reader.h"

namespace ts::data {
namespace {

constexpr double kMaxClasses = 65536;  // a guard against a stray huge "class index"

struct Line {
  size_t number;  // 1-based, counting blank lines
  std::vector<std::string_view> fields;
};

std::string_view Trim(std::string_view text) {
  const size_t begin = text.find_first_not_of(" \t\r");
  if (begin == std::string_view::npos) return {};
  text = text.substr(begin, text.find_last_not_of(" \t\r") - begin + 1);
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') text = text.substr(1, text.size() - 2);
  return text;
}

// The text's non-blank lines of trimmed fields, one at a time, so only the
// line being read is split (the file itself is the only copy of the text).
class LineCursor {
 public:
  explicit LineCursor(std::string_view text) : text_(text) {}
  std::optional<Line> Next() {
    while (!text_.empty()) {
      ++number_;
      const size_t newline = text_.find('\n');
      const std::string_view line = text_.substr(0, newline);
      text_ = newline == std::string_view::npos ? std::string_view{} : text_.substr(newline + 1);
      if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
      Line parsed{number_, {}};
      for (size_t start = 0;;) {
        const size_t comma = line.find(',', start);
        parsed.fields.push_back(Trim(line.substr(start, comma - start)));
        if (comma == std::string_view::npos) break;
        start = comma + 1;
      }
      return parsed;
    }
    return std::nullopt;
  }

 private:
  std::string_view text_;
  size_t number_ = 0;
};

std::optional<double> ParseNumber(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);  // from_chars rejects a leading '+'
  double value = 0.0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || !std::isfinite(value))
    return std::nullopt;
  return value;
}

std::optional<uint64_t> ParseCount(std::string_view text) {
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string Describe(std::string_view cell) {
  if (cell.empty()) return "an empty cell";
  std::string quoted(1, '"');  // built by appending: GCC 12 warns falsely on "literal" + std::string
  quoted.append(cell) += '"';
  return quoted;
}

// "150,4,setosa,versicolor,virginica": sample count, feature count, then at
// least two class names. Requiring the feature count to match the data rows
// keeps a data row such as "5,3,setosa" from being taken for a header.
bool IsSklearnHeader(const Line& first, size_t data_width) {
  if (first.fields.size() < 4) return false;
  const auto samples = ParseCount(first.fields[0]);
  const auto features = ParseCount(first.fields[1]);
  if (!samples || !features || *features + 1 != data_width) return false;
  for (size_t i = 2; i < first.fields.size(); ++i)
    if (first.fields[i].empty() || ParseNumber(first.fields[i])) return false;
  return true;
}

void Standardize(std::vector<float>& features, size_t feature_count) {
  const size_t rows = features.size() / feature_count;
  for (size_t j = 0; j < feature_count; ++j) {
    double sum = 0.0, sum_squares = 0.0;
    for (size_t i = 0; i < rows; ++i) sum += features[i * feature_count + j];
    const double mean = sum / static_cast<double>(rows);
    for (size_t i = 0; i < rows; ++i) {
      const double centred = features[i * feature_count + j] - mean;
      sum_squares += centred * centred;
    }
    const double stddev = std::sqrt(sum_squares / static_cast<double>(rows));
    const double inverse = stddev > 0.0 ? 1.0 / stddev : 1.0;  // a constant feature is only centred
    for (size_t i = 0; i < rows; ++i) {
      float& value = features[i * feature_count + j];
      value = static_cast<float>((value - mean) * inverse);
    }
  }
}

}  // namespace

Dataset LoadCsv(const std::string& path, const CsvOptions& options) {
  const std::vector<uint8_t> bytes = ReadContent(path, kMaxCsvBytes, "a CSV file");
  LineCursor cursor(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  const std::optional<Line> first_line = cursor.Next();
  Require(first_line.has_value(), path + ": the file is empty: expected lines of comma-separated numbers");
  const Line& first = *first_line;
  const std::optional<Line> second = cursor.Next();

  // An sklearn header is narrower or wider than the data, so the data's first
  // row sets the expected width then.
  const bool sklearn_header = options.has_header.value_or(true) && second && IsSklearnHeader(first, second->fields.size());
  const Line& width_reference = sklearn_header ? *second : first;
  const size_t expected_width = width_reference.fields.size();
  Require(expected_width >= 2, path + " line " + std::to_string(width_reference.number) +
                                   ": expected at least 2 comma-separated columns (features and a label), found 1");
  const int label_index = options.label_column < 0 ? static_cast<int>(expected_width) + options.label_column
                                                   : options.label_column;
  Require(label_index >= 0 && label_index < static_cast<int>(expected_width),
          path + ": label_column " + std::to_string(options.label_column) + " is out of range: line " +
              std::to_string(width_reference.number) + " has " + std::to_string(expected_width) + " columns");
  const size_t label_column = static_cast<size_t>(label_index);

  bool has_header = sklearn_header;
  if (!has_header && options.has_header.has_value()) {
    has_header = *options.has_header;
  } else if (!has_header) {  // column names: some feature column of the first line is not a number
    for (size_t j = 0; j < first.fields.size(); ++j)
      if (j != label_column && !ParseNumber(first.fields[j])) has_header = true;
  }
  Require(!has_header || second.has_value(),
          path + ": expected data rows after the header on line " + std::to_string(first.number) + ", found none");

  Dataset dataset;
  dataset.name = std::filesystem::path(path).filename().string();
  dataset.format = FeatureFormat::kFloat32;
  const size_t feature_count = expected_width - 1;
  dataset.sample_shape = {static_cast<uint32_t>(feature_count)};
  if (sklearn_header) dataset.class_names.assign(first.fields.begin() + 2, first.fields.end());

  // Decided by the first data row's label, unless an sklearn header names the classes.
  std::optional<bool> numeric_labels;
  if (sklearn_header) numeric_labels = true;
  std::map<std::string, uint32_t, std::less<>> label_ids;  // string labels only
  const double label_limit = sklearn_header ? static_cast<double>(dataset.class_names.size()) : kMaxClasses;
  uint32_t max_label = 0;
  // The data rows: the first line unless it is a header, the second (read
  // ahead, held until then), then the rest.
  std::optional<Line> held = has_header ? std::nullopt : second;
  std::optional<Line> row = has_header ? second : first_line;
  for (; row; row = held ? std::exchange(held, std::nullopt) : cursor.Next()) {
    const Line& line = *row;
    auto where = [&] { return path + " line " + std::to_string(line.number); };
    if (line.fields.size() != expected_width)
      throw Error(where() + " has " + std::to_string(line.fields.size()) + " fields, expected " +
                  std::to_string(expected_width) + " (as on line " + std::to_string(width_reference.number) + ")");
    for (size_t j = 0; j < expected_width; ++j) {
      const std::string_view cell = line.fields[j];
      auto at = [&] { return where() + ", column " + std::to_string(j + 1) + ": "; };
      if (j != label_column) {
        const std::optional<double> value = ParseNumber(cell);
        if (!value) throw Error(at() + "expected a number, found " + Describe(cell));
        if (std::abs(*value) > std::numeric_limits<float>::max())
          throw Error(at() + "expected a number within float32 range, found " + Describe(cell));
        dataset.features_f32.push_back(static_cast<float>(*value));
        continue;
      }
      if (!numeric_labels) numeric_labels = ParseNumber(cell).has_value();
      if (*numeric_labels) {
        const std::optional<double> value = ParseNumber(cell);
        if (!value || *value < 0 || std::floor(*value) != *value)
          throw Error(at() + "expected a non-negative integer class label, found " + Describe(cell));
        if (*value >= label_limit)
          throw Error(at() + "label out of range: expected a class index below " +
                      std::to_string(static_cast<uint64_t>(label_limit)) +
                      (sklearn_header ? " (the header names that many classes)" : "") + ", found " +
                      std::string(cell));
        dataset.labels.push_back(static_cast<uint32_t>(*value));
      } else {
        if (cell.empty()) throw Error(at() + "expected a class label, found an empty cell");
        auto [entry, inserted] = label_ids.try_emplace(std::string(cell), static_cast<uint32_t>(label_ids.size()));
        if (inserted) dataset.class_names.push_back(entry->first);
        dataset.labels.push_back(entry->second);
      }
    }
    max_label = std::max(max_label, dataset.labels.back());
  }

  if (sklearn_header) {
    const uint64_t declared = *ParseCount(first.fields[0]);
    Require(declared == dataset.count(),
            path + " line " + std::to_string(first.number) + ": the header declares " + std::to_string(declared) +
                " samples, found " + std::to_string(dataset.count()) + " data rows");
  }
  dataset.num_classes = sklearn_header || !*numeric_labels ? static_cast<uint32_t>(dataset.class_names.size())
                                                          : max_label + 1;
  if (options.standardize) Standardize(dataset.features_f32, feature_count);
  return dataset;
}

}  // namespace ts::data
