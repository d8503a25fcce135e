// ONNX importer: a hand-built CNN against kun's own ops, dynamic batch, and the error paths
// (unknown operator, cycle, undefined value, shape mismatch, truncated / corrupt files).
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <filesystem>

#include "golden_util.h"
#include "kun/apps/onnx/onnx.h"
#include "kun/tensor/ops.h"

namespace {

namespace pb = ::onnx;
using kun::Tensor;

void add_tensor(pb::GraphProto& g, const std::string& name, const Tensor& t) {
  pb::TensorProto* tp = g.add_initializer();
  tp->set_name(name);
  tp->set_data_type(pb::TensorProto::FLOAT);
  for (int d = 0; d < t.dim(); ++d) tp->add_dims(t.shape()[d]);
  for (float v : t.to_vector<float>()) tp->add_float_data(v);
}

void add_io(pb::ValueInfoProto* v, const std::string& name, std::vector<int64_t> dims) {
  v->set_name(name);
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(pb::TensorProto::FLOAT);
  for (int64_t d : dims) {
    auto* dim = tt->mutable_shape()->add_dim();
    if (d < 0) dim->set_dim_param("batch");
    else dim->set_dim_value(d);
  }
}

pb::NodeProto* add_node(pb::GraphProto& g, const std::string& op, std::vector<std::string> in,
                        std::vector<std::string> out, const std::string& name = "") {
  pb::NodeProto* n = g.add_node();
  n->set_op_type(op);
  n->set_name(name.empty() ? op + "_" + std::to_string(g.node_size()) : name);
  for (auto& s : in) n->add_input(s);
  for (auto& s : out) n->add_output(s);
  return n;
}
void attr_ints(pb::NodeProto* n, const std::string& name, std::vector<int64_t> v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(pb::AttributeProto::INTS);
  for (auto x : v) a->add_ints(x);
}
void attr_int(pb::NodeProto* n, const std::string& name, int64_t v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(pb::AttributeProto::INT);
  a->set_i(v);
}

std::string serialize(pb::ModelProto& m) {
  m.set_ir_version(8);
  auto* os = m.add_opset_import();
  os->set_version(13);
  std::string s;
  m.SerializeToString(&s);
  return s;
}

struct Cnn {
  Tensor w1 = kun::randn({4, 3, 3, 3}), b1 = kun::randn({4}), w2 = kun::randn({5, 4}), b2 = kun::randn({5});
  std::string bytes;
  Cnn() {
    pb::ModelProto m;
    auto& g = *m.mutable_graph();
    g.set_name("cnn");
    add_tensor(g, "w1", w1);
    add_tensor(g, "b1", b1);
    add_tensor(g, "w2", w2);
    add_tensor(g, "b2", b2);
    add_io(g.add_input(), "x", {-1, 3, 8, 8});
    add_io(g.add_output(), "y", {-1, 5});
    // Listed out of order on purpose: the importer sorts topologically.
    auto* gemm = add_node(g, "Gemm", {"f", "w2", "b2"}, {"y"}, "head");
    attr_int(gemm, "transB", 1);
    auto* conv = add_node(g, "Conv", {"x", "w1", "b1"}, {"c"}, "conv1");
    attr_ints(conv, "pads", {1, 1, 1, 1});
    add_node(g, "Relu", {"c"}, {"r"});
    auto* mp = add_node(g, "MaxPool", {"r"}, {"p"});
    attr_ints(mp, "kernel_shape", {2, 2});
    attr_ints(mp, "strides", {2, 2});
    add_node(g, "GlobalAveragePool", {"p"}, {"gp"});
    add_node(g, "Flatten", {"gp"}, {"f"});
    bytes = serialize(m);
  }
  Tensor reference(const Tensor& x) const {
    Tensor c = kun::relu(kun::conv2d(x, w1, b1, {.padding = 1}));
    Tensor p = kun::max_pool2d(c, {.kernel = 2, .stride = 2});
    Tensor f = kun::global_avg_pool2d(p).flatten(1);
    return kun::linear(f, w2, b2);
  }
};

TEST(OnnxImport, CnnMatchesKunOpsWithDynamicBatch) {
  Cnn cnn;
  auto m = kun::onnx::Model::from_bytes(cnn.bytes, "cnn");
  ASSERT_EQ(m.inputs().size(), 1u);
  EXPECT_EQ(m.inputs()[0].dims[0], -1);
  EXPECT_EQ(m.inputs()[0].dim_names[0], "batch");
  EXPECT_EQ(m.nodes().front().name, "conv1");  // topological order
  for (int64_t batch : {1, 3}) {
    Tensor x = kun::randn({batch, 3, 8, 8});
    Tensor y = m.run({x})[0];
    EXPECT_TRUE(kun::testing::close(y, cnn.reference(x), 1e-5, 1e-5)) << "batch " << batch;
  }
}

TEST(OnnxImport, ErrorsNameTheNode) {
  Cnn cnn;
  auto m = kun::onnx::Model::from_bytes(cnn.bytes, "cnn");
  // Wrong channel count: rejected at the input with the declared shape.
  KUN_EXPECT_ERROR(m.run({kun::randn({2, 4, 8, 8})}), "input 'x'", "(batch, 3, 8, 8)", "(2, 4, 8, 8)");
  KUN_EXPECT_ERROR(m.run(std::vector<Tensor>{}), "takes 1 inputs");

  // Unsupported operator.
  {
    pb::ModelProto mp;
    auto& g = *mp.mutable_graph();
    add_io(g.add_input(), "x", {2});
    add_io(g.add_output(), "y", {2});
    add_node(g, "DeformConv", {"x"}, {"y"}, "Conv_12");
    try {
      kun::onnx::Model::from_bytes(serialize(mp), "m");
      FAIL() << "no error";
    } catch (const kun::onnx::UnsupportedError& e) {
      EXPECT_NE(std::string(e.what()).find("node 'Conv_12' uses operator 'DeformConv' (opset 13)"), std::string::npos)
          << e.what();
      EXPECT_EQ(e.op(), "DeformConv");
    }
  }
  // A cycle.
  {
    pb::ModelProto mp;
    auto& g = *mp.mutable_graph();
    add_io(g.add_input(), "x", {2});
    add_io(g.add_output(), "b", {2});
    add_node(g, "Add", {"x", "b"}, {"a"}, "first");
    add_node(g, "Relu", {"a"}, {"b"}, "second");
    KUN_EXPECT_ERROR(kun::onnx::Model::from_bytes(serialize(mp), "cyc"), "has a cycle", "node '");
  }
  // A value nobody produces.
  {
    pb::ModelProto mp;
    auto& g = *mp.mutable_graph();
    add_io(g.add_input(), "x", {2});
    add_io(g.add_output(), "y", {2});
    add_node(g, "Add", {"x", "ghost"}, {"y"}, "adder");
    KUN_EXPECT_ERROR(kun::onnx::Model::from_bytes(serialize(mp), "m"), "node 'adder' (Add) reads 'ghost'");
  }
  // A shape mismatch inside the graph: the error names the node.
  {
    pb::ModelProto mp;
    auto& g = *mp.mutable_graph();
    add_tensor(g, "w", kun::randn({3, 4}));
    add_io(g.add_input(), "x", {2, 5});
    add_io(g.add_output(), "y", {2, 4});
    add_node(g, "MatMul", {"x", "w"}, {"y"}, "mm");
    auto m2 = kun::onnx::Model::from_bytes(serialize(mp), "m");
    KUN_EXPECT_ERROR(m2.run({kun::randn({2, 5})}), "node 'mm' (MatMul)");
  }
}

TEST(OnnxImport, TruncatedOrCorruptFilesAreErrorsNotCrashes) {
  Cnn cnn;
  KUN_EXPECT_ERROR(kun::onnx::Model::from_bytes("", "empty.onnx"), "empty.onnx", "empty");
  KUN_EXPECT_ERROR(kun::onnx::Model::from_bytes("\xff\xff\xff\xff garbage", "junk.onnx"), "junk.onnx");
  KUN_EXPECT_ERROR(kun::onnx::Model::load("/nonexistent/m.onnx"), "cannot open");
  int errors = 0;
  for (size_t cut = 1; cut < cnn.bytes.size(); cut += 7) {
    try {
      auto m = kun::onnx::Model::from_bytes(cnn.bytes.substr(0, cut), "cut.onnx");
      (void)m.run({kun::randn({1, 3, 8, 8})});
    } catch (const kun::Error& e) {
      ++errors;
      EXPECT_NE(std::string(e.what()).find("onnx:"), std::string::npos) << e.what();
    }
  }
  EXPECT_GT(errors, 0);
}

TEST(OnnxImport, TensorProtoRoundTrip) {
  auto dir = std::filesystem::temp_directory_path();
  Tensor t = kun::arange(0.0, 6.0, 1.0, kun::DType::f64).reshape({2, 3});
  std::string path = (dir / "kun_onnx_t.pb").string();
  kun::onnx::write_tensor_pb(path, t, "t");
  Tensor r = kun::onnx::read_tensor_pb(path);
  EXPECT_EQ(r.dtype(), kun::DType::f64);
  EXPECT_TRUE(kun::allclose(r, t));
  std::filesystem::remove(path);
}

TEST(OnnxImport, BackendNodeTestsForKunLayers) {
  // Spot check on Debian's libonnx-testdata (the full run is the onnx_conformance ctest).
  const std::string root = "/usr/share/libonnx-testdata/data/node/";
  if (!std::filesystem::exists(root)) GTEST_SKIP() << "libonnx-testdata not installed";
  for (const char* name : {"test_lstm_defaults", "test_gru_defaults", "test_conv_with_strides_padding",
                           "test_layer_normalization_4d_axis1", "test_softmax_axis_1"}) {
    std::string dir = root + name;
    if (!std::filesystem::exists(dir)) continue;
    auto m = kun::onnx::Model::load(dir + "/model.onnx");
    std::vector<Tensor> in;
    for (size_t k = 0; k < m.inputs().size(); ++k)
      in.push_back(kun::onnx::read_tensor_pb(dir + "/test_data_set_0/input_" + std::to_string(k) + ".pb"));
    auto out = m.run(in);
    Tensor want = kun::onnx::read_tensor_pb(dir + "/test_data_set_0/output_0.pb");
    EXPECT_TRUE(kun::testing::close(out[0], want, 1e-3, 1e-6)) << name;
  }
}

TEST(OnnxImport, SupportedOperatorList) {
  auto ops = kun::onnx::supported_operators();
  EXPECT_GT(ops.size(), 100u);
  for (const char* op : {"Conv", "Gemm", "MatMul", "LSTM", "GRU", "BatchNormalization", "LayerNormalization"})
    EXPECT_TRUE(kun::onnx::is_supported(op)) << op;
  EXPECT_FALSE(kun::onnx::is_supported("DeformConv"));
}

}  // namespace
