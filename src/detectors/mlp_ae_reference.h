#pragma once
// The readable implementation of mlp-ae (option impl=reference): see mlp_ae_reference.cpp.
#include <memory>

#include <nlohmann/json.hpp>

#include "oneclass/detectors/detector.h"

namespace oneclass {

/// `options`: mlp-ae's, already resolved and checked by its factory.
std::unique_ptr<Detector> make_reference_mlp_autoencoder(nlohmann::json options);

}  // namespace oneclass
