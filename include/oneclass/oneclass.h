/* oneclass C API: score images with a trained run folder from C, C++ or any language with a C FFI.
 *
 *   oneclass_model* model = NULL;
 *   if (oneclass_model_open("runs/wood", "cpu", &model) != ONECLASS_OK) {
 *     fprintf(stderr, "%s\n", oneclass_last_error());
 *   }
 *   oneclass_image image = {pixels, width, height, 3, width * 3, ONECLASS_PIXELS_U8};
 *   oneclass_result* result = NULL;
 *   int flags = oneclass_model_has_map(model) ? ONECLASS_WITH_MAP : 0;
 *   if (oneclass_model_score(model, &image, flags, &result) != ONECLASS_OK) { ... }
 *   double score; int flagged;
 *   oneclass_result_score(result, 0, &score, &flagged);
 *   oneclass_result_free(result);
 *   oneclass_model_free(model);
 *
 * Images are read as the run read its training images (resized, cropped, converted to its
 * channels), so that 8-bit pixels decoded from a file score exactly as `oneclass score FILE`.
 *
 * Every function returns a status; on failure oneclass_last_error() is a message that says what
 * was wrong (for the calling thread, until its next oneclass call). No C++ exception crosses this
 * boundary. Outputs are written only on success.
 *
 * Thread safety: one oneclass_model may be used by several threads at once (scoring mutates
 * nothing); a oneclass_result belongs to the thread that uses it. Free each object once.
 */
#ifndef ONECLASS_ONECLASS_H
#define ONECLASS_ONECLASS_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define ONECLASS_API __declspec(dllexport)
#else
#define ONECLASS_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum oneclass_status {
  ONECLASS_OK = 0,
  ONECLASS_INVALID_ARGUMENT = 1, /* a null handle or output pointer, unknown flags */
  ONECLASS_BAD_RUN = 2,          /* the run folder is missing, incomplete or damaged */
  ONECLASS_BAD_IMAGE = 3,        /* a bad buffer (null, size, stride, channels, float samples
                                    outside [0, 1]) or one that cannot be read as the run's images */
  ONECLASS_NO_MAP = 4,           /* an anomaly map was asked of a detector that has none */
  ONECLASS_OUT_OF_RANGE = 5,     /* an index past the result's images */
  ONECLASS_INTERNAL = 6          /* anything else (out of memory, a LibTorch failure) */
} oneclass_status;

typedef enum oneclass_pixel_type {
  ONECLASS_PIXELS_U8 = 0, /* 8-bit samples, 0..255 */
  ONECLASS_PIXELS_F32 = 1 /* 32-bit float samples in [0, 1] */
} oneclass_pixel_type;

/* Decoded pixels: `height` rows of `width` pixels of `channels` interleaved samples (1 grey,
 * 2 grey + alpha, 3 RGB, 4 RGBA), rows `stride` bytes apart (0: packed). */
typedef struct oneclass_image {
  const void* data;
  int32_t width;
  int32_t height;
  int32_t channels;
  int64_t stride;
  oneclass_pixel_type type;
} oneclass_image;

enum { ONECLASS_WITH_MAP = 1 }; /* flags of oneclass_model_score: also compute anomaly maps */

typedef struct oneclass_model oneclass_model;   /* a run folder opened for scoring */
typedef struct oneclass_result oneclass_result; /* scores (and maps) of one or more images */

/* The library's version, e.g. "0.1.0". */
ONECLASS_API const char* oneclass_version(void);
/* A fixed description of a status code. */
ONECLASS_API const char* oneclass_status_message(oneclass_status status);
/* What went wrong in this thread's last failed call ("" when none failed). */
ONECLASS_API const char* oneclass_last_error(void);

/* Opens a run folder written by `oneclass run` (config.json, detector.pt) on `device`: "auto",
 * "cpu" or "cuda[:N]" (NULL = "auto"). */
ONECLASS_API oneclass_status oneclass_model_open(const char* run_dir, const char* device, oneclass_model** model);
ONECLASS_API void oneclass_model_free(oneclass_model* model);
/* The threshold: a score strictly above it is flagged as an anomaly. */
ONECLASS_API oneclass_status oneclass_model_threshold(const oneclass_model* model, double* threshold);
/* The image shape the detector takes (after resizing). */
ONECLASS_API oneclass_status oneclass_model_input_shape(const oneclass_model* model, int32_t* channels,
                                                        int32_t* height, int32_t* width);
/* The detector's registry name ("patch-knn"); valid while the model lives. */
ONECLASS_API const char* oneclass_model_detector(const oneclass_model* model);
/* 1 when the detector gives anomaly maps, else 0. */
ONECLASS_API int oneclass_model_has_map(const oneclass_model* model);

/* Scores one image; `flags` 0 or ONECLASS_WITH_MAP. On success *result holds one image. */
ONECLASS_API oneclass_status oneclass_model_score(const oneclass_model* model, const oneclass_image* image,
                                                  int flags, oneclass_result** result);
/* Scores `count` images; each is scored on its own, so its score is the one it gets alone. On
 * success *result holds `count` images, in order. Fails as a whole if one image is bad. */
ONECLASS_API oneclass_status oneclass_model_score_batch(const oneclass_model* model, const oneclass_image* images,
                                                        size_t count, int flags, oneclass_result** result);

ONECLASS_API size_t oneclass_result_count(const oneclass_result* result);
/* Image `index`'s score and flag (1 when score > threshold); either output may be NULL. */
ONECLASS_API oneclass_status oneclass_result_score(const oneclass_result* result, size_t index, double* score,
                                                   int* flagged);
/* Image `index`'s anomaly map: `height` x `width` floats, row-major, at the detector's input size,
 * valid while the result lives. ONECLASS_NO_MAP unless scored with ONECLASS_WITH_MAP. */
ONECLASS_API oneclass_status oneclass_result_map(const oneclass_result* result, size_t index, const float** map,
                                                 int32_t* height, int32_t* width);
ONECLASS_API void oneclass_result_free(oneclass_result* result);

#ifdef __cplusplus
}
#endif

#endif /* ONECLASS_ONECLASS_H */
