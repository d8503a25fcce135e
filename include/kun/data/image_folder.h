// A folder of images with one subfolder per class (root/cat/1.png, root/dog/7.jpg, ...), loaded
// eagerly into one (N, C, H, W) float32 tensor with int64 labels = class index (sorted names).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kun/data/dataset.h"

namespace kun::data {

struct ImageFolderOptions {
  int channels = 3;      // 1 grayscale, 3 RGB
  int64_t height = 0;    // target size; 0 = the first image's size
  int64_t width = 0;
  bool resize = true;    // false: an image of another size is an error instead of being resized
  std::vector<std::string> extensions = {".png", ".jpg", ".jpeg", ".bmp"};  // case-insensitive
};

struct ImageFolder {
  TensorDataset data;                // x (N, C, H, W) float32 in [0, 1], y (N,) int64
  std::vector<std::string> classes;  // class index -> subfolder name
  std::vector<std::string> files;    // example index -> path
};

// Decodes in parallel. Throws IOError for a missing/unreadable directory, an empty one, or an
// undecodable image, and ShapeError for an image of the wrong size when resize is false.
ImageFolder read_image_folder(const std::string& root, const ImageFolderOptions& opts = {});

}  // namespace kun::data
