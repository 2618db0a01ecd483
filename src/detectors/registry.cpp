// The one list of detectors, in the order `oneclass models` prints them. Each detector's file
// defines `DetectorEntry <id>_entry()`; detector_list.inc names each once.
#include "oneclass/detectors/registry.h"

#include "oneclass/config.h"
#include "oneclass/error.h"

namespace oneclass {

#define ONECLASS_DETECTOR(id) DetectorEntry id##_entry();
#include "detectors/detector_list.inc"
#undef ONECLASS_DETECTOR

const std::vector<DetectorEntry>& detector_registry() {
  static const std::vector<DetectorEntry> registry{
#define ONECLASS_DETECTOR(id) id##_entry(),
#include "detectors/detector_list.inc"
#undef ONECLASS_DETECTOR
  };
  return registry;
}

const DetectorEntry& detector_entry(const std::string& name) {
  std::string known;
  for (const auto& entry : detector_registry()) {
    if (entry.name == name) return entry;
    known += (known.empty() ? "" : ", ") + entry.name;
  }
  throw Error("unknown detector '" + name + "'; registered detectors: " + known + " (see `oneclass models`)");
}

std::unique_ptr<Detector> make_detector(const std::string& name, const nlohmann::json& options) {
  return detector_entry(name).make(options.is_null() ? nlohmann::json::object() : options);
}

void add_option_pair(nlohmann::json& options, const std::string& pair, const std::string& example) {
  const auto eq = pair.find('=');
  if (eq == std::string::npos || eq == 0) throw Error("'" + pair + "' must look like key=value (e.g. " + example + ")");
  const std::string key = pair.substr(0, eq), value = pair.substr(eq + 1);
  options[key] = nlohmann::json::accept(value) ? nlohmann::json::parse(value) : nlohmann::json(value);
}

nlohmann::json merge_options(const std::string& detector_name, const nlohmann::json& defaults,
                             const nlohmann::json& given) {
  nlohmann::json merged = defaults;
  if (given.is_null()) return merged;
  if (!given.is_object()) throw Error(detector_name + ": options must be key=value pairs");
  auto valid = [&] {
    std::string names;
    for (const auto& [key, value] : defaults.items()) names += (names.empty() ? "" : ", ") + key + "=" + value.dump();
    return names;
  };
  for (const auto& [key, value] : given.items()) {
    if (!defaults.contains(key)) {
      throw Error(detector_name + ": unknown option '" + key + "'; valid options (with defaults): " + valid());
    }
    const auto& expected = defaults[key];
    const bool both_numbers = expected.is_number() && value.is_number();
    if (!both_numbers && expected.type() != value.type()) {
      throw Error(detector_name + ": option " + key + "=" + value.dump() + " has the wrong type (default " +
                  expected.dump() + ")");
    }
    if (expected.is_number_integer() && !value.is_number_integer()) {
      throw Error(detector_name + ": option " + key + "=" + value.dump() + " must be a whole number");
    }
    // 1 and 1.0 for a real-valued option are one setting (and one benchmark job key).
    merged[key] = expected.is_number_float() ? nlohmann::json(value.get<double>()) : value;
  }
  return merged;
}

}  // namespace oneclass
