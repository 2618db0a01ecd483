#pragma once
// The one list of detectors: name -> description and factory. Adding a detector adds one line to
// src/detectors/registry.cpp.
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
};

const std::vector<DetectorEntry>& detector_registry();
/// Throws Error listing the registered names when `name` is unknown.
std::unique_ptr<Detector> make_detector(const std::string& name, const nlohmann::json& options = {});

/// Helper for detectors: fills `defaults` with `given`, rejecting keys not in `defaults` and values
/// of another JSON type (numbers may be given as integers or floats) with an Error that lists the
/// valid options of `detector_name`.
nlohmann::json merge_options(const std::string& detector_name, const nlohmann::json& defaults,
                             const nlohmann::json& given);

}  // namespace oneclass
