// Single images: decode (PNG, JPEG, BMP, ... via stb_image), bilinear resize, encode.
// Images are float32 CHW tensors with values in [0, 1].
#pragma once
#include <cstdint>
#include <string>

#include "kun/tensor/tensor.h"

namespace kun::data {

// Decodes an image file to (channels, H, W) float32 in [0, 1]; channels is 1 (grayscale) or 3 (RGB),
// converting as needed. Throws IOError naming the file when it is missing or cannot be decoded.
Tensor read_image(const std::string& path, int channels = 3);

// Bilinear resize of img (C, H, W) or (N, C, H, W) float32 to (.., height, width), sampling at
// pixel centres (align_corners = false, like most frameworks' default).
Tensor resize_bilinear(const Tensor& img, int64_t height, int64_t width);

// Encodes img (C, H, W) float32 in [0, 1] (C = 1 or 3; clamped, rounded to 8 bits) as PNG, JPEG
// or BMP, chosen by the extension (.png, .jpg/.jpeg, .bmp).
void write_image(const std::string& path, const Tensor& img);

}  // namespace kun::data
