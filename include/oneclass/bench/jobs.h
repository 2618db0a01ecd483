#pragma once
// The benchmark's plan: one job per (data set, model with options, normal class, seed); for a
// folder data set ("folder:PATH") one job per (category, model, seed) instead. A job's
// key is a hash of everything its result depends on, so a finished job is recognised on a re-run
// and a changed setting (or a changed default) makes a new job rather than reusing an old result.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace oneclass::bench {

/// A detector with its options as given (defaults are filled in when jobs are planned).
struct ModelSpec {
  std::string name;
  nlohmann::json options = nlohmann::json::object();
};

/// "mlp-ae,knn:k=5,mlp-ae:z=32:epochs=5": models separated by commas, each name followed by
/// ":key=value" options. Values that parse as JSON keep their type, others are strings.
std::vector<ModelSpec> parse_model_list(const std::string& text);

/// Gives each of `shared` (-o key=value, --epochs) to every model that has that option; a model's
/// own :key=value wins. An option no model has is an Error.
void apply_shared_options(std::vector<ModelSpec>& models, const nlohmann::json& shared);

/// --labeled-anomalies 0,10,100: each semi-supervised model (DetectorEntry::semi_supervised) once
/// per count, unless it gives its own :labeled_anomalies=K; other models are left alone. An Error
/// when the list does not parse or no model is semi-supervised. An empty list changes nothing.
void expand_labeled_anomalies(std::vector<ModelSpec>& models, const std::string& counts);

/// "folder:PATH" names a folder data set (MVTec AD or normal/abnormal layout, or a folder of
/// such categories); other names are labelled data sets (mnist, fashion-mnist).
bool is_folder_dataset(const std::string& dataset);
/// PATH of "folder:PATH".
std::string folder_path(const std::string& dataset);

struct Job {
  std::string dataset;            // "mnist", or "folder:PATH"
  std::string category;           // folder data: the category ("" otherwise)
  int image_size = 0;             // folder data: the side images are resized and cropped to (0 otherwise)
  int channels = 0;               // folder data: 1, 3, or 0 = from the training images
  std::string model;              // registry name
  nlohmann::json options;         // every option, defaults filled in
  std::string label;              // display name: model plus the options that differ from its defaults
  int normal_class = 0;           // folder data: the category's place among the data set's, for the tables
  uint64_t seed = 0;
  double val_fraction = 0.1;      // normal training images held out (threshold metrics, never trained on)
  std::string device = "cpu";     // device type: results on another device differ in rounding

  /// Everything the result depends on, as canonical JSON (sorted keys, fixed layout).
  nlohmann::json config() const;
  /// 16 hex digits: FNV-1a 64 of config().dump().
  std::string key() const;
  /// "mnist / mlp-ae / class 3 / seed 1", or "folder:data / patch-knn / wood / seed 0"
  std::string describe() const;
};

struct PlanOptions {
  std::vector<std::string> datasets{"mnist"};
  std::vector<ModelSpec> models{{"mlp-ae", nlohmann::json::object()}};
  std::vector<int> classes{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};  // of labelled data sets; a folder data set has categories
  std::vector<uint64_t> seeds{0, 1, 2, 3, 4};
  int image_size = 256;  // folder data sets: as `run --image-size`
  int channels = 0;      // folder data sets: as `run --channels`
  double val_fraction = 0.1;
  std::string device = "cpu";  // "cpu" or "cuda": part of every job's key
};

/// Every job, ordered by data set, model, class (or category), seed. Throws Error for an unknown
/// data set or model, options the model rejects, or a folder that holds no data set layout.
std::vector<Job> plan_jobs(const PlanOptions& options);

/// Parses "0-4" or "0,2,7" into seeds (0 .. 2^31-1). Throws Error naming the text otherwise.
std::vector<uint64_t> parse_seeds(const std::string& text);

/// Jobs that can be trained together as one stack: same data set (and category), model and
/// options, in plan order, at most `max_stack` per stack (0 = no limit).
std::vector<std::vector<Job>> stack_jobs(const std::vector<Job>& jobs, int max_stack);

}  // namespace oneclass::bench
