// The one list of detectors. Adding a detector: write src/detectors/<family>.cpp with a factory,
// declare it below, add one line to the table, and add its tiny variant to the contract tests.
#include "oneclass/detectors/registry.h"

#include "oneclass/config.h"
#include "oneclass/error.h"

namespace oneclass {

// Factories, defined next to each detector.
std::unique_ptr<Detector> make_mlp_autoencoder(const nlohmann::json& options);
std::unique_ptr<Detector> make_nearest_neighbours(const nlohmann::json& options);
std::unique_ptr<Detector> make_principal_components(const nlohmann::json& options);
std::unique_ptr<Detector> make_conv_autoencoder(const nlohmann::json& options);
std::unique_ptr<Detector> make_attribute_restoration(const nlohmann::json& options);
std::unique_ptr<Detector> make_variational_autoencoder(const nlohmann::json& options);
std::unique_ptr<Detector> make_memory_autoencoder(const nlohmann::json& options);
std::unique_ptr<Detector> make_deep_svdd(const nlohmann::json& options);
std::unique_ptr<Detector> make_deep_sad(const nlohmann::json& options);
std::unique_ptr<Detector> make_geometric_transformations(const nlohmann::json& options);
std::unique_ptr<Detector> make_ensemble(const nlohmann::json& options);
#ifdef ONECLASS_HAVE_LIBSVM
std::unique_ptr<Detector> make_one_class_svm(const nlohmann::json& options);
#endif
std::unique_ptr<Detector> make_isolation_forest(const nlohmann::json& options);
std::unique_ptr<Detector> make_kernel_density(const nlohmann::json& options);

const std::vector<DetectorEntry>& detector_registry() {
  static const std::vector<DetectorEntry> registry{
      {"mlp-ae",
       "MLP autoencoder 784-256-128-z (the original experiment); score = reconstruction error (l1 or l2)",
       make_mlp_autoencoder},
      {"knn", "k-nearest-neighbour baseline on raw pixels; score = distance to the k-th nearest normal image",
       make_nearest_neighbours},
      {"pca", "principal components of the normal images; score = squared distance from their subspace",
       make_principal_components},
      {"conv-ae", "LeNet-type convolutional autoencoder (Ruff et al. 2018's DCAE); score = squared reconstruction error",
       make_conv_autoencoder},
      {"arnet", "attribute restoration (Ye et al.): restores images turned by random quarter turns; score = mean "
                "restoration error over the four turns",
       make_attribute_restoration},
      {"vae", "variational autoencoder (MLP or LeNet-type); score = reconstruction probability (An & Cho 2015), "
              "negative ELBO or reconstruction error",
       make_variational_autoencoder},
      {"memae", "memory-augmented autoencoder (Gong et al. 2019); score = squared reconstruction error",
       make_memory_autoencoder},
      {"deep-svdd", "Deep SVDD, one-class or soft-boundary (Ruff et al. 2018); score = squared distance to the centre",
       make_deep_svdd},
      {"deep-sad", "Deep SAD (Ruff et al. 2020): Deep SVDD that also learns from K labelled anomalies; score = "
                   "squared distance to the centre",
       make_deep_sad},
      {"geom", "geometric-transformation prediction (Golan & El-Yaniv 2018); score = how unsure the classifier is "
               "of the transformations",
       make_geometric_transformations},
      {"ensemble", "several detectors (members=knn+geom); score = mean of their scores standardised on held-out "
                   "normal images",
       make_ensemble},
#ifdef ONECLASS_HAVE_LIBSVM
      {"ocsvm", "one-class SVM with an RBF kernel (libsvm); score = minus its decision function", make_one_class_svm},
#endif
      {"iforest", "isolation forest; score = 2^(-mean path length / c(samples)), short paths are anomalous",
       make_isolation_forest},
      {"kde", "Gaussian kernel density of the normal images; score = -log density", make_kernel_density},
  };
  return registry;
}

std::unique_ptr<Detector> make_detector(const std::string& name, const nlohmann::json& options) {
  std::string known;
  for (const auto& entry : detector_registry()) {
    if (entry.name == name) return entry.make(options.is_null() ? nlohmann::json::object() : options);
    known += (known.empty() ? "" : ", ") + entry.name;
  }
  throw Error("unknown detector '" + name + "'; registered detectors: " + known + " (see `oneclass models`)");
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
