#include "oneclass/bench/jobs.h"

#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "oneclass/data/datasets.h"
#include "oneclass/data/folder_dataset.h"
#include "oneclass/data/split.h"
#include "oneclass/detectors/registry.h"
#include "oneclass/engine/experiment.h"
#include "oneclass/error.h"

namespace oneclass::bench {
namespace {

// Part of every job's key: bump it when a change to the protocol makes old results incomparable.
constexpr int kJobFormat = 1;
// More seeds than anyone runs; a typo such as 0-2147483647 would otherwise exhaust memory.
constexpr long kMaxSeeds = 10000;

std::vector<std::string> split_on(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  for (std::string part; std::getline(stream, part, separator);) parts.push_back(part);
  return parts;
}

// FNV-1a 64 with its published offset basis and prime (written in hex, as published).
uint64_t fnv1a64(const std::string& text) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

// "mlp-ae(z=32, epochs=5)" for the options that differ from the defaults, else just the name.
std::string label_of(const std::string& name, const nlohmann::json& options, const nlohmann::json& defaults) {
  std::string changed;
  for (const auto& [key, value] : options.items()) {
    if (defaults.contains(key) && defaults[key] == value) continue;
    changed += (changed.empty() ? "" : ", ") + key + "=" + (value.is_string() ? value.get<std::string>() : value.dump());
  }
  return changed.empty() ? name : name + "(" + changed + ")";
}

}  // namespace

std::vector<ModelSpec> parse_model_list(const std::string& text) {
  if (!text.empty() && (text.back() == ',' || text.back() == ':')) {
    throw Error("--models '" + text + "' ends with '" + text.back() + "'; write e.g. mlp-ae,knn:k=5");
  }
  std::vector<ModelSpec> models;
  for (const auto& item : split_on(text, ',')) {
    const auto parts = split_on(item, ':');
    if (parts.empty() || parts[0].empty()) {
      throw Error("--models '" + text + "': empty model name; write e.g. mlp-ae,knn:k=5");
    }
    ModelSpec spec{parts[0], nlohmann::json::object()};
    for (size_t i = 1; i < parts.size(); ++i) {
      try {
        add_option_pair(spec.options, parts[i], "mlp-ae:z=32");
      } catch (const Error& e) {
        throw Error("--models '" + text + "': option of " + spec.name + " " + e.what());
      }
    }
    models.push_back(std::move(spec));
  }
  if (models.empty()) throw Error("--models is empty; give at least one detector (see `oneclass models`)");
  return models;
}

void apply_shared_options(std::vector<ModelSpec>& models, const nlohmann::json& shared) {
  for (const auto& [key, value] : shared.items()) {
    bool used = false;
    for (auto& model : models) {
      if (!make_detector(model.name)->options().contains(key)) continue;
      if (!model.options.contains(key)) model.options[key] = value;
      used = true;
    }
    if (!used) throw Error("option " + key + " is not an option of any model in --models");
  }
}

void expand_labeled_anomalies(std::vector<ModelSpec>& models, const std::string& counts_text) {
  if (counts_text.empty()) return;
  std::vector<uint64_t> counts;
  try {
    counts = parse_seeds(counts_text);  // the same grammar: "0,10,100" or "0-4"
  } catch (const Error&) {
    throw Error("--labeled-anomalies '" + counts_text + "' must be counts such as 0,10,100");
  }
  std::vector<ModelSpec> expanded;
  bool used = false;
  for (const auto& model : models) {
    const bool semi_supervised = detector_entry(model.name).semi_supervised;
    used = used || semi_supervised;
    if (!semi_supervised || model.options.contains("labeled_anomalies")) {
      expanded.push_back(model);
      continue;
    }
    for (const auto count : counts) {
      expanded.push_back(model);
      expanded.back().options["labeled_anomalies"] = count;
    }
  }
  if (!used) {
    throw Error("--labeled-anomalies: no model in --models learns from labelled anomalies (deep-sad does)");
  }
  models = std::move(expanded);
}

std::vector<uint64_t> parse_seeds(const std::string& text) {
  std::vector<uint64_t> seeds;
  const auto fail = [&] {
    return Error("--seeds '" + text + "': expected numbers or ranges such as 0-4 or 0,3,7 (each below 2^31)");
  };
  if (!text.empty() && text.back() == ',') throw fail();
  for (const auto& part : split_on(text, ',')) {
    const auto dash = part.find('-', 1);
    try {
      size_t used = 0;
      const long first = std::stol(part.substr(0, dash), &used);
      if (used != part.substr(0, dash).size()) throw fail();
      long last = first;
      if (dash != std::string::npos) {
        last = std::stol(part.substr(dash + 1), &used);
        if (used != part.size() - dash - 1) throw fail();
      }
      if (first < 0 || last < first || last > 2147483647L) throw fail();
      if (last - first >= kMaxSeeds - static_cast<long>(seeds.size())) {
        throw Error("--seeds '" + text + "' asks for more than " + std::to_string(kMaxSeeds) + " seeds");
      }
      for (long s = first; s <= last; ++s) seeds.push_back(static_cast<uint64_t>(s));
    } catch (const std::logic_error&) {  // stol: not a number, or out of range
      throw fail();
    }
  }
  if (seeds.empty()) throw fail();
  return seeds;
}

bool is_folder_dataset(const std::string& dataset) { return dataset.rfind("folder:", 0) == 0; }

std::string folder_path(const std::string& dataset) { return dataset.substr(std::string("folder:").size()); }

nlohmann::json Job::config() const {
  // nlohmann::json objects keep their keys sorted, so dump() is canonical.
  nlohmann::json c = {{"format", kJobFormat}, {"dataset", dataset}, {"model", model}, {"options", options},
                      {"seed", seed}, {"val_fraction", val_fraction}, {"device", device}};
  if (is_folder_dataset(dataset)) {
    // A category is known by its name: its place in the folder changes when categories are added.
    c.update({{"category", category}, {"image_size", image_size}, {"channels", channels}});
  } else {
    c["class"] = normal_class;
  }
  return c;
}

std::string Job::key() const {
  return fmt::format("{:016x}", fnv1a64(config().dump()));
}

std::string Job::describe() const {
  const std::string task = is_folder_dataset(dataset) ? category : "class " + std::to_string(normal_class);
  return dataset + " / " + label + " / " + task + " / seed " + std::to_string(seed);
}

namespace {

// One task of a data set: a normal class of a labelled data set, or a category of a folder.
struct Task {
  int normal_class = 0;
  std::string category;
};

// Checks the data set's name (or finds the folder's categories) before any job is planned.
std::vector<Task> tasks_of(const std::string& dataset, const PlanOptions& options) {
  std::vector<Task> tasks;
  if (is_folder_dataset(dataset)) {
    if (folder_path(dataset).empty()) throw Error("--datasets " + dataset + ": write folder:PATH, e.g. folder:runs/demo-data");
    int place = 0;
    for (const auto& category : data::find_folder_categories(folder_path(dataset))) tasks.push_back({place++, category.name});
    return tasks;
  }
  data::dataset_info(dataset);  // throws for an unknown name
  for (int normal_class : options.classes) tasks.push_back({normal_class, ""});
  return tasks;
}

// "folder:data/" and "folder:./data" are "folder:data": one spelling, one set of keys to resume.
std::string canonical_dataset(const std::string& dataset) {
  if (!is_folder_dataset(dataset) || folder_path(dataset).empty()) return dataset;
  auto path = std::filesystem::path(folder_path(dataset)).lexically_normal().string();
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return "folder:" + path;
}

}  // namespace

std::vector<Job> plan_jobs(const PlanOptions& options) {
  if (options.datasets.empty() || options.models.empty() || options.classes.empty() || options.seeds.empty()) {
    throw Error("bench: the plan is empty; give at least one data set, model, class and seed");
  }
  std::vector<std::string> datasets;
  for (const auto& dataset : options.datasets) datasets.push_back(canonical_dataset(dataset));
  std::vector<std::vector<Task>> tasks;
  for (const auto& dataset : datasets) tasks.push_back(tasks_of(dataset, options));
  std::vector<Job> jobs;
  std::set<std::string> keys;  // a model listed twice plans its jobs once
  for (size_t d = 0; d < datasets.size(); ++d) {
    const std::string& dataset = datasets[d];
    const bool folder = is_folder_dataset(dataset);
    for (const auto& model : options.models) {
      const auto detector = make_detector(model.name, model.options);  // validates the options
      const nlohmann::json resolved = detector->options();
      if (folder) require_one_class_for_folder_data(*detector, "--datasets " + dataset);
      const std::string label = label_of(model.name, resolved, make_detector(model.name)->options());
      for (const auto& task : tasks[d]) {
        for (uint64_t seed : options.seeds) {
          Job job;
          job.dataset = dataset;
          job.category = task.category;
          job.image_size = folder ? options.image_size : 0;
          job.channels = folder ? options.channels : 0;
          job.model = model.name;
          job.options = resolved;
          job.label = label;
          job.normal_class = task.normal_class;
          job.seed = seed;
          job.val_fraction = options.val_fraction;
          job.device = options.device;
          if (keys.insert(job.key()).second) jobs.push_back(std::move(job));
        }
      }
    }
  }
  return jobs;
}

std::vector<std::vector<Job>> stack_jobs(const std::vector<Job>& jobs, int max_stack) {
  std::vector<std::vector<Job>> stacks;
  std::map<std::string, size_t> open;  // (dataset, model, options) -> index of its unfilled stack
  for (const auto& job : jobs) {
    // Categories of one folder differ in image shape (grey or colour), so they never share a stack.
    const std::string kind = job.dataset + "\n" + job.category + "\n" + job.model + "\n" + job.options.dump() + "\n" +
                             std::to_string(job.val_fraction) + "\n" + job.device;
    auto it = open.find(kind);
    if (it == open.end() || (max_stack > 0 && static_cast<int>(stacks[it->second].size()) >= max_stack)) {
      stacks.emplace_back();
      it = open.insert_or_assign(kind, stacks.size() - 1).first;
    }
    stacks[it->second].push_back(job);
  }
  return stacks;
}

}  // namespace oneclass::bench
