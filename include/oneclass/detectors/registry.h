#pragma once
// The one list of detectors: name -> what it declares about itself and its factory. Each detector's
// file defines its entry; src/detectors/detector_list.inc lists them, one line each
// (docs/adding-a-detector.md).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "oneclass/detectors/detector.h"

namespace oneclass {

struct DetectorEntry {
  std::string name;
  std::string description;  // one line for `oneclass models`
  /// Builds an unfitted detector; options not given keep their defaults, unknown ones are errors.
  std::function<std::unique_ptr<Detector>(const nlohmann::json& options)> make;
  /// Options of a variant that fits the contract tests' 8x8 images in milliseconds.
  nlohmann::json tiny_options = nlohmann::json::object();
  /// The values its option `score` takes (`--score`), default first; empty when it has one score.
  std::vector<std::string> scores = {};
  /// Learns from labelled anomalies, as many as its option `labeled_anomalies` says
  /// (`--labeled-anomalies`); see Detector::labeled_anomalies_wanted.
  bool semi_supervised = false;
};

const std::vector<DetectorEntry>& detector_registry();
/// The entry of `name`; throws Error listing the registered names when it is unknown.
const DetectorEntry& detector_entry(const std::string& name);
/// Throws Error listing the registered names when `name` is unknown.
std::unique_ptr<Detector> make_detector(const std::string& name, const nlohmann::json& options = {});

/// Adds "key=value" to `options`: a value that parses as JSON keeps its type (z=32 is a number),
/// anything else is a string. Throws Error quoting `pair` and `example` when it is not key=value.
void add_option_pair(nlohmann::json& options, const std::string& pair, const std::string& example);

/// Helper for detectors: fills `defaults` with `given`, rejecting keys not in `defaults` and values
/// of another JSON type (numbers may be given as integers or floats) with an Error that lists the
/// valid options of `detector_name`.
nlohmann::json merge_options(const std::string& detector_name, const nlohmann::json& defaults,
                             const nlohmann::json& given);

}  // namespace oneclass
