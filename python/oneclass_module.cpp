// oneclass._oneclass: the compiled half of the Python package (python/oneclass/__init__.py is the
// other). It takes NumPy arrays already normalised by __init__.py to [N, H, W, C], uint8 or
// float32, C-contiguous, and releases the GIL while it scores or trains.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstring>

#include <torch/torch.h>

#include "cli.h"
#include "oneclass/config.h"
#include "oneclass/detectors/registry.h"
#include "oneclass/engine/fit_images.h"
#include "oneclass/engine/scoring_model.h"
#include "oneclass/error.h"
#include "oneclass/util/system_info.h"

namespace py = pybind11;

namespace {

using oneclass::Error;

// A [N, H, W, C] array as N pixel views into its memory.
std::vector<oneclass::data::PixelView> views_of(const py::array& images) {
  const py::buffer_info info = images.request();
  if (info.ndim != 4) throw Error("images must be [N, H, W, C]");
  const bool is_float = py::isinstance<py::array_t<float>>(images);
  if (!is_float && !py::isinstance<py::array_t<uint8_t>>(images)) throw Error("images must be uint8 or float32");
  std::vector<oneclass::data::PixelView> views;
  const auto* base = static_cast<const char*>(info.ptr);
  for (py::ssize_t i = 0; i < info.shape[0]; ++i) {
    oneclass::data::PixelView view;
    view.data = base + i * info.strides[0];
    view.height = static_cast<int>(info.shape[1]);
    view.width = static_cast<int>(info.shape[2]);
    view.channels = static_cast<int>(info.shape[3]);
    view.stride = info.strides[1];
    view.is_float = is_float;
    views.push_back(view);
  }
  return views;
}

std::vector<oneclass::PreparedImage> prepare(const std::vector<oneclass::data::PixelView>& views,
                                             const nlohmann::json& config, const std::vector<int64_t>& shape) {
  std::vector<oneclass::PreparedImage> prepared;
  prepared.reserve(views.size());
  for (size_t i = 0; i < views.size(); ++i) {
    prepared.push_back(oneclass::prepare_pixels_for_run(views[i], "image " + std::to_string(i), config, shape));
  }
  return prepared;
}

// Scores and (optionally) maps as NumPy arrays.
py::tuple to_numpy(const std::vector<oneclass::Verdict>& verdicts, bool with_maps) {
  py::array_t<double> scores(static_cast<py::ssize_t>(verdicts.size()));
  auto* out = scores.mutable_data();
  for (size_t i = 0; i < verdicts.size(); ++i) out[i] = verdicts[i].score;
  if (!with_maps || verdicts.empty() || !verdicts.front().map.defined()) return py::make_tuple(scores, py::none());
  const auto height = verdicts.front().map.size(0), width = verdicts.front().map.size(1);
  py::array_t<float> maps({static_cast<py::ssize_t>(verdicts.size()), static_cast<py::ssize_t>(height),
                           static_cast<py::ssize_t>(width)});
  for (size_t i = 0; i < verdicts.size(); ++i) {
    std::memcpy(maps.mutable_data(static_cast<py::ssize_t>(i)), verdicts[i].map.data_ptr<float>(),
                sizeof(float) * static_cast<size_t>(height * width));
  }
  return py::make_tuple(scores, maps);
}

// A fitted detector before (or after) it is saved: Detector.fit's result.
class Fitted {
 public:
  Fitted(oneclass::FittedImages fitted) : fitted_(std::move(fitted)) {}

  py::tuple score(const py::array& images, bool with_maps) {
    const auto views = views_of(images);
    const auto& shape = fitted_.detector->input_shape();
    std::vector<oneclass::Verdict> verdicts;
    {
      py::gil_scoped_release release;
      for (const auto& view : views) {
        if (view.channels != shape[0] || view.height != shape[1] || view.width != shape[2]) {
          throw Error("X holds images of " + std::to_string(view.height) + "x" + std::to_string(view.width) + "x" +
                      std::to_string(view.channels) + " (H x W x C), but the detector was fitted on " +
                      std::to_string(shape[1]) + "x" + std::to_string(shape[2]) + "x" + std::to_string(shape[0]));
        }
      }
      torch::NoGradGuard no_grad;
      const auto prepared = prepare(views, fitted_.config, shape);
      const bool maps = with_maps;
      for (const auto& image : prepared) {  // one image per call, as ScoringModel scores
        const auto batch = image.pixels.unsqueeze(0).to(fitted_.detector->device());
        oneclass::Verdict verdict;
        verdict.score = fitted_.detector->score(batch).item<double>();
        verdict.flagged = verdict.score > fitted_.threshold;
        if (maps) {
          auto map = fitted_.detector->anomaly_map(batch);
          if (!map) throw Error(fitted_.detector->name() + " gives no anomaly maps");
          verdict.map = map->squeeze(0).to(torch::kCPU, torch::kFloat).contiguous();
        }
        verdicts.push_back(std::move(verdict));
      }
    }
    return to_numpy(verdicts, with_maps);
  }

  double threshold() const { return fitted_.threshold; }
  std::vector<int64_t> input_shape() const { return fitted_.detector->input_shape(); }
  std::string metrics_json() const { return fitted_.metrics.dump(); }
  void save(const std::string& run_dir, bool overwrite) { oneclass::save_fitted_images(fitted_, run_dir, overwrite); }

 private:
  oneclass::FittedImages fitted_;
};

std::unique_ptr<Fitted> fit(const py::array& images, const std::string& model, const std::string& options_json,
                            uint64_t seed, double val_fraction, double target_fpr, const std::string& device,
                            bool progress) {
  const auto views = views_of(images);
  if (views.empty()) throw Error("X holds no images");
  oneclass::ImageFitOptions options;
  options.model = model;
  options.model_options = nlohmann::json::parse(options_json);
  options.seed = seed;
  options.val_fraction = val_fraction;
  options.target_fpr = target_fpr;
  options.device = device;
  options.progress = progress;
  py::gil_scoped_release release;
  const std::vector<int64_t> shape{views[0].channels, views[0].height, views[0].width};
  if (shape[0] != 1 && shape[0] != 3) {
    throw Error("X has " + std::to_string(shape[0]) + " channels; give grey (1) or RGB (3) images");
  }
  const nlohmann::json arrays = {{"dataset", "arrays"}};
  std::vector<at::Tensor> pixels;
  for (const auto& image : prepare(views, arrays, shape)) pixels.push_back(image.pixels);
  return std::make_unique<Fitted>(oneclass::fit_images(torch::stack(pixels), options));
}

class Model {
 public:
  Model(const std::string& run_dir, const std::string& device) {
    py::gil_scoped_release release;
    model_ = oneclass::ScoringModel::open(run_dir, device);
  }

  py::tuple score(const py::array& images, bool with_maps) {
    const auto views = views_of(images);
    if (with_maps && !model_->has_maps()) {
      throw Error(model_->detector_name() + " gives no anomaly maps; detectors with maps: see oneclass.models()");
    }
    std::vector<oneclass::Verdict> verdicts;
    {
      py::gil_scoped_release release;
      verdicts = model_->score(prepare(views, model_->config(), model_->input_shape()), with_maps);
    }
    return to_numpy(verdicts, with_maps);
  }

  // Image files, read as `oneclass score` reads them.
  py::tuple score_files(const std::vector<std::string>& paths, bool with_maps) {
    std::vector<oneclass::Verdict> verdicts;
    {
      py::gil_scoped_release release;
      std::vector<oneclass::PreparedImage> prepared;
      for (const auto& path : paths) prepared.push_back(model_->prepare_file(path));
      verdicts = model_->score(prepared, with_maps && model_->has_maps());
    }
    return to_numpy(verdicts, with_maps);
  }

  const oneclass::ScoringModel& model() const { return *model_; }

 private:
  std::unique_ptr<oneclass::ScoringModel> model_;
};

int run_cli(const std::vector<std::string>& args) {
  py::gil_scoped_release release;
  oneclass::configure_threads(0);
  return oneclass::cli::run_command_line(args);
}

py::list models() {
  py::list list;
  for (const auto& entry : oneclass::detector_registry()) {
    py::dict d;
    d["name"] = entry.name;
    d["description"] = entry.description;
    d["options_json"] = entry.make({})->options().dump();
    d["scores"] = entry.scores;
    d["semi_supervised"] = entry.semi_supervised;
    list.append(d);
  }
  return list;
}

}  // namespace

PYBIND11_MODULE(_oneclass, m) {
  m.doc() = "oneclass: image anomaly detection trained on normal images only (compiled part)";
  m.attr("__version__") = ONECLASS_VERSION;
  static py::exception<Error> error(m, "Error", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      error(e.what());
    } catch (const c10::Error& e) {
      error((std::string("LibTorch: ") + e.what_without_backtrace()).c_str());
    }
  });

  py::class_<Model>(m, "_Model")
      .def(py::init<const std::string&, const std::string&>(), py::arg("run_dir"), py::arg("device") = "auto")
      .def("score", &Model::score, py::arg("images"), py::arg("with_maps") = false)
      .def("score_files", &Model::score_files, py::arg("paths"), py::arg("with_maps") = false)
      .def_property_readonly("threshold", [](const Model& m) { return m.model().threshold(); })
      .def_property_readonly("detector", [](const Model& m) { return m.model().detector_name(); })
      .def_property_readonly("input_shape", [](const Model& m) { return m.model().input_shape(); })
      .def_property_readonly("has_maps", [](const Model& m) { return m.model().has_maps(); })
      .def_property_readonly("trained_on", [](const Model& m) { return m.model().trained_on(); })
      .def_property_readonly("config_json", [](const Model& m) { return m.model().config().dump(); })
      .def_property_readonly("metrics_json", [](const Model& m) { return m.model().metrics().dump(); });

  py::class_<Fitted>(m, "_Fitted")
      .def("score", &Fitted::score, py::arg("images"), py::arg("with_maps") = false)
      .def("save", &Fitted::save, py::arg("run_dir"), py::arg("overwrite") = false)
      .def_property_readonly("threshold", &Fitted::threshold)
      .def_property_readonly("input_shape", &Fitted::input_shape)
      .def_property_readonly("metrics_json", &Fitted::metrics_json);

  m.def("_fit", &fit, py::arg("images"), py::arg("model"), py::arg("options_json"), py::arg("seed"),
        py::arg("val_fraction"), py::arg("target_fpr"), py::arg("device"), py::arg("progress"));
  m.def("_run_cli", &run_cli, py::arg("args"));
  m.def("_models", &models);
}
