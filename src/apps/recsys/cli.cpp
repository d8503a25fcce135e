// The recsys command line: a thin layer over data / recommender / evaluate.
#include "kun/apps/recsys/cli.h"

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <toml++/toml.h>

#include "kun/apps/recsys/algorithms.h"
#include "kun/apps/recsys/evaluate.h"
#include "kun/core/error.h"
#include "kun/core/threading.h"

namespace kun::recsys {

namespace {
namespace fs = std::filesystem;

std::string default_data_path() {
  if (const char* env = std::getenv("KUN_MOVIELENS"); env && *env) return env;
  return "../shared/data/movielens-100k/ml-100k";
}

// A MovieLens folder (ml-100k u.data + u.item, ml-1m / ml-10m ratings.dat + movies.dat) or one
// ratings file (tab, "::" or CSV).
Dataset load_dataset(const std::string& path, const ReadOptions& ro) {
  KUN_CHECK(fs::exists(path), IOError, "recsys: data path '", path,
            "' does not exist (set --data or KUN_MOVIELENS to the MovieLens folder)");
  if (fs::is_directory(path)) {
    if (fs::exists(fs::path(path) / "u.data")) return read_movielens_100k(path, ro);
    if (fs::exists(fs::path(path) / "ratings.dat")) {
      Dataset ds = read_ratings((fs::path(path) / "ratings.dat").string(), ro);
      if (fs::exists(fs::path(path) / "movies.dat")) read_movies_dat(ds, (fs::path(path) / "movies.dat").string());
      return ds;
    }
    if (fs::exists(fs::path(path) / "ratings.csv")) return read_ratings((fs::path(path) / "ratings.csv").string(), ro);
    KUN_CHECK(false, IOError, "recsys: '", path, "' holds no u.data, ratings.dat or ratings.csv");
  }
  return read_ratings(path, ro);
}

std::string toml_value_string(const toml::node& n) {
  if (auto v = n.as_string()) return v->get();
  if (auto v = n.as_boolean()) return v->get() ? "true" : "false";
  if (auto v = n.as_integer()) return std::to_string(v->get());
  if (auto v = n.as_floating_point()) {
    std::ostringstream os;
    os.precision(17);
    os << v->get();
    return os.str();
  }
  KUN_CHECK(false, ValueError, "recsys config: parameter values must be strings, numbers or booleans");
  return "";
}

Params params_from_table(const toml::table* t) {
  Params p;
  if (!t) return p;
  for (auto& [k, v] : *t) p.set(std::string(k.str()), toml_value_string(v));
  return p;
}

ReadOptions read_options(const toml::table& cfg) {
  ReadOptions ro;
  if (auto s = cfg["data"]["scale"].as_array(); s && s->size() == 2) {
    ro.scale.low = float(s->get(0)->value<double>().value_or(1.0));
    ro.scale.high = float(s->get(1)->value<double>().value_or(5.0));
  }
  const std::string oos = cfg["data"]["out_of_scale"].value_or(std::string("error"));
  KUN_CHECK(oos == "error" || oos == "clip" || oos == "drop", ValueError,
            "recsys config: data.out_of_scale must be error, clip or drop, got '", oos, "'");
  ro.out_of_scale = oos == "error" ? OutOfScale::error : oos == "clip" ? OutOfScale::clip : OutOfScale::drop;
  const std::string dup = cfg["data"]["duplicates"].value_or(std::string("keep_last"));
  KUN_CHECK(dup == "keep_last" || dup == "keep_first" || dup == "error", ValueError,
            "recsys config: data.duplicates must be keep_last, keep_first or error, got '", dup, "'");
  ro.duplicates = dup == "keep_last" ? Duplicates::keep_last : dup == "keep_first" ? Duplicates::keep_first : Duplicates::error;
  return ro;
}

toml::table parse_config(const std::string& path) {
  try {
    return toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << "recsys: config '" << path << "':" << e.source().begin.line << ": " << e.description();
    throw IOError(os.str());
  }
}

void print_list(const std::vector<Scored>& list, const ModelBundle& b, const char* score_name) {
  int rank = 0;
  for (auto& s : list) {
    const std::string& ext = b.items.external(s.item);
    std::string title = size_t(s.item) < b.meta.title.size() ? b.meta.title[size_t(s.item)] : "";
    std::printf("%3d. %-8s %-60s %s %.4f\n", ++rank, ext.c_str(), title.c_str(), score_name, double(s.score));
  }
}

std::vector<TrainTest> make_folds(Dataset& ds, const std::string& split, int folds, uint64_t seed,
                                  const std::string& dir, const ReadOptions& ro) {
  if (split == "random") return k_fold(ds.ratings, folds, seed);
  if (split == "u1-u5") {
    std::vector<TrainTest> out;
    for (int f = 1; f <= 5; ++f) out.push_back(read_split_files(ds, dir, "u" + std::to_string(f), ro));
    return out;
  }
  if (split == "ua" || split == "ub") return {read_split_files(ds, dir, split, ro)};
  if (split == "loo") return {leave_last_out(ds.ratings)};
  KUN_CHECK(false, ValueError, "recsys eval: --split must be random, u1-u5, ua, ub or loo, got '", split, "'");
  return {};
}
}  // namespace

int cli_main(int argc, char** argv) {
  CLI::App app{"kun recsys: rating prediction and top-N recommendation (MovieLens, CSV)", "recsys"};
  app.require_subcommand(1);
  std::string data = default_data_path();
  int threads = 0;
  auto* data_opt = app.add_option("--data", data,
                                  "MovieLens folder or ratings file; overrides a config's [data] path "
                                  "(default: KUN_MOVIELENS, else ../shared/data/movielens-100k/ml-100k)");
  app.add_option("--threads", threads, "worker threads (0: all cores)");

  std::string config, model_out;
  auto* train = app.add_subcommand("train", "fit the model a TOML config describes and save it");
  train->add_option("config", config, "TOML config (see examples/recsys_*.toml)")->required();
  train->add_option("-o,--output", model_out, "model file (default: [output] model or recsys_model.kunrec)");

  std::vector<std::string> algos;
  std::string split = "random", eval_config;
  int folds = 5, k = 10;
  uint64_t seed = 0;
  bool per_fold = false;
  auto* eval = app.add_subcommand("eval", "cross-validate algorithms (RMSE / MAE table) or rank on leave-last-out");
  eval->add_option("config", eval_config, "optional TOML config ([model] / [eval] sections)");
  eval->add_option("-a,--algo", algos, "algorithms (default: the Surprise benchmark set; ranking: popularity bpr implicit_als)");
  // Flags given on the command line win over the config's [eval] values.
  auto* split_opt = eval->add_option("--split", split, "random | u1-u5 | ua | ub | loo (leave-last-out ranking)");
  auto* folds_opt = eval->add_option("--folds", folds, "folds for --split random");
  auto* seed_opt = eval->add_option("--seed", seed, "shuffle seed for --split random");
  eval->add_option("-k", k, "cut-off for the ranking metrics");
  eval->add_flag("--per-fold", per_fold, "print every fold");

  std::string model_path = "recsys_model.kunrec", user, item;
  int n = 10;
  auto* rec = app.add_subcommand("recommend", "top-N items for a user (already-rated items excluded)");
  rec->add_option("-m,--model", model_path, "model file from `train`");
  rec->add_option("-u,--user", user, "external user id")->required();
  rec->add_option("-n", n, "how many");
  auto* sim = app.add_subcommand("similar", "items most similar to an item");
  sim->add_option("-m,--model", model_path, "model file from `train`");
  sim->add_option("-i,--item", item, "external item id")->required();
  sim->add_option("-n", n, "how many");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  try {
    if (threads > 0) set_num_threads(threads);
    if (train->parsed()) {
      const toml::table cfg = parse_config(config);
      const std::string path = data_opt->count() ? data : cfg["data"]["path"].value_or(data);
      const ReadOptions ro = read_options(cfg);
      Dataset ds = load_dataset(path, ro);
      ModelBundle b;
      b.algorithm = cfg["model"]["algorithm"].value_or(std::string("svd"));
      b.params = params_from_table(cfg["model"]["params"].as_table());
      b.model = make_recommender(b.algorithm, b.params);
      const auto t0 = std::chrono::steady_clock::now();
      b.model->fit(std::make_shared<const TrainSet>(
          make_trainset(ds.ratings, ds.users.size(), ds.items.size(), ds.scale, &ds.meta)));
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      b.users = ds.users;
      b.items = ds.items;
      b.meta = ds.meta;
      if (model_out.empty()) model_out = cfg["output"]["model"].value_or(std::string("recsys_model.kunrec"));
      save_model(model_out, b);
      std::printf("trained %s on %zu ratings (%d users, %d items) in %.3f s -> %s\n", b.algorithm.c_str(),
                  ds.ratings.size(), ds.users.size(), ds.items.size(), secs, model_out.c_str());
      return 0;
    }
    if (eval->parsed()) {
      ReadOptions ro;
      Params params;
      std::string path = data;
      if (!eval_config.empty()) {
        const toml::table cfg = parse_config(eval_config);
        path = data_opt->count() ? data : cfg["data"]["path"].value_or(data);
        ro = read_options(cfg);
        params = params_from_table(cfg["model"]["params"].as_table());
        if (algos.empty() && cfg["model"]["algorithm"]) algos.push_back(cfg["model"]["algorithm"].value_or(std::string()));
        if (!split_opt->count()) split = cfg["eval"]["split"].value_or(split);
        if (!folds_opt->count()) folds = int(cfg["eval"]["folds"].value_or(int64_t(folds)));
        if (!seed_opt->count()) seed = uint64_t(cfg["eval"]["seed"].value_or(int64_t(seed)));
      }
      Dataset ds = load_dataset(path, ro);
      const std::string dir = fs::is_directory(path) ? path : fs::path(path).parent_path().string();
      auto fs_ = make_folds(ds, split, folds, seed, dir, ro);
      if (split == "loo") {
        if (algos.empty()) algos = {"popularity", "bpr", "implicit_als"};
        std::printf("leave-last-out: %zu train / %zu test ratings, k=%d\n", fs_[0].train.size(), fs_[0].test.size(), k);
        std::printf("%-14s %9s %9s %9s %9s %9s %9s %8s\n", "Algorithm", "NDCG", "HitRate", "Prec", "Recall", "MAP",
                    "Coverage", "Fit (s)");
        auto ts = std::make_shared<const TrainSet>(
            make_trainset(fs_[0].train, ds.users.size(), ds.items.size(), ds.scale, &ds.meta));
        for (auto& a : algos) {
          auto m = make_recommender(a, params);
          const auto t0 = std::chrono::steady_clock::now();
          m->fit(ts);
          const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          RankingMetrics r = evaluate_ranking(*m, fs_[0].test, {.k = k});
          std::printf("%-14s %9.4f %9.4f %9.4f %9.4f %9.4f %9.4f %8.3f\n", a.c_str(), r.ndcg, r.hit_rate, r.precision,
                      r.recall, r.map, r.coverage, secs);
        }
        return 0;
      }
      if (algos.empty()) algos = {"svd", "svdpp", "nmf", "knn_basic", "knn_with_means", "knn_baseline", "baseline"};
      std::printf("%s split: %zu fold(s), %zu ratings, %d users, %d items\n", split.c_str(), fs_.size(),
                  ds.ratings.size(), ds.users.size(), ds.items.size());
      std::vector<CvResult> results;
      for (auto& a : algos) {
        results.push_back(cross_validate(a, algos.size() == 1 || !eval_config.empty() ? params : Params{}, ds, fs_));
        std::fputs(format_cv_table({results.back()}, per_fold).c_str(), stdout);
        std::fflush(stdout);
      }
      if (results.size() > 1) std::printf("\n%s", format_cv_table(results, false).c_str());
      return 0;
    }
    if (rec->parsed() || sim->parsed()) {
      ModelBundle b = load_model(model_path);
      KUN_CHECK(n >= 1, ValueError, "recsys: -n must be >= 1, got ", n);
      if (rec->parsed()) {
        const int32_t u = b.users.find(user);
        if (u < 0 || !b.model->train().knows_user(u))
          std::printf("user '%s' is unknown to the model: most popular items instead\n", user.c_str());
        print_list(b.model->recommend(u, n), b, b.algorithm == "popularity" ? "ratings" : "score");
      } else {
        const int32_t i = b.items.find(item);
        KUN_CHECK(i >= 0, ValueError, "recsys similar: item '", item, "' is not in the model's catalogue");
        if (size_t(i) < b.meta.title.size()) std::printf("items similar to %s %s:\n", item.c_str(), b.meta.title[size_t(i)].c_str());
        print_list(b.model->similar_items(i, n), b, "sim");
      }
      return 0;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kun recsys: %s\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace kun::recsys
