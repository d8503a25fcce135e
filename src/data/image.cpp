#include "kun/data/image.h"

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <vector>

#include "data/io_util.h"
#include "kun/core/threading.h"

namespace kun::data {

Tensor read_image(const std::string& path, int channels) {
  KUN_CHECK(channels == 1 || channels == 3, ValueError, "read_image: ", path,
            ": channels must be 1 (grayscale) or 3 (RGB), got ", channels);
  std::vector<char> bytes = detail::read_file_or_throw(path, "read_image");
  KUN_CHECK(bytes.size() <= 0x7FFFFFFF, IOError, "read_image: ", path, ": file too large (", bytes.size(), " bytes)");
  int w = 0, h = 0, comp = 0;
  unsigned char* px = stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()),
                                            static_cast<int>(bytes.size()), &w, &h, &comp, channels);
  KUN_CHECK(px != nullptr, IOError, "read_image: ", path, ": cannot decode the image (",
            stbi_failure_reason() ? stbi_failure_reason() : "unknown format",
            "); expected PNG, JPEG, BMP, GIF, TGA or PNM");
  // px: (H, W, C) uint8 -> out (C, H, W) float32 in [0, 1]
  Tensor out = Tensor::empty({channels, h, w}, DType::f32);
  float* o = out.data<float>();
  const int64_t hw = int64_t{h} * w;
  for (int64_t p = 0; p < hw; ++p)
    for (int c = 0; c < channels; ++c) o[c * hw + p] = px[p * channels + c] * (1.0f / 255.0f);
  stbi_image_free(px);
  return out;
}

Tensor resize_bilinear(const Tensor& img, int64_t height, int64_t width) {
  KUN_CHECK(img.dim() == 3 || img.dim() == 4, ShapeError,
            "resize_bilinear: input must be (C, H, W) or (N, C, H, W), got ", img.shape());
  img.check_dtype(DType::f32, "resize_bilinear");
  KUN_CHECK(height > 0 && width > 0, ValueError, "resize_bilinear: target size must be positive, got ", height, "x",
            width);
  Tensor x = img.contiguous();
  const int64_t ih = x.size(x.dim() - 2), iw = x.size(x.dim() - 1);
  KUN_CHECK(ih > 0 && iw > 0, ShapeError, "resize_bilinear: input image is empty: ", img.shape());
  if (ih == height && iw == width) return x;
  const int64_t planes = x.numel() / (ih * iw);
  Shape out_shape = x.shape();
  out_shape[x.dim() - 2] = height;
  out_shape[x.dim() - 1] = width;
  Tensor out = Tensor::empty(out_shape, DType::f32);
  // Source coordinate of output pixel centre d: (d + 0.5) * in / out - 0.5, clamped to the image.
  struct Tap {
    int64_t i0, i1;
    float w1;
  };
  auto taps = [](int64_t in, int64_t outn) {
    std::vector<Tap> t(outn);
    const double scale = static_cast<double>(in) / outn;
    for (int64_t d = 0; d < outn; ++d) {
      double s = std::max(0.0, (d + 0.5) * scale - 0.5);
      int64_t i0 = std::min<int64_t>(static_cast<int64_t>(s), in - 1);
      t[d] = {i0, std::min(i0 + 1, in - 1), static_cast<float>(s - i0)};
    }
    return t;
  };
  const std::vector<Tap> ty = taps(ih, height), tx = taps(iw, width);
  const float* src = x.data<float>();
  float* dst = out.data<float>();
  parallel_for(planes, 1, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const float* s = src + p * ih * iw;
      float* d = dst + p * height * width;
      for (int64_t y = 0; y < height; ++y) {
        const float* r0 = s + ty[y].i0 * iw;
        const float* r1 = s + ty[y].i1 * iw;
        const float wy = ty[y].w1;
        for (int64_t xx = 0; xx < width; ++xx) {
          const Tap& t = tx[xx];
          float top = r0[t.i0] + (r0[t.i1] - r0[t.i0]) * t.w1;
          float bot = r1[t.i0] + (r1[t.i1] - r1[t.i0]) * t.w1;
          d[y * width + xx] = top + (bot - top) * wy;
        }
      }
    }
  });
  return out;
}

void write_image(const std::string& path, const Tensor& img) {
  KUN_CHECK(img.dim() == 3 && (img.size(0) == 1 || img.size(0) == 3), ShapeError,
            "write_image: ", path, ": expected an image (C, H, W) with C = 1 or 3, got ", img.shape());
  Tensor x = img.to(DType::f32).contiguous();
  const int c = static_cast<int>(x.size(0)), h = static_cast<int>(x.size(1)), w = static_cast<int>(x.size(2));
  std::vector<unsigned char> px(static_cast<size_t>(c) * h * w);
  const float* s = x.data<float>();
  const int64_t hw = int64_t{h} * w;
  for (int64_t p = 0; p < hw; ++p)
    for (int ch = 0; ch < c; ++ch) {
      float v = std::clamp(s[ch * hw + p], 0.0f, 1.0f);
      px[p * c + ch] = static_cast<unsigned char>(std::lround(v * 255.0f));
    }
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return std::tolower(ch); });
  int ok = 0;
  if (ext == ".png")
    ok = stbi_write_png(path.c_str(), w, h, c, px.data(), w * c);
  else if (ext == ".jpg" || ext == ".jpeg")
    ok = stbi_write_jpg(path.c_str(), w, h, c, px.data(), 95);
  else if (ext == ".bmp")
    ok = stbi_write_bmp(path.c_str(), w, h, c, px.data());
  else
    KUN_CHECK(false, ValueError, "write_image: ", path, ": unknown extension '", ext, "'; use .png, .jpg or .bmp");
  KUN_CHECK(ok != 0, IOError, "write_image: ", path, ": cannot write the file");
}

}  // namespace kun::data
