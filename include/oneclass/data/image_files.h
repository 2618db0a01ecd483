#pragma once
// Camera images for folder data sets: PNG, JPEG, BMP and TIFF, 8 or 16 bit, grey, RGB or RGBA,
// read with OpenCV (an optional dependency: without it these functions throw an Error that says how
// to switch folder data on). Every image is brought to one geometry: its centre square (the short
// side's length) resized to `size` x `size` (area averaging when shrinking, bilinear when
// enlarging): the same picture as resizing the short side, then cropping the centre.
#include <cstdint>
#include <string>

#include <ATen/core/Tensor.h>

#include "oneclass/data/images.h"

namespace oneclass::data {

/// True when this build reads folder data sets (OpenCV was found at configure time).
bool image_files_supported();
/// One line: which library reads the images, or what to install to switch folder data on.
std::string image_files_status();

struct ImageGeometry {
  int channels = 3;  // 1 (grey) or 3 (RGB): grey files are repeated, colour files averaged as luma
  int size = 256;    // side of the square the image ends as
};

struct ImageFile {
  at::Tensor pixels;  // float [channels, size, size] in [0, 1]
  int original_height = 0, original_width = 0, original_channels = 0;
  int stored_channels = 0;  // the samples per pixel in the file: 1 to 4, alpha counted
};

/// The channels a file holds (1 for grey, 3 for colour; alpha is not counted). Decodes the file:
/// that is the one way to know for every format OpenCV reads.
/// Throws Error naming the file when it is not a readable image.
int image_file_channels(const std::string& path);

/// Reads and converts one image. Throws Error naming the file when it is missing, unreadable,
/// corrupt, larger than 2^28 pixels, or of a depth other than 8 or 16 bits.
ImageFile read_image_file(const std::string& path, const ImageGeometry& geometry);
/// The same for an encoded file already in memory (an upload); `name` names it in errors. OpenCV
/// checks the header's size against the same limit before it decodes.
ImageFile decode_image_file(const std::string& bytes, const std::string& name, const ImageGeometry& geometry);
/// Decoded pixels (RGB order) brought to the geometry exactly as a file of the same pixels would be.
ImageFile convert_pixels(const PixelView& view, const std::string& name, const ImageGeometry& geometry);

/// Reads a defect mask (any non-zero pixel is defect) as uint8 [size, size] of 0 and 1, resized
/// with nearest neighbours and cropped as its image is. Throws Error naming the file when it is
/// unreadable or its size differs from its image's (`image_height` x `image_width`).
at::Tensor read_mask_file(const std::string& path, int size, int image_height, int image_width);

/// Writes a uint8 [H, W] or [H, W, C] (RGB) tensor as a PNG, atomically (temporary file, rename).
/// The same tensor gives the same bytes. Throws Error naming the file on failure.
void write_png(const std::string& path, const at::Tensor& pixels);

/// Writes a float [H, W] map as a 32-bit float TIFF (exact values, no scale), atomically.
void write_float_tiff(const std::string& path, const at::Tensor& map);

/// Writes `image` (float [C, H, W] in [0, 1]) with `map` [H, W] laid over it as a heat map
/// (inferno colours from 0 to `map_max`, half opacity) as a PNG, atomically.
void write_heat_map_overlay(const std::string& path, const at::Tensor& image, const at::Tensor& map, double map_max);
/// The same overlay as PNG file bytes, in memory (the service sends it).
std::string encode_heat_map_overlay(const at::Tensor& image, const at::Tensor& map, double map_max);

}  // namespace oneclass::data
