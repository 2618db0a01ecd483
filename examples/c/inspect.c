/* inspect RUN_DIR IMAGE.ppm|IMAGE.pgm: scores one image with a trained run through the oneclass
 * C API and prints the score, the threshold, the verdict and where the anomaly map peaks.
 * Reads binary PPM (colour) and PGM (grey) files, to stay free of an image library; a camera
 * program hands its own buffers to oneclass_model_score the same way. */
#include <stdio.h>
#include <stdlib.h>

#include <oneclass/oneclass.h>

/* Binary PNM (P5 grey, P6 RGB, 8-bit): returns the pixels (malloc'd) or NULL. */
static unsigned char* read_pnm(const char* path, int* width, int* height, int* channels) {
  FILE* file = fopen(path, "rb");
  if (!file) return NULL;
  char magic[3] = {0};
  int max_value = 0;
  unsigned char* pixels = NULL;
  if (fscanf(file, "%2s %d %d %d", magic, width, height, &max_value) == 4 && fgetc(file) != EOF &&
      (magic[1] == '5' || magic[1] == '6') && magic[0] == 'P' && max_value == 255 && *width > 0 && *height > 0 &&
      *width <= 16384 && *height <= 16384) {
    *channels = magic[1] == '6' ? 3 : 1;
    const size_t size = (size_t)*width * (size_t)*height * (size_t)*channels;
    pixels = malloc(size);
    if (pixels && fread(pixels, 1, size, file) != size) {
      free(pixels);
      pixels = NULL;
    }
  }
  fclose(file);
  return pixels;
}

static int fail(const char* what, oneclass_status status) {
  fprintf(stderr, "inspect: %s: %s (%s)\n", what, oneclass_last_error(), oneclass_status_message(status));
  return 1;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: inspect RUN_DIR IMAGE.ppm|IMAGE.pgm\n");
    return 2;
  }
  int width = 0, height = 0, channels = 0;
  unsigned char* pixels = read_pnm(argv[2], &width, &height, &channels);
  if (!pixels) {
    fprintf(stderr, "inspect: %s: not a binary 8-bit PPM or PGM file\n", argv[2]);
    return 1;
  }
  oneclass_model* model = NULL;
  oneclass_status status = oneclass_model_open(argv[1], "auto", &model);
  if (status != ONECLASS_OK) {
    free(pixels);
    return fail(argv[1], status);
  }
  const oneclass_image image = {pixels, width, height, channels, (int64_t)width * channels, ONECLASS_PIXELS_U8};
  const int flags = oneclass_model_has_map(model) ? ONECLASS_WITH_MAP : 0;
  oneclass_result* result = NULL;
  status = oneclass_model_score(model, &image, flags, &result);
  free(pixels);
  if (status != ONECLASS_OK) {
    oneclass_model_free(model);
    return fail(argv[2], status);
  }
  double score = 0, threshold = 0;
  int flagged = 0;
  oneclass_result_score(result, 0, &score, &flagged);
  oneclass_model_threshold(model, &threshold);
  printf("%s: score %.17g threshold %.17g %s (%s)\n", argv[2], score, threshold, flagged ? "ANOMALY" : "normal",
         oneclass_model_detector(model));
  const float* map = NULL;
  int32_t map_height = 0, map_width = 0;
  if (flags && oneclass_result_map(result, 0, &map, &map_height, &map_width) == ONECLASS_OK) {
    int32_t peak = 0;
    for (int32_t i = 1; i < map_height * map_width; ++i) {
      if (map[i] > map[peak]) peak = i;
    }
    printf("map %dx%d peaks at x=%d y=%d (%.4g)\n", map_width, map_height, peak % map_width, peak / map_width,
           map[peak]);
  }
  oneclass_result_free(result);
  oneclass_model_free(model);
  return 0;
}
