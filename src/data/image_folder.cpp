#include "kun/data/image_folder.h"

#include <algorithm>
#include <cstring>
#include <exception>
#include <filesystem>
#include <string>

#include "kun/core/threading.h"
#include "kun/data/image.h"

namespace kun::data {

namespace fs = std::filesystem;

namespace {
std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}
}  // namespace

ImageFolder read_image_folder(const std::string& root, const ImageFolderOptions& opts) {
  constexpr const char* kOp = "read_image_folder";
  KUN_CHECK(opts.channels == 1 || opts.channels == 3, ValueError, kOp, ": ", root,
            ": channels must be 1 (grayscale) or 3 (RGB), got ", opts.channels);
  KUN_CHECK(opts.height >= 0 && opts.width >= 0 && (opts.height > 0) == (opts.width > 0), ValueError, kOp, ": ",
            root, ": height and width must both be positive or both 0 (first image's size), got ", opts.height, "x",
            opts.width);
  std::error_code ec;
  KUN_CHECK(fs::is_directory(root, ec), IOError, kOp, ": ", root, ": no such directory");

  ImageFolder out;
  std::vector<int64_t> labels;
  std::vector<fs::path> class_dirs;
  for (const auto& entry : fs::directory_iterator(root, ec))
    if (entry.is_directory()) class_dirs.push_back(entry.path());
  KUN_CHECK(!ec, IOError, kOp, ": ", root, ": cannot list the directory (", ec.message(), ")");
  std::sort(class_dirs.begin(), class_dirs.end());
  KUN_CHECK(!class_dirs.empty(), IOError, kOp, ": ", root, ": expected one subfolder per class, found none");
  std::vector<std::string> exts;
  for (const auto& e : opts.extensions) exts.push_back(lower(e));
  for (const auto& dir : class_dirs) {
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (!entry.is_regular_file()) continue;
      std::string ext = lower(entry.path().extension().string());
      if (std::find(exts.begin(), exts.end(), ext) != exts.end()) files.push_back(entry.path().string());
    }
    KUN_CHECK(!ec, IOError, kOp, ": ", dir.string(), ": cannot list the directory (", ec.message(), ")");
    std::sort(files.begin(), files.end());
    for (auto& f : files) {
      out.files.push_back(f);
      labels.push_back(static_cast<int64_t>(out.classes.size()));
    }
    out.classes.push_back(dir.filename().string());
  }
  const int64_t n = static_cast<int64_t>(out.files.size());
  KUN_CHECK(n > 0, IOError, kOp, ": ", root, ": no image files (", opts.extensions.size(),
            " accepted extensions) in its ", class_dirs.size(), " class subfolders");

  // The first image fixes the size when none was asked for.
  Tensor first = read_image(out.files[0], opts.channels);
  const int64_t H = opts.height ? opts.height : first.size(1), W = opts.width ? opts.width : first.size(2);
  Tensor x = Tensor::empty({n, opts.channels, H, W}, DType::f32);
  const int64_t per = int64_t{opts.channels} * H * W;
  // Decode in parallel; errors cannot leave an OpenMP region, so each image records its own.
  std::vector<std::exception_ptr> errors(n);
  parallel_for(n, 2, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      try {
        Tensor img = i == 0 ? first : read_image(out.files[i], opts.channels);
        if (img.size(1) != H || img.size(2) != W) {
          KUN_CHECK(opts.resize, ShapeError, kOp, ": ", out.files[i], ": expected a ", H, "x", W,
                    " image (height x width), got ", img.size(1), "x", img.size(2),
                    "; set resize = true to resize images");
          img = resize_bilinear(img, H, W);
        }
        std::memcpy(x.data<float>() + i * per, img.data<float>(), per * sizeof(float));
      } catch (...) {
        errors[i] = std::current_exception();
      }
    }
  });
  for (const auto& err : errors)  // the first failure in file order, with its own type
    if (err) std::rethrow_exception(err);
  out.data = TensorDataset(x, from_vector(labels, Shape{n}));
  return out;
}

}  // namespace kun::data
