// Loader for numeric CSV classification data: feature columns of numbers and
// one label column, plain or gzipped (.csv.gz, detected by its magic bytes).
//
// Fields are separated by commas; surrounding spaces and double quotes are
// stripped from each field (quoted fields may not contain commas). Blank lines
// and '\r' line endings are accepted. Line and column numbers in error
// messages are 1-based and count the header line.
//
// Header forms (detected when CsvOptions::has_header is unset):
//  - sklearn style, as in sklearn's iris.csv: "150,4,setosa,versicolor,virginica"
//    (sample count, feature count, class names). The counts are checked against
//    the data and the names become Dataset::class_names.
//  - column names: a first line whose feature columns are not all numbers.
//
// Labels: when the first data row's label is a number, every label must be a
// non-negative integer and num_classes = max label + 1 (or the number of names
// in an sklearn header, which then bounds the labels). Otherwise labels are
// strings, mapped to 0, 1, ... in order of first appearance and kept as
// class_names.
//
// Size: at most kMaxCsvBytes of text (after decompression); a larger file is
// refused as soon as decompressing passes the limit. The loaded features take
// up to twice the text's size again ("0,1\n" is 4 bytes of text, 8 of data).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "compute/data/dataset.h"

namespace ts::data {

inline constexpr uint64_t kMaxCsvBytes = uint64_t{128} << 20;

struct CsvOptions {
  // Index of the label column; negative values count from the end (-1: last).
  int label_column = -1;
  // Whether the first line is a header; unset: detect it (see above).
  std::optional<bool> has_header;
  // Standardise each feature to zero mean and unit variance using the file's
  // own statistics (a constant feature is only centred). Dataset has a single
  // global scale/offset, so this is applied to features_f32 at load time and
  // the result keeps scale = 1, offset = 0.
  bool standardize = true;
};

// Loads `path` into a kFloat32 dataset with sample_shape {feature count} and
// name = the file name. Throws ts::Error naming the file, the line and column,
// and what was expected vs found for: a missing or empty file, a ragged row, a
// non-numeric feature cell, a bad or out-of-range label, or an sklearn header
// whose counts disagree with the data.
Dataset LoadCsv(const std::string& path, const CsvOptions& options = {});

}  // namespace ts::data
