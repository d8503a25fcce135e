// `kun onnx` verbs: info (import check + summary), run (inference on .npy inputs), import (to a .kun
// model file) and export (a .kun model to .onnx).
#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>
#include <map>
#include <sstream>

#include "kun/apps/onnx/export.h"
#include "kun/apps/onnx/module.h"
#include "kun/apps/onnx/onnx.h"
#include "kun/train/config.h"
#include "kun/train/model.h"
#include "kun/core/threading.h"
#include "kun/data/npy.h"

namespace kun::onnx {
namespace {

std::string dims_str(const ValueInfo& v) {
  if (!v.has_shape) return "(?)";
  std::string s = "(";
  for (size_t d = 0; d < v.dims.size(); ++d) {
    if (d) s += ", ";
    s += v.dims[d] >= 0 ? std::to_string(v.dims[d]) : (v.dim_names[d].empty() ? "?" : v.dim_names[d]);
  }
  return s + ")";
}

void print_info(const Model& m, std::ostream& os) {
  os << "opset " << m.opset() << ", " << m.nodes().size() << " nodes, " << m.weights().size() << " initializers\n";
  for (const auto& v : m.inputs()) os << "  input  " << v.name << " " << elem_type_name(v.elem_type) << " " << dims_str(v) << "\n";
  for (const auto& v : m.outputs()) os << "  output " << v.name << " " << elem_type_name(v.elem_type) << " " << dims_str(v) << "\n";
  std::map<std::string, int> ops;
  for (const auto& n : m.nodes()) ops[n.op_type]++;
  os << "  operators:";
  for (const auto& [op, n] : ops) os << " " << op << " x" << n;
  os << "\n";
}

}  // namespace

int cli_main(int argc, char** argv) {
  CLI::App app{"kun onnx: import, run and export ONNX models with kun's kernels", "onnx"};
  app.require_subcommand(1);
  int threads = 0;
  app.add_option("--threads", threads, "worker threads (0: all cores)");

  std::string model_path;
  bool check = false;
  auto* info = app.add_subcommand("info", "import a model (reporting any unsupported operator) and print its inputs, outputs and operators");
  info->add_option("model", model_path, ".onnx file")->required();
  info->add_flag("--check", check, "also run the ONNX checker");

  std::string kun_out, activation = "auto";
  std::vector<std::string> classes;
  auto* imp = app.add_subcommand("import", "import an .onnx model; with -o save it as a kun model file that kun predict / train::Model::load run");
  imp->add_option("model", model_path, ".onnx file")->required();
  imp->add_option("-o,--output", kun_out, "the .kun model file to write (plus its .meta.json sidecar)");
  imp->add_option("--output-activation", activation, "how kun predict reads the outputs: auto, softmax, sigmoid, none")
      ->check(CLI::IsMember({"auto", "softmax", "sigmoid", "none"}));
  imp->add_option("--classes", classes, "class names for kun predict, in output order");
  imp->add_flag("--check", check, "also run the ONNX checker");

  std::string onnx_out, input_shape;
  int64_t opset = 17;
  auto* exp = app.add_subcommand("export", "export a kun model file (Sequential or Graph of kun layers) to ONNX");
  exp->add_option("model", model_path, ".kun model file")->required();
  exp->add_option("-o,--output", onnx_out, "the .onnx file to write")->required();
  exp->add_option("--input-shape", input_shape,
                  "input shape without the batch dim, e.g. 1,28,28 (default: the model's .meta.json, or a Graph's inputs); "
                  "-1 marks a dynamic dim");
  exp->add_option("--opset", opset, "ONNX opset (14..17)")->check(CLI::Range(14, 17));

  std::vector<std::string> inputs;
  std::string out_dir;
  int repeat = 1;
  auto* run = app.add_subcommand("run", "run a model on .npy (or TensorProto .pb) inputs");
  run->add_option("model", model_path, ".onnx file")->required();
  run->add_option("-i,--input", inputs, "input files in the model's input order, or name=file")->required();
  run->add_option("-o,--output", out_dir, "write each output to <dir>/<name>.npy");
  run->add_option("--repeat", repeat, "run this many times and print the median latency");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (threads > 0) set_num_threads(threads);
    if (exp->parsed()) {
      train::Model km = train::Model::load(model_path);
      ExportOptions eo;
      eo.opset = opset;
      std::vector<int64_t> shape;
      if (!input_shape.empty()) {
        std::stringstream ss(input_shape);
        std::string tok;
        while (std::getline(ss, tok, ','))
          try {
            shape.push_back(std::stoll(tok));
          } catch (const std::exception&) {
            throw ValueError("--input-shape: expected comma-separated integers like 1,28,28, got '" + input_shape + "'");
          }
      } else if (auto meta = train::load_meta(model_path); meta && km.module().type_name() != "graph") {
        shape = meta->input_shape;
      }
      if (!shape.empty()) eo.input_shapes = {shape};
      export_model(km.module(), onnx_out, eo);
      Model back = Model::load(onnx_out);
      std::cout << "wrote " << onnx_out << " (opset " << back.opset() << ", " << back.nodes().size() << " nodes, "
                << back.weights().size() << " initializers; passes the ONNX checker)\n";
      return 0;
    }
    Model m = Model::load(model_path, {.run_checker = check});
    if (info->parsed() || (imp->parsed() && kun_out.empty())) {
      print_info(m, std::cout);
      return 0;
    }
    if (imp->parsed()) {
      import_to_kun(model_path, kun_out, {.output_activation = activation, .classes = classes});
      std::cout << "wrote " << kun_out << " and " << train::meta_path_for(kun_out) << " (" << m.nodes().size()
                << " nodes, " << m.weights().size() << " initializers)\n";
      return 0;
    }
    std::map<std::string, Tensor> feeds;
    for (size_t k = 0; k < inputs.size(); ++k) {
      std::string name, file = inputs[k];
      if (auto eq = file.find('='); eq != std::string::npos) {
        name = file.substr(0, eq);
        file = file.substr(eq + 1);
      } else {
        KUN_CHECK(k < m.inputs().size(), ValueError, "onnx run: the model takes ", m.inputs().size(), " inputs, got ",
                  inputs.size());
        name = m.inputs()[k].name;
      }
      bool pb = file.size() > 3 && file.substr(file.size() - 3) == ".pb";
      feeds[name] = pb ? read_tensor_pb(file) : data::read_npy(file, {.allow_nonfinite = true});
    }
    std::vector<double> ms;
    std::map<std::string, Tensor> outs;
    for (int r = 0; r < std::max(repeat, 1); ++r) {
      auto t0 = std::chrono::steady_clock::now();
      outs = m.run(feeds);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    for (const auto& o : m.outputs()) {
      const Tensor& t = outs.at(o.name);
      std::cout << o.name << " " << dtype_name(t.dtype()) << " " << t.shape() << "\n" << t.str() << "\n";
      if (!out_dir.empty()) data::write_npy(out_dir + "/" + o.name + ".npy", t.contiguous());
    }
    std::cerr << "latency " << ms[ms.size() / 2] << " ms (median of " << ms.size() << ")\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "kun onnx: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace kun::onnx
