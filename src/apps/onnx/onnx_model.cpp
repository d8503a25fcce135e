// Loading an ONNX ModelProto into kun's graph form, and running it node by node.
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <queue>
#include <set>
#include <sstream>
#include <unordered_map>

#include "kun/apps/onnx/onnx.h"
#include "onnx_internal.h"

#ifndef ONNX_NAMESPACE
#define ONNX_NAMESPACE onnx
#endif

namespace kun::onnx {
namespace pb = ::ONNX_NAMESPACE;
using detail::Attr;
using detail::Node;

// ---------------------------------------------------------------- data types

int onnx_elem_type(DType dtype) {
  switch (dtype) {
    case DType::f32: return pb::TensorProto::FLOAT;
    case DType::f64: return pb::TensorProto::DOUBLE;
    case DType::i32: return pb::TensorProto::INT32;
    case DType::i64: return pb::TensorProto::INT64;
    case DType::u8: return pb::TensorProto::UINT8;
    case DType::bool_: return pb::TensorProto::BOOL;
  }
  return 0;
}

std::string elem_type_name(int elem_type) {
  if (pb::TensorProto::DataType_IsValid(elem_type))
    return pb::TensorProto::DataType_Name(static_cast<pb::TensorProto::DataType>(elem_type));
  return "type#" + std::to_string(elem_type);
}

DType to_dtype(int elem_type, const std::string& where) {
  switch (elem_type) {
    case pb::TensorProto::FLOAT: return DType::f32;
    case pb::TensorProto::DOUBLE: return DType::f64;
    case pb::TensorProto::INT32: return DType::i32;
    case pb::TensorProto::INT64: return DType::i64;
    case pb::TensorProto::UINT8: return DType::u8;
    case pb::TensorProto::BOOL: return DType::bool_;
    default: break;
  }
  throw UnsupportedError("onnx: " + where + " has data type " + elem_type_name(elem_type) +
                             ", which kun does not support (float, double, int32, int64, uint8, bool)",
                         "dtype:" + elem_type_name(elem_type));
}

namespace {

template <typename... Parts>
void require_supported(bool cond, const std::string& op, const Parts&... parts) {
  if (cond) [[likely]] return;
  std::ostringstream os;
  (os << ... << parts);
  throw UnsupportedError(os.str(), op);
}

// TensorProto -> Tensor (always a fresh contiguous tensor).
Tensor from_proto(const pb::TensorProto& tp, const std::string& where) {
  DType dt = to_dtype(tp.data_type(), where);
  Shape shape;
  for (int64_t d : tp.dims()) {
    KUN_CHECK(d >= 0, ValueError, "onnx: ", where, " has a negative dim ", d);
    shape.push_back(d);
  }
  require_supported(tp.data_location() != pb::TensorProto::EXTERNAL, "external_data", "onnx: ", where, " keeps its data in an external file, which kun does not read");
  Tensor t = Tensor::empty(shape, dt);
  const int64_t n = shape.numel();
  const size_t bytes = static_cast<size_t>(n) * dtype_size(dt);
  if (tp.has_raw_data()) {
    KUN_CHECK(tp.raw_data().size() == bytes, ValueError, "onnx: ", where, " holds ", tp.raw_data().size(),
              " bytes of raw data, expected ", bytes, " for ", n, " x ", dtype_name(dt), " (truncated file?)");
    if (bytes) std::memcpy(t.raw_data(), tp.raw_data().data(), bytes);
    return t;
  }
  auto check_count = [&](int64_t got) {
    KUN_CHECK(got == n, ValueError, "onnx: ", where, " holds ", got, " values, expected ", n, " for shape ", shape);
  };
  switch (dt) {
    case DType::f32:
      check_count(tp.float_data_size());
      std::copy(tp.float_data().begin(), tp.float_data().end(), t.data<float>());
      break;
    case DType::f64:
      check_count(tp.double_data_size());
      std::copy(tp.double_data().begin(), tp.double_data().end(), t.data<double>());
      break;
    case DType::i64:
      check_count(tp.int64_data_size());
      std::copy(tp.int64_data().begin(), tp.int64_data().end(), t.data<int64_t>());
      break;
    case DType::i32:
      check_count(tp.int32_data_size());
      std::copy(tp.int32_data().begin(), tp.int32_data().end(), t.data<int32_t>());
      break;
    case DType::u8: {
      check_count(tp.int32_data_size());
      auto* p = t.data<uint8_t>();
      for (int64_t k = 0; k < n; ++k) p[k] = static_cast<uint8_t>(tp.int32_data(k));
      break;
    }
    case DType::bool_: {
      check_count(tp.int32_data_size());
      auto* p = t.data<bool>();
      for (int64_t k = 0; k < n; ++k) p[k] = tp.int32_data(k) != 0;
      break;
    }
  }
  return t;
}

void to_proto(const Tensor& t0, pb::TensorProto& tp) {
  Tensor t = t0.contiguous();
  tp.set_data_type(onnx_elem_type(t.dtype()));
  for (int i = 0; i < t.dim(); ++i) tp.add_dims(t.shape()[i]);
  tp.set_raw_data(std::string(static_cast<const char*>(t.raw_data()), t.numel() * t.element_size()));
}

std::string read_file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  KUN_CHECK(f.good(), IOError, "onnx: cannot open '", path, "'");
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

Attr convert_attr(const pb::AttributeProto& a, const std::string& where) {
  Attr r;
  switch (a.type()) {
    case pb::AttributeProto::INT: r.kind = Attr::i; r.i_val = a.i(); break;
    case pb::AttributeProto::FLOAT: r.kind = Attr::f; r.f_val = a.f(); break;
    case pb::AttributeProto::STRING: r.kind = Attr::s; r.s_val = a.s(); break;
    case pb::AttributeProto::TENSOR: r.kind = Attr::t; r.t_val = from_proto(a.t(), where + " attribute '" + a.name() + "'"); break;
    case pb::AttributeProto::INTS: r.kind = Attr::ints; r.ints_val.assign(a.ints().begin(), a.ints().end()); break;
    case pb::AttributeProto::FLOATS: r.kind = Attr::floats; r.floats_val.assign(a.floats().begin(), a.floats().end()); break;
    case pb::AttributeProto::STRINGS: r.kind = Attr::strings; r.strings_val.assign(a.strings().begin(), a.strings().end()); break;
    case pb::AttributeProto::GRAPH: r.kind = Attr::graph; break;  // subgraphs: the op reports unsupported
    default:
      throw UnsupportedError("onnx: " + where + " attribute '" + a.name() + "' has type " +
                                 pb::AttributeProto::AttributeType_Name(a.type()) + ", which kun does not support",
                             "attr:" + a.name());
  }
  return r;
}

ValueInfo convert_value_info(const pb::ValueInfoProto& v) {
  ValueInfo r;
  r.name = v.name();
  if (v.type().has_tensor_type()) {
    const auto& tt = v.type().tensor_type();
    r.elem_type = tt.elem_type();
    if (tt.has_shape()) {
      r.has_shape = true;
      for (const auto& d : tt.shape().dim()) {
        r.dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
        r.dim_names.push_back(d.has_dim_param() ? d.dim_param() : "");
      }
    }
  }
  return r;
}

}  // namespace

Tensor read_tensor_pb(const std::string& path) {
  std::string bytes = read_file_bytes(path);
  pb::TensorProto tp;
  KUN_CHECK(tp.ParseFromString(bytes), IOError, "onnx: '", path, "' is not a serialized TensorProto (truncated or corrupt?)");
  return from_proto(tp, "tensor file '" + path + "'");
}

void write_tensor_pb(const std::string& path, const Tensor& t, const std::string& name) {
  pb::TensorProto tp;
  to_proto(t, tp);
  if (!name.empty()) tp.set_name(name);
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    KUN_CHECK(f.good() && tp.SerializeToOstream(&f), IOError, "onnx: cannot write '", path, "'");
  }
  KUN_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, IOError, "onnx: cannot write '", path, "'");
}

namespace detail {
// Defined in onnx_export.cpp-free form here: the exporter reuses it.
void tensor_to_proto(const Tensor& t, pb::TensorProto& tp) { to_proto(t, tp); }
}  // namespace detail

// ---------------------------------------------------------------- the model

Model Model::load(const std::string& path, const ImportOptions& opt) {
  return from_bytes(read_file_bytes(path), path, opt);
}

namespace {
Model build_model(pb::ModelProto& mp, const std::string& source, const ImportOptions& opt,
                  const std::map<std::string, Tensor>* extra_weights, std::shared_ptr<Model::Impl>& impl);
}  // namespace

Model Model::from_bytes(const std::string& bytes, const std::string& source, const ImportOptions& opt) {
  pb::ModelProto mp;
  KUN_CHECK(!bytes.empty(), IOError, "onnx: '", source, "' is empty");
  KUN_CHECK(mp.ParseFromString(bytes), IOError, "onnx: '", source,
            "' is not a valid ONNX model (truncated or corrupt protobuf)");
  KUN_CHECK(mp.has_graph(), IOError, "onnx: '", source, "' has no graph (truncated or not an ONNX model?)");
  std::shared_ptr<Impl> impl;
  return build_model(mp, source, opt, nullptr, impl);
}

Model detail::ModelAccess::with_weights(const std::string& graph_bytes, const std::map<std::string, Tensor>& weights,
                                        const std::string& source) {
  pb::ModelProto mp;
  KUN_CHECK(!graph_bytes.empty() && mp.ParseFromString(graph_bytes) && mp.has_graph(), IOError, "onnx: '", source,
            "' holds no valid ONNX graph (truncated or corrupt)");
  std::shared_ptr<Model::Impl> impl;
  Model m = build_model(mp, source, {}, &weights, impl);
  return m;
}

namespace {
Model build_model(pb::ModelProto& mp, const std::string& source, const ImportOptions& opt,
                  const std::map<std::string, Tensor>* extra_weights, std::shared_ptr<Model::Impl>& impl) {
  if (opt.run_checker) {
    try {
      pb::checker::check_model(mp);
    } catch (const std::exception& e) {
      throw ValueError("onnx: '" + source + "' fails the ONNX checker: " + e.what());
    }
  }
  impl = std::make_shared<Model::Impl>();
  impl->source = source;
  for (const auto& os : mp.opset_import())
    if (os.domain().empty() || os.domain() == "ai.onnx") impl->opset = os.version();
  // A model of only other domains (training, ai.onnx.ml) has no default opset; its nodes are reported below.

  const pb::GraphProto& g = mp.graph();
  std::set<std::string> known;  // values available before any node runs
  for (const auto& init : g.initializer()) {
    impl->weights[init.name()] = from_proto(init, "initializer '" + init.name() + "'");
    known.insert(init.name());
  }
  if (extra_weights)
    for (const auto& [name, t] : *extra_weights) {
      impl->weights[name] = t;
      known.insert(name);
    }
  require_supported(g.sparse_initializer_size() == 0, "sparse_initializer", "onnx: '", source, "' has sparse initializers, which kun does not support");
  for (const auto& vi : g.input()) {
    if (impl->weights.count(vi.name())) continue;  // an initializer listed as input: a default value
    require_supported(vi.type().has_tensor_type(), "non-tensor input", "onnx: graph input '", vi.name(), "' is not a tensor (sequence/map/optional), which kun does not support");
    impl->inputs.push_back(convert_value_info(vi));
    known.insert(vi.name());
  }
  for (const auto& vo : g.output()) {
    require_supported(vo.type().has_tensor_type() || !vo.type().has_sequence_type(), "non-tensor output", "onnx: graph output '", vo.name(), "' is a sequence, which kun does not support");
    impl->outputs.push_back(convert_value_info(vo));
  }

  // Convert nodes; unsupported operators are reported here, before anything runs.
  const auto& reg = detail::op_registry();
  std::vector<Node> nodes;
  nodes.reserve(g.node_size());
  for (int k = 0; k < g.node_size(); ++k) {
    const auto& n = g.node(k);
    Node node;
    node.name = n.name().empty() ? n.op_type() + "#" + std::to_string(k) : n.name();
    node.op_type = n.op_type();
    node.domain = n.domain();
    node.inputs.assign(n.input().begin(), n.input().end());
    node.outputs.assign(n.output().begin(), n.output().end());
    const std::string where = "node '" + node.name + "' (" + node.op_type + ")";
    if (!(node.domain.empty() || node.domain == "ai.onnx"))
      throw UnsupportedError("onnx: node '" + node.name + "' uses operator '" + node.op_type + "' of domain '" +
                                 node.domain + "', which kun does not support",
                             node.domain + "." + node.op_type);
    if (!reg.count(node.op_type))
      throw UnsupportedError("onnx: node '" + node.name + "' uses operator '" + node.op_type + "' (opset " +
                                 std::to_string(impl->opset) + "), which kun does not support",
                             node.op_type);
    for (const auto& a : n.attribute()) node.attrs[a.name()] = convert_attr(a, where);
    nodes.push_back(std::move(node));
  }

  // Topological order (Kahn); the file's order is kept among ready nodes. A node whose input is never
  // produced, or a cycle, is a clear error naming the node.
  std::unordered_map<std::string, size_t> producer;
  for (size_t k = 0; k < nodes.size(); ++k)
    for (const auto& o : nodes[k].outputs) {
      if (o.empty()) continue;
      KUN_CHECK(!producer.count(o) && !known.count(o), ValueError, "onnx: value '", o, "' is produced twice (node '",
                nodes[k].name, "')");
      producer[o] = k;
    }
  std::vector<int> pending(nodes.size(), 0);
  std::vector<std::vector<size_t>> users(nodes.size());
  for (size_t k = 0; k < nodes.size(); ++k) {
    for (const auto& in : nodes[k].inputs) {
      if (in.empty() || known.count(in)) continue;
      auto it = producer.find(in);
      KUN_CHECK(it != producer.end(), ValueError, "onnx: node '", nodes[k].name, "' (", nodes[k].op_type,
                ") reads '", in, "', which is neither a graph input, an initializer nor a node output");
      ++pending[k];
      users[it->second].push_back(k);
    }
  }
  std::priority_queue<size_t, std::vector<size_t>, std::greater<>> ready;
  for (size_t k = 0; k < nodes.size(); ++k)
    if (pending[k] == 0) ready.push(k);
  std::vector<size_t> order;
  while (!ready.empty()) {
    size_t k = ready.top();
    ready.pop();
    order.push_back(k);
    for (size_t u : users[k])
      if (--pending[u] == 0) ready.push(u);
  }
  if (order.size() != nodes.size()) {
    std::string stuck;
    for (size_t k = 0; k < nodes.size(); ++k)
      if (pending[k] > 0) { stuck = nodes[k].name + "' (" + nodes[k].op_type; break; }
    throw ValueError("onnx: '" + source + "' has a cycle: node '" + stuck + ") depends on its own output");
  }
  for (size_t k : order) {
    impl->fns.push_back(reg.at(nodes[k].op_type));
    impl->node_infos.push_back({nodes[k].name, nodes[k].op_type, nodes[k].domain, nodes[k].inputs, nodes[k].outputs});
    impl->nodes.push_back(std::move(nodes[k]));
  }
  for (const auto& o : impl->outputs)
    KUN_CHECK(known.count(o.name) || producer.count(o.name), ValueError, "onnx: graph output '", o.name,
              "' is produced by no node");
  for (size_t k = 0; k < impl->nodes.size(); ++k)
    for (const auto& in : impl->nodes[k].inputs)
      if (!in.empty()) impl->last_use[in] = k;
  mp.mutable_graph()->clear_initializer();
  KUN_CHECK(mp.SerializeToString(&impl->graph_bytes), ValueError, "onnx: cannot serialize the graph of '", source, "'");
  return detail::ModelAccess::make(impl);
}
}  // namespace

const std::vector<ValueInfo>& Model::inputs() const { return impl_->inputs; }
const std::vector<ValueInfo>& Model::outputs() const { return impl_->outputs; }
const std::vector<NodeInfo>& Model::nodes() const { return impl_->node_infos; }
int64_t Model::opset() const { return impl_->opset; }
std::map<std::string, Tensor> Model::weights() const { return impl_->weights; }

std::vector<Tensor> Model::run(const std::vector<Tensor>& inputs) const {
  const Impl& m = *impl_;
  KUN_CHECK(inputs.size() == m.inputs.size(), ValueError, "onnx: model '", m.source, "' takes ", m.inputs.size(),
            " inputs, got ", inputs.size());
  std::map<std::string, Tensor> named;
  for (size_t k = 0; k < inputs.size(); ++k) named[m.inputs[k].name] = inputs[k];
  auto out = run(named);
  std::vector<Tensor> r;
  for (const auto& o : m.outputs) r.push_back(out.at(o.name));
  return r;
}

std::map<std::string, Tensor> Model::run(const std::map<std::string, Tensor>& inputs) const {
  return detail::run_graph(*impl_, inputs, impl_->weights);
}

void detail::check_input(const ValueInfo& vi, const Tensor& x) {
    if (vi.elem_type) {
      DType want = to_dtype(vi.elem_type, "input '" + vi.name + "'");
      KUN_CHECK(x.dtype() == want, TypeError, "onnx: input '", vi.name, "' must be ", dtype_name(want), ", got ",
                dtype_name(x.dtype()));
    }
    if (vi.has_shape) {
      bool ok = static_cast<int>(vi.dims.size()) == x.dim();
      for (int d = 0; ok && d < x.dim(); ++d) ok = vi.dims[d] < 0 || vi.dims[d] == x.shape()[d];
      if (!ok) {
        std::ostringstream want;
        want << "(";
        for (size_t d = 0; d < vi.dims.size(); ++d)
          want << (d ? ", " : "") << (vi.dims[d] >= 0 ? std::to_string(vi.dims[d]) : (vi.dim_names[d].empty() ? "?" : vi.dim_names[d]));
        want << ")";
        throw ShapeError("onnx: input '" + vi.name + "' must have shape " + want.str() + ", got " +
                         (std::ostringstream() << x.shape()).str());
      }
    }
}

std::map<std::string, Tensor> detail::run_graph(const Model::Impl& m, const std::map<std::string, Tensor>& inputs,
                                                const std::map<std::string, Tensor>& weights) {
  std::unordered_map<std::string, Tensor> env;
  for (const auto& [name, w] : weights) env[name] = w;
  for (const auto& vi : m.inputs) {
    auto it = inputs.find(vi.name);
    KUN_CHECK(it != inputs.end() && it->second.defined(), ValueError, "onnx: input '", vi.name, "' was not given");
    check_input(vi, it->second);
    env[vi.name] = it->second;
  }
  std::set<std::string> keep;
  for (const auto& o : m.outputs) keep.insert(o.name);
  std::unordered_map<std::string, std::vector<Tensor>> seqs;  // sequence-typed values
  for (size_t k = 0; k < m.nodes.size(); ++k) {
    const Node& node = m.nodes[k];
    detail::OpContext ctx{node, m.opset, {}, node.outputs.size()};
    ctx.in.reserve(node.inputs.size());
    ctx.seq_in.assign(node.inputs.size(), nullptr);
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const std::string& name = node.inputs[i];
      if (name.empty()) {
        ctx.in.emplace_back();
      } else if (auto s = seqs.find(name); s != seqs.end()) {
        ctx.in.emplace_back();
        ctx.seq_in[i] = &s->second;
      } else {
        ctx.in.push_back(env.at(name));
      }
    }
    std::vector<Tensor> outs;
    try {
      outs = m.fns[k](ctx);
    } catch (const UnsupportedError& e) {
      throw UnsupportedError("onnx: node '" + node.name + "' (" + node.op_type + "): " + e.what(), e.op());
    } catch (const ShapeError& e) {
      throw ShapeError("onnx: node '" + node.name + "' (" + node.op_type + "): " + e.what());
    } catch (const TypeError& e) {
      throw TypeError("onnx: node '" + node.name + "' (" + node.op_type + "): " + e.what());
    } catch (const IndexError& e) {
      throw IndexError("onnx: node '" + node.name + "' (" + node.op_type + "): " + e.what());
    } catch (const std::exception& e) {
      throw ValueError("onnx: node '" + node.name + "' (" + node.op_type + "): " + e.what());
    }
    for (size_t o = 0; o < node.outputs.size(); ++o) {
      if (node.outputs[o].empty()) continue;
      if (auto s = ctx.seq_out.find(o); s != ctx.seq_out.end()) {
        seqs[node.outputs[o]] = std::move(s->second);
        continue;
      }
      require_supported(o < outs.size() && outs[o].defined(), node.op_type, "onnx: node '", node.name, "' (",
                        node.op_type, "): output ", o, " is not implemented");
      env[node.outputs[o]] = std::move(outs[o]);
    }
    // Free values no later node reads (keeps peak memory near the live set).
    for (const auto& name : node.inputs) {
      if (name.empty() || keep.count(name) || m.weights.count(name)) continue;
      auto it = m.last_use.find(name);
      if (it != m.last_use.end() && it->second == k) {
        env.erase(name);
        seqs.erase(name);
      }
    }
  }
  for (const auto& o : m.outputs)
    require_supported(!seqs.count(o.name), "sequence output", "onnx: graph output '", o.name,
                      "' is a sequence, which kun does not return");
  std::map<std::string, Tensor> result;
  for (const auto& o : m.outputs) result[o.name] = env.at(o.name);
  return result;
}

std::string detail::graph_bytes_with_weights(const std::string& graph_bytes, const std::map<std::string, Tensor>& weights) {
  pb::ModelProto mp;
  KUN_CHECK(mp.ParseFromString(graph_bytes), IOError, "onnx: the stored graph is corrupt");
  for (const auto& [name, t] : weights) {
    pb::TensorProto* tp = mp.mutable_graph()->add_initializer();
    to_proto(t, *tp);
    tp->set_name(name);
  }
  std::string out;
  KUN_CHECK(mp.SerializeToString(&out), ValueError, "onnx: cannot serialize the model (larger than 2 GB?)");
  return out;
}

std::vector<std::string> supported_operators() {
  std::vector<std::string> r;
  for (const auto& [name, fn] : detail::op_registry()) r.push_back(name);
  return r;
}
bool is_supported(const std::string& op_type) { return detail::op_registry().count(op_type) != 0; }

}  // namespace kun::onnx
