#include "detectors/neural.h"

#include <mutex>
#include <ATen/CPUGeneratorImpl.h>

#include "nn/own_kernels.h"
#include "oneclass/error.h"
#include "oneclass/util/random_streams.h"

namespace oneclass {
namespace {

constexpr int64_t kScoreChunk = 1024;  // images per forward pass when scoring: bounds memory

// While alive, the global generator (from which LibTorch initialises layers) runs from `seed`;
// afterwards, even after an exception, it continues as before. A detector's initial weights thus
// depend on its seed alone, not on what was built before it (the benchmark builds several
// detectors before training any), and loading one leaves the caller's random stream untouched.
class GlobalSeed {
 public:
  // Locked: models opened or fitted on several threads at once (the C API, Python) would otherwise
  // race on the one process-wide generator, and initialise their networks from each other's seeds.
  explicit GlobalSeed(uint64_t seed)
      : lock_(mutex()), global_(at::detail::getDefaultCPUGenerator()), saved_(global_.get_state()) {
    global_.set_current_seed(seed);
  }
  ~GlobalSeed() { global_.set_state(saved_); }
  GlobalSeed(const GlobalSeed&) = delete;
  GlobalSeed& operator=(const GlobalSeed&) = delete;

 private:
  static std::mutex& mutex() {
    static std::mutex m;
    return m;
  }
  std::lock_guard<std::mutex> lock_;
  at::Generator global_;
  at::Tensor saved_;
};

// Every parameter's and buffer's shape and type, by name, to check a loaded archive against the network.
std::vector<std::string> tensor_shapes(const torch::nn::Module& module) {
  std::vector<std::string> shapes;
  for (const auto& item : module.named_parameters()) shapes.push_back(item.key() + c10::str(item.value().sizes(), item.value().scalar_type()));
  for (const auto& item : module.named_buffers()) shapes.push_back(item.key() + c10::str(item.value().sizes(), item.value().scalar_type()));
  return shapes;
}

// Convolution weights in channels-last layout where LibTorch's convolutions run them: they then
// run in that layout, and so do the batch norms, activations and pooling after them (bench_roofline:
// its kernels reach 1.5-1.9x the rate of the plain layout at the LeNet shapes). The values are
// unchanged. oneclass's own kernels want the plain layout; `own_kernels` says whether they run.
void lay_out_weights(torch::nn::Module& module, bool own_kernels) {
  if (own_kernels) return;
  torch::NoGradGuard no_grad;
  for (auto& parameter : module.parameters()) {
    if (parameter.dim() == 4) parameter.set_data(parameter.contiguous(at::MemoryFormat::ChannelsLast));
  }
}

}  // namespace

NeuralDetector::NeuralDetector(std::string name, nlohmann::json options)
    : Detector(std::move(name), std::move(options)), generator_(at::make_generator<at::CPUGeneratorImpl>(0)) {
  const auto& o = this->options();
  if (o["epochs"].get<int>() < 0 || o["batch_size"].get<int>() < 1 || o["lr"].get<double>() <= 0 ||
      o["weight_decay"].get<double>() < 0) {
    throw Error(this->name() + ": need epochs >= 0, batch_size >= 1, lr > 0 and weight_decay >= 0 (got " + o.dump() +
                ")");
  }
}

TrainPlan NeuralDetector::plan() const { return {settings()["epochs"].get<int>(), settings()["batch_size"].get<int>()}; }

void NeuralDetector::prepare(const at::Tensor& normal_images, const FitContext& context) {
  {
    GlobalSeed seeded(context.seed);
    module_ = build(input_shape());
  }
  module_->to(device());
  lay_out_weights(*module_, runs_own_kernels() && nn::own_kernels_on(device()));
  module_->train();
  generator_ = random_stream(context.seed, RandomStream::detector);
  optimise(module_->parameters());
  prepare_fit(normal_images, context);
}

void NeuralDetector::optimise(const std::vector<at::Tensor>& parameters) {
  optimizer_ = std::make_unique<torch::optim::Adam>(
      parameters,
      torch::optim::AdamOptions(settings()["lr"].get<double>()).weight_decay(settings()["weight_decay"].get<double>()));
}

double NeuralDetector::train_step(const at::Tensor& batch) {
  optimizer_->zero_grad();
  auto value = loss(batch);
  value.backward();
  optimizer_->step();
  return value.item<double>();
}

void NeuralDetector::end_fit(const at::Tensor& normal_images) {
  optimizer_.reset();  // Adam's moments are twice the network; scoring needs neither
  module_->eval();
  torch::NoGradGuard no_grad;
  finish_fit(normal_images);
}

at::Tensor NeuralDetector::score_batch(const at::Tensor& images) {
  return in_chunks(images, [&](const at::Tensor& chunk) { return score_chunk(chunk).to(torch::kDouble); });
}

at::Tensor NeuralDetector::in_chunks(const at::Tensor& images,
                                     const std::function<at::Tensor(const at::Tensor&)>& per_chunk) {
  // Scoring mutates nothing, so that several threads may score with one detector (the service,
  // the C API); the module is in evaluation mode since end_fit or load, and is switched only if not.
  if (module_->is_training()) module_->eval();
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> parts;
  for (int64_t start = 0; start < images.size(0); start += kScoreChunk) {
    parts.push_back(per_chunk(images.narrow(0, start, std::min(kScoreChunk, images.size(0) - start)).to(device())));
  }
  if (parts.empty()) return per_chunk(images.to(device()));  // an empty batch keeps its result's shape
  return parts.size() == 1 ? parts.front() : torch::cat(parts);
}

at::Tensor NeuralDetector::normal_noise(const std::vector<int64_t>& sizes) {
  return torch::randn(sizes, generator_, torch::kFloat).to(device());
}

void NeuralDetector::save_state(torch::serialize::OutputArchive& archive) const {
  torch::serialize::OutputArchive network;
  module_->save(network);
  archive.write("network", network);
  save_extra(archive);
}

void NeuralDetector::load_state(torch::serialize::InputArchive& archive) {
  {
    GlobalSeed seeded(0);  // the weights are about to be replaced; keep the caller's stream as it was
    module_ = build(input_shape());
  }
  const auto expected = tensor_shapes(*module_);
  torch::serialize::InputArchive network;
  archive.read("network", network);
  const std::string mismatch = name() + ": stored network does not match its options and input shape " +
                               c10::str(c10::IntArrayRef(input_shape())) +
                               " (a model of images larger than 32x32 saved before the networks grew stages with "
                               "the image size must be trained again)";
  try {
    module_->load(network);
  } catch (const c10::Error&) {  // a layer the stored network lacks, or one of another shape
    throw Error(mismatch);
  }
  if (tensor_shapes(*module_) != expected) throw Error(mismatch);
  module_->to(device());
  lay_out_weights(*module_, runs_own_kernels() && nn::own_kernels_on(device()));
  module_->eval();
  load_extra(archive);
}

at::Tensor squared_error_per_image(const at::Tensor& reconstruction, const at::Tensor& images) {
  return (reconstruction - images).square().flatten(1).sum(1).to(torch::kDouble);
}

at::Tensor rotate_quarter_turns(const at::Tensor& images, int64_t quarter_turns) {
  return quarter_turns % 4 == 0 ? images : images.rot90(quarter_turns, {2, 3});
}

}  // namespace oneclass
