// The published figures of reference methods (data/published_auroc.json, compiled in): parsed
// once and checked field by field, so a typo in the data file is an error naming the entry.
#include <cstdio>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "oneclass/error.h"
#include "oneclass/report/bench_report.h"
#include "report/bench_report_internal.h"

using nlohmann::json;

namespace oneclass::report {
namespace {

const std::set<std::string> kPublishedFields = {"method",   "source",     "dataset",  "mean_auroc",
                                                "per_class", "extra_data", "verified", "note"};

const json& field(const json& entry, const std::string& name, const std::string& where) {
  auto it = entry.find(name);
  if (it == entry.end()) throw Error(where + ": missing field \"" + name + "\"");
  return *it;
}

std::string string_field(const json& entry, const std::string& name, const std::string& where, bool may_be_empty) {
  const json& v = field(entry, name, where);
  if (!v.is_string() || (!may_be_empty && v.get<std::string>().empty()))
    throw Error(where + ": \"" + name + "\" must be a " + (may_be_empty ? "string" : "non-empty string"));
  return v.get<std::string>();
}

bool bool_field(const json& entry, const std::string& name, const std::string& where) {
  const json& v = field(entry, name, where);
  if (!v.is_boolean()) throw Error(where + ": \"" + name + "\" must be true or false");
  return v.get<bool>();
}

// A percentage: finite, above 0 (no method is that bad, so 0 is a typo) and at most 100.
double percent_value(const json& v, const std::string& what, const std::string& where) {
  if (!v.is_number() || !(v.get<double>() > 0 && v.get<double>() <= 100))
    throw Error(where + ": " + what + " must be a number in (0, 100] (percent), got " + v.dump());
  return v.get<double>();
}

std::vector<double> per_class_field(const json& entry, double mean, const std::string& where) {
  const json& v = field(entry, "per_class", where);
  if (!v.is_array() || (!v.empty() && v.size() != 10))
    throw Error(where + ": \"per_class\" must be an array of 10 values (classes 0 to 9) or empty, got " + v.dump());
  std::vector<double> values;
  for (size_t c = 0; c < v.size(); ++c)
    values.push_back(percent_value(v[c], "per_class[" + std::to_string(c) + "]", where));
  if (values.empty()) return values;
  double average = 0;
  for (double x : values) average += x / static_cast<double>(values.size());
  // Each figure is rounded to one decimal: their average and the mean may differ by 0.05 each.
  if (std::abs(average - mean) > 0.1 + 1e-9)
    throw Error(where + ": the per-class values average " + fmt::format("{:.2f}", average) + ", not mean_auroc " +
                fmt::format("{:.1f}", mean) + "; check the transcription");
  return values;
}

PublishedResult parse_entry(const json& entry, const std::string& position) {
  if (!entry.is_object()) throw Error(position + ": expected an object, got " + entry.dump());
  auto name_of = [&](const char* key) {
    auto it = entry.find(key);
    return it != entry.end() && it->is_string() ? it->get<std::string>() : "?";
  };
  std::string where = position + " (" + name_of("method") + ", " + name_of("dataset") + ")";
  for (const auto& item : entry.items())
    if (!kPublishedFields.count(item.key()))
      throw Error(where + ": unknown field \"" + item.key() +
                  "\"; the fields are method, source, dataset, mean_auroc, per_class, extra_data, verified, note");
  PublishedResult p;
  p.method = string_field(entry, "method", where, false);
  p.source = string_field(entry, "source", where, false);
  p.dataset = string_field(entry, "dataset", where, false);
  if (p.dataset != "mnist" && p.dataset != "fashion-mnist")
    throw Error(where + ": dataset must be \"mnist\" or \"fashion-mnist\", got \"" + p.dataset + "\"");
  p.mean_auroc = percent_value(field(entry, "mean_auroc", where), "mean_auroc", where);
  p.per_class = per_class_field(entry, p.mean_auroc, where);
  p.extra_data = bool_field(entry, "extra_data", where);
  p.verified = bool_field(entry, "verified", where);
  p.note = string_field(entry, "note", where, true);
  return p;
}

}  // namespace

namespace detail {

std::vector<PublishedResult> parse_published_results(const std::string& json_text, const std::string& origin) {
  json doc;
  try {
    doc = json::parse(json_text);
  } catch (const json::exception& e) {
    throw Error(origin + ": not valid JSON: " + e.what());
  }
  if (!doc.is_object() || !doc.contains("results") || !doc["results"].is_array())
    throw Error(origin + ": expected an object with a \"results\" array");
  std::vector<PublishedResult> results;
  std::set<std::tuple<std::string, std::string, std::string>> seen;
  for (size_t i = 0; i < doc["results"].size(); ++i) {
    std::string position = origin + ", entry " + std::to_string(i);
    PublishedResult p = parse_entry(doc["results"][i], position);
    if (!seen.insert({p.method, p.dataset, p.source}).second)
      throw Error(position + " (" + p.method + ", " + p.dataset + "): a second figure from " + p.source +
                  "; keep one entry per method, data set and source");
    results.push_back(std::move(p));
  }
  return results;
}

}  // namespace detail

const std::vector<PublishedResult>& published_results() {
  // Parsed once; a bad entry is a bug in data/published_auroc.json and throws on first use.
  static const std::vector<PublishedResult> results = detail::parse_published_results(
      std::string(detail::published_auroc_json()), "data/published_auroc.json (compiled in)");
  return results;
}

}  // namespace oneclass::report
