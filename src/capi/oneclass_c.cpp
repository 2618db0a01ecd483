// The C API (include/oneclass/oneclass.h) over ScoringModel. Every entry point catches every
// exception: a C caller gets a status and a message, never an unwinding C++ stack.
#include "oneclass/oneclass.h"

#include <new>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "oneclass/config.h"
#include "oneclass/engine/scoring_model.h"
#include "oneclass/error.h"

struct oneclass_model {
  std::unique_ptr<oneclass::ScoringModel> model;
};

struct oneclass_result {
  std::vector<oneclass::Verdict> verdicts;
};

namespace {

thread_local std::string last_error;

// A failure the caller can act on, with the status it maps to.
struct Failure {
  oneclass_status status;
  std::string message;
};

// Keeps a message for oneclass_last_error(). Copying it may itself fail (out of memory): then a
// fixed message, so that nothing is thrown across the C boundary.
void remember(const char* message) noexcept {
  try {
    last_error = message;
  } catch (...) {
    last_error.clear();
  }
}

template <typename Body>
oneclass_status guarded(oneclass_status error_status, Body body) noexcept {
  try {
    body();
    last_error.clear();
    return ONECLASS_OK;
  } catch (const Failure& failure) {
    remember(failure.message.c_str());
    return failure.status;
  } catch (const oneclass::Error& e) {
    remember(e.what());
    return error_status;
  } catch (const c10::Error& e) {
    remember(e.what_without_backtrace());
    return ONECLASS_INTERNAL;
  } catch (const std::bad_alloc&) {
    remember("out of memory");
    return ONECLASS_INTERNAL;
  } catch (const std::exception& e) {
    remember(e.what());
    return ONECLASS_INTERNAL;
  } catch (...) {
    remember("unknown failure");
    return ONECLASS_INTERNAL;
  }
}

void require(bool condition, const std::string& message) {
  if (!condition) throw Failure{ONECLASS_INVALID_ARGUMENT, message};
}

oneclass::data::PixelView view_of(const oneclass_image& image) {
  require(image.type == ONECLASS_PIXELS_U8 || image.type == ONECLASS_PIXELS_F32,
          "image type " + std::to_string(static_cast<int>(image.type)) + ": give ONECLASS_PIXELS_U8 or _F32");
  oneclass::data::PixelView view;
  view.data = image.data;
  view.width = image.width;
  view.height = image.height;
  view.channels = image.channels;
  view.stride = image.stride;
  view.is_float = image.type == ONECLASS_PIXELS_F32;
  return view;
}

std::vector<oneclass::Verdict> score_images(const oneclass_model* model, const oneclass_image* images, size_t count,
                                            int flags) {
  require(model != nullptr && model->model, "model is NULL; open one with oneclass_model_open");
  require(images != nullptr || count == 0, "images is NULL");
  require((flags & ~ONECLASS_WITH_MAP) == 0, "flags " + std::to_string(flags) + ": give 0 or ONECLASS_WITH_MAP");
  const bool with_map = (flags & ONECLASS_WITH_MAP) != 0;
  if (with_map && !model->model->has_maps()) {
    throw Failure{ONECLASS_NO_MAP, model->model->detector_name() + " gives no anomaly maps; score without ONECLASS_WITH_MAP"};
  }
  std::vector<oneclass::PreparedImage> prepared;
  prepared.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    prepared.push_back(model->model->prepare_pixels(view_of(images[i]), "image " + std::to_string(i)));
  }
  return model->model->score(prepared, with_map);
}

const oneclass::Verdict& verdict_at(const oneclass_result* result, size_t index) {
  require(result != nullptr, "result is NULL");
  if (index >= result->verdicts.size()) {
    throw Failure{ONECLASS_OUT_OF_RANGE, "index " + std::to_string(index) + " past the result's " +
                                             std::to_string(result->verdicts.size()) + " image(s)"};
  }
  return result->verdicts[index];
}

}  // namespace

extern "C" {

const char* oneclass_version(void) { return ONECLASS_VERSION; }

const char* oneclass_status_message(oneclass_status status) {
  switch (status) {
    case ONECLASS_OK: return "ok";
    case ONECLASS_INVALID_ARGUMENT: return "invalid argument";
    case ONECLASS_BAD_RUN: return "the run folder cannot be opened";
    case ONECLASS_BAD_IMAGE: return "the image cannot be read as the run's images";
    case ONECLASS_NO_MAP: return "the detector gives no anomaly map";
    case ONECLASS_OUT_OF_RANGE: return "index out of range";
    case ONECLASS_INTERNAL: return "internal error";
  }
  return "unknown status";
}

const char* oneclass_last_error(void) { return last_error.c_str(); }

oneclass_status oneclass_model_open(const char* run_dir, const char* device, oneclass_model** model) {
  return guarded(ONECLASS_BAD_RUN, [&] {
    require(run_dir != nullptr && model != nullptr, "run_dir and model must not be NULL");
    auto opened = oneclass::ScoringModel::open(run_dir, device != nullptr ? device : "auto");
    *model = new oneclass_model{std::move(opened)};
  });
}

void oneclass_model_free(oneclass_model* model) { delete model; }

oneclass_status oneclass_model_threshold(const oneclass_model* model, double* threshold) {
  return guarded(ONECLASS_INTERNAL, [&] {
    require(model != nullptr && threshold != nullptr, "model and threshold must not be NULL");
    *threshold = model->model->threshold();
  });
}

oneclass_status oneclass_model_input_shape(const oneclass_model* model, int32_t* channels, int32_t* height,
                                           int32_t* width) {
  return guarded(ONECLASS_INTERNAL, [&] {
    require(model != nullptr, "model is NULL");
    const auto& shape = model->model->input_shape();
    if (channels != nullptr) *channels = static_cast<int32_t>(shape[0]);
    if (height != nullptr) *height = static_cast<int32_t>(shape[1]);
    if (width != nullptr) *width = static_cast<int32_t>(shape[2]);
  });
}

const char* oneclass_model_detector(const oneclass_model* model) {
  return model != nullptr ? model->model->detector_name().c_str() : "";
}

int oneclass_model_has_map(const oneclass_model* model) { return model != nullptr && model->model->has_maps() ? 1 : 0; }

oneclass_status oneclass_model_score(const oneclass_model* model, const oneclass_image* image, int flags,
                                     oneclass_result** result) {
  return oneclass_model_score_batch(model, image, 1, flags, result);
}

oneclass_status oneclass_model_score_batch(const oneclass_model* model, const oneclass_image* images, size_t count,
                                           int flags, oneclass_result** result) {
  return guarded(ONECLASS_BAD_IMAGE, [&] {
    require(result != nullptr, "result must not be NULL");
    auto verdicts = score_images(model, images, count, flags);
    *result = new oneclass_result{std::move(verdicts)};
  });
}

size_t oneclass_result_count(const oneclass_result* result) { return result != nullptr ? result->verdicts.size() : 0; }

oneclass_status oneclass_result_score(const oneclass_result* result, size_t index, double* score, int* flagged) {
  return guarded(ONECLASS_INTERNAL, [&] {
    const auto& verdict = verdict_at(result, index);
    if (score != nullptr) *score = verdict.score;
    if (flagged != nullptr) *flagged = verdict.flagged ? 1 : 0;
  });
}

oneclass_status oneclass_result_map(const oneclass_result* result, size_t index, const float** map, int32_t* height,
                                    int32_t* width) {
  return guarded(ONECLASS_INTERNAL, [&] {
    require(map != nullptr, "map must not be NULL");
    const auto& verdict = verdict_at(result, index);
    if (!verdict.map.defined()) throw Failure{ONECLASS_NO_MAP, "scored without ONECLASS_WITH_MAP: no map"};
    *map = verdict.map.data_ptr<float>();
    if (height != nullptr) *height = static_cast<int32_t>(verdict.map.size(0));
    if (width != nullptr) *width = static_cast<int32_t>(verdict.map.size(1));
  });
}

void oneclass_result_free(oneclass_result* result) { delete result; }

}  // extern "C"
