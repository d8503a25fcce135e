// Convolution and pooling on NCHW (2-D) / NCL (1-D) tensors with PyTorch's weight layouts.
// float32 runs on oneDNN (cached primitives); float64 and `backend = ConvBackend::reference` run a
// plain, obviously-correct CPU path that the tests compare oneDNN against.
#pragma once
#include <cstdint>
#include <string_view>
#include <tuple>

#include "kun/tensor/tensor.h"

namespace kun {

// One value per spatial dim (h, w), or one value for both: `.stride = 2`, `.stride = {2, 1}`.
struct Size2 {
  int64_t h = 0, w = 0;
  Size2(int64_t v = 0) : h(v), w(v) {}  // NOLINT: implicit on purpose (options read naturally)
  Size2(int64_t h_, int64_t w_) : h(h_), w(w_) {}
};

enum class ConvPadMode { explicit_, same, valid };

// Convolution padding: ints, or "same" (output size = input size, stride 1 only; an even kernel
// pads one more on the right/bottom, as PyTorch does) or "valid" (no padding).
struct ConvPadding {
  ConvPadMode mode = ConvPadMode::explicit_;
  Size2 size;
  ConvPadding() = default;
  ConvPadding(int v) : size(v) {}      // NOLINT (an int literal must not look like a null const char*)
  ConvPadding(int64_t v) : size(v) {}  // NOLINT
  ConvPadding(int64_t h, int64_t w) : size(h, w) {}
  ConvPadding(const char* m) : ConvPadding(std::string_view(m)) {}  // NOLINT
  ConvPadding(std::string_view m);
};

enum class ConvBackend { automatic, reference };  // automatic: oneDNN for float32, reference for float64

struct Conv2dOptions {
  Size2 stride = 1;
  ConvPadding padding = 0;
  Size2 dilation = 1;
  int64_t groups = 1;
  ConvBackend backend = ConvBackend::automatic;
};

struct Conv1dOptions {
  int64_t stride = 1;
  ConvPadding padding = 0;  // int, "same" or "valid"
  int64_t dilation = 1;
  int64_t groups = 1;
  ConvBackend backend = ConvBackend::automatic;
};

struct ConvTranspose2dOptions {
  Size2 stride = 1;
  Size2 padding = 0;
  Size2 output_padding = 0;  // extra rows/cols at the bottom/right; must be < stride or < dilation
  int64_t groups = 1;
  Size2 dilation = 1;
  ConvBackend backend = ConvBackend::automatic;
};

// x: (N, C, H, W), w: (O, C/groups, kH, kW), b: (O) or undefined -> (N, O, OH, OW)
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b = Tensor(), const Conv2dOptions& opt = {});
// x: (N, C, L), w: (O, C/groups, k), b: (O) or undefined -> (N, O, OL)
Tensor conv1d(const Tensor& x, const Tensor& w, const Tensor& b = Tensor(), const Conv1dOptions& opt = {});
// x: (N, C, H, W), w: (C, O/groups, kH, kW) (PyTorch's transposed layout), b: (O) -> (N, O, OH, OW) with
// OH = (H - 1) * stride - 2 * padding + dilation * (kH - 1) + output_padding + 1
Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& b = Tensor(),
                        const ConvTranspose2dOptions& opt = {});

// Gradients of the convolutions given d(loss)/d(output); only the requested ones are computed.
struct ConvGrads {
  Tensor input, weight, bias;
};
struct ConvGradsWanted {
  bool input = true, weight = true, bias = true;
};
ConvGrads conv2d_backward(const Tensor& grad_out, const Tensor& x, const Tensor& w, const Conv2dOptions& opt = {},
                          ConvGradsWanted want = {});
ConvGrads conv1d_backward(const Tensor& grad_out, const Tensor& x, const Tensor& w, const Conv1dOptions& opt = {},
                          ConvGradsWanted want = {});
ConvGrads conv_transpose2d_backward(const Tensor& grad_out, const Tensor& x, const Tensor& w,
                                    const ConvTranspose2dOptions& opt = {}, ConvGradsWanted want = {});

// ---- pooling ----
struct Pool2dOptions {
  Size2 kernel = 0;
  Size2 stride = 0;  // 0: same as kernel
  Size2 padding = 0;  // at most kernel / 2
  Size2 dilation = 1;  // max pooling only
  bool ceil_mode = false;
  bool count_include_pad = true;  // average pooling only
};
struct Pool1dOptions {
  int64_t kernel = 0;
  int64_t stride = 0;  // 0: same as kernel
  int64_t padding = 0;
  int64_t dilation = 1;
  bool ceil_mode = false;
  bool count_include_pad = true;
};

// x: (N, C, H, W) -> (N, C, OH, OW); also accepts (C, H, W).
Tensor max_pool2d(const Tensor& x, const Pool2dOptions& opt);
// Also returns the argmax of each window as an int64 index into its (H * W) input plane (PyTorch's convention).
std::tuple<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, const Pool2dOptions& opt);
Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& opt);
// x: (N, C, L) -> (N, C, OL); also accepts (C, L).
Tensor max_pool1d(const Tensor& x, const Pool1dOptions& opt);
std::tuple<Tensor, Tensor> max_pool1d_with_indices(const Tensor& x, const Pool1dOptions& opt);
Tensor avg_pool1d(const Tensor& x, const Pool1dOptions& opt);
// PyTorch's adaptive average pooling: window i covers [floor(i*H/OH), ceil((i+1)*H/OH)).
Tensor adaptive_avg_pool2d(const Tensor& x, Size2 output_size);
Tensor adaptive_avg_pool1d(const Tensor& x, int64_t output_size);
// x: (N, C, H, W) -> (N, C): mean over H and W.
Tensor global_avg_pool2d(const Tensor& x);

// Pool gradients. x_shape is the input's shape; for max pooling, `indices` come from *_with_indices.
Tensor max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, const Shape& x_shape);
Tensor max_pool1d_backward(const Tensor& grad_out, const Tensor& indices, const Shape& x_shape);
Tensor avg_pool2d_backward(const Tensor& grad_out, const Shape& x_shape, const Pool2dOptions& opt);
Tensor avg_pool1d_backward(const Tensor& grad_out, const Shape& x_shape, const Pool1dOptions& opt);
Tensor adaptive_avg_pool2d_backward(const Tensor& grad_out, const Shape& x_shape);

}  // namespace kun
