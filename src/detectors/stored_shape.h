#pragma once
// A detector's stored input shape [C, H, W], read back from its archive. The archive is a file a
// user hands us: the shape is checked (type, rank, sizes within bounds) before anything is sized
// from it, and read on the CPU whatever device the detector is loaded to.
#include <cstdint>
#include <string>
#include <vector>

#include <torch/serialize.h>

namespace oneclass {

void write_input_shape(torch::serialize::OutputArchive& archive, const std::vector<int64_t>& shape);
/// Throws Error naming `detector` when the stored shape is missing its form or out of bounds.
std::vector<int64_t> read_input_shape(torch::serialize::InputArchive& archive, const std::string& detector);

}  // namespace oneclass
