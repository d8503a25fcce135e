#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "data/data_test_util.h"
#include "golden_util.h"
#include "kun/data/image.h"
#include "kun/data/image_folder.h"

using namespace kun;
using namespace kun::data;
using kun::testing::TempDir;
using kun::testing::write_bytes;
namespace fs = std::filesystem;

namespace {
// (C, H, W) test pattern with values on the 8-bit grid so PNG round trips are exact.
Tensor pattern(int64_t c, int64_t h, int64_t w, int seed = 0) {
  std::vector<float> v(c * h * w);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((i * 37 + seed * 11) % 256) / 255.0f;
  return from_vector(v, Shape{c, h, w});
}
}  // namespace

TEST(DataImage, PngRoundTripRgbAndGray) {
  TempDir dir;
  Tensor rgb = pattern(3, 5, 7);
  write_image(dir.file("a.png"), rgb);
  Tensor r = read_image(dir.file("a.png"), 3);
  EXPECT_EQ(r.shape(), (Shape{3, 5, 7}));
  EXPECT_TRUE(kun::testing::close(r, rgb, 0, 1e-6));
  // RGB decoded as grayscale: one channel, a weighted mix of the three.
  Tensor g = read_image(dir.file("a.png"), 1);
  EXPECT_EQ(g.shape(), (Shape{1, 5, 7}));
  Tensor gray = pattern(1, 4, 4, 3);
  write_image(dir.file("g.png"), gray);
  EXPECT_TRUE(kun::testing::close(read_image(dir.file("g.png"), 1), gray, 0, 1e-6));
  // Gray decoded as RGB repeats the channel.
  Tensor g3 = read_image(dir.file("g.png"), 3);
  EXPECT_TRUE(kun::testing::close(g3.select(0, 2), gray.select(0, 0), 0, 1e-6));
}

TEST(DataImage, JpegDecodesApproximately) {
  TempDir dir;
  Tensor flat = full({3, 16, 16}, 0.5);
  write_image(dir.file("f.jpg"), flat);
  Tensor r = read_image(dir.file("f.jpg"), 3);
  EXPECT_EQ(r.shape(), (Shape{3, 16, 16}));
  EXPECT_TRUE(kun::testing::close(r, flat, 0, 0.02));
}

TEST(DataImage, ResizeBilinearMatchesTorch) {
  // torch.nn.functional.interpolate(mode='bilinear', align_corners=False)
  Tensor x = from_vector(std::vector<float>{0, 1, 2, 3}, Shape{1, 2, 2});
  Tensor up = resize_bilinear(x, 4, 4);
  EXPECT_TRUE(kun::testing::close(up.view({16}),
                                  from_vector(std::vector<float>{0, 0.25f, 0.75f, 1, 0.5f, 0.75f, 1.25f, 1.5f, 1.5f,
                                                                 1.75f, 2.25f, 2.5f, 2, 2.25f, 2.75f, 3}),
                                  1e-6, 1e-6));
  Tensor y = arange(0, 20, 1, DType::f32).view({1, 1, 4, 5});
  Tensor down = resize_bilinear(y, 3, 2);
  EXPECT_EQ(down.shape(), (Shape{1, 1, 3, 2}));
  EXPECT_TRUE(kun::testing::close(
      down.view({6}), from_vector(std::vector<float>{1.5833333f, 4.0833333f, 8.25f, 10.75f, 14.916667f, 17.416667f}),
      1e-5, 1e-5));
  KUN_EXPECT_ERROR(resize_bilinear(zeros({4, 4}), 2, 2), "resize_bilinear", "(C, H, W)", "(4, 4)");
}

TEST(DataImageFolder, LoadsClassesResizesAndLabels) {
  TempDir dir;
  fs::create_directories(dir.path() / "cat");
  fs::create_directories(dir.path() / "dog");
  write_image(dir.file("dog/b.png"), pattern(3, 8, 8, 1));
  write_image(dir.file("dog/a.png"), pattern(3, 8, 8, 2));
  write_image(dir.file("cat/x.PNG"), pattern(3, 12, 10, 3));
  write_image(dir.file("cat/y.jpg"), pattern(3, 8, 8, 4));
  write_bytes(dir.file("cat/notes.txt"), "not an image");
  ImageFolder f = read_image_folder(dir.path().string(), {.channels = 3, .height = 8, .width = 8});
  EXPECT_EQ(f.classes, (std::vector<std::string>{"cat", "dog"}));
  ASSERT_EQ(f.data.size(), 4);
  EXPECT_EQ(f.data.x().shape(), (Shape{4, 3, 8, 8}));
  EXPECT_EQ(f.data.y().to_vector<int64_t>(), (std::vector<int64_t>{0, 0, 1, 1}));
  EXPECT_EQ(fs::path(f.files[2]).filename(), "a.png");
  EXPECT_TRUE(kun::testing::close(f.data.get(2).x, pattern(3, 8, 8, 2), 0, 1e-6));
  EXPECT_TRUE(kun::testing::close(f.data.get(0).x, resize_bilinear(read_image(f.files[0]), 8, 8), 0, 1e-6));

  ImageFolder g = read_image_folder(dir.path().string(), {.channels = 1, .height = 4, .width = 6});
  EXPECT_EQ(g.data.x().shape(), (Shape{4, 1, 4, 6}));
}

TEST(DataImageFolder, Errors) {
  TempDir dir;
  KUN_EXPECT_ERROR(read_image_folder(dir.file("nowhere")), "read_image_folder", "nowhere", "no such directory");
  KUN_EXPECT_ERROR(read_image_folder(dir.path().string()), "expected one subfolder per class, found none");
  fs::create_directories(dir.path() / "a");
  KUN_EXPECT_ERROR(read_image_folder(dir.path().string()), "no image files");

  write_image(dir.file("a/1.png"), pattern(3, 8, 8));
  write_image(dir.file("a/2.png"), pattern(3, 6, 5));
  try {
    read_image_folder(dir.path().string(), {.resize = false});
    ADD_FAILURE() << "expected a ShapeError";
  } catch (const ShapeError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("2.png"), std::string::npos) << m;
    EXPECT_NE(m.find("expected a 8x8 image"), std::string::npos) << m;
    EXPECT_NE(m.find("got 6x5"), std::string::npos) << m;
  }
  EXPECT_EQ(read_image_folder(dir.path().string()).data.x().shape(), (Shape{2, 3, 8, 8}));  // resized to the first

  write_bytes(dir.file("a/3.png"), std::string("\x89PNG\r\n\x1a\n garbage"));
  KUN_EXPECT_ERROR(read_image_folder(dir.path().string()), "read_image", "3.png", "cannot decode");
  KUN_EXPECT_ERROR(read_image(dir.file("a/none.png")), "read_image", "none.png", "no such file");
  KUN_EXPECT_ERROR(read_image(dir.file("a/1.png"), 2), "channels must be 1 (grayscale) or 3 (RGB), got 2");
  KUN_EXPECT_ERROR(read_image_folder(dir.path().string(), {.height = 8}), "both be positive or both 0");
}
