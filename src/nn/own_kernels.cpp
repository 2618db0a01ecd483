#include "nn/own_kernels.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace oneclass::nn {
namespace {

// On unless the environment asks for LibTorch's kernels; read once, then set_own_kernels's.
std::atomic<bool>& own_kernels_setting() {
  static std::atomic<bool> setting{[] {
    const char* value = std::getenv("ONECLASS_LIBTORCH_KERNELS");
    return value == nullptr || std::strcmp(value, "1") != 0;
  }()};
  return setting;
}

}  // namespace

bool own_kernels_on(const c10::Device& device) { return device.is_cpu() && own_kernels_setting().load(); }

void set_own_kernels(bool on) { own_kernels_setting().store(on); }

}  // namespace oneclass::nn
