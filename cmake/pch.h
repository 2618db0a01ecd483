// Precompiled header: LibTorch's headers cost ~9 s per translation unit; parse them once.
#pragma once
#include <torch/torch.h>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>
