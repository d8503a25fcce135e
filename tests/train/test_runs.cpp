// Run records in SQLite (insert, list, show, compare on a temp database) and the SVG plots.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "golden_util.h"
#include "kun/train/plot.h"
#include "kun/train/runs.h"

using namespace kun;
using namespace kun::train;
namespace fs = std::filesystem;

namespace {

struct TempDb {
  fs::path dir;
  TempDb() {
    dir = fs::temp_directory_path() / ("kun_test_runs_" + std::to_string(::getpid()) + "_" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
  }
  ~TempDb() { fs::remove_all(dir); }
  std::string path() const { return (dir / "sub" / "kun.db").string(); }
};

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

}  // namespace

TEST(Runs, RecordListShowCompare) {
  TempDb t;
  RunStore db(t.path());  // creates the folder and the schema
  EXPECT_TRUE(fs::exists(t.path()));
  EXPECT_NE(format_run_list(db.list()).find("no runs"), std::string::npos);

  int64_t a = db.begin_run({"mnist_cnn", R"({"train": {"epochs": 2, "optimizer": {"lr": 0.001}}})", "a.toml", "kun train a.toml"});
  int64_t b = db.begin_run({"mnist_big", R"({"train": {"epochs": 3, "optimizer": {"lr": 0.002}}})", "b.toml", ""});
  EXPECT_EQ(b, a + 1);
  for (int e = 1; e <= 2; ++e) db.log_epoch(a, {e, 1.5 * e, {{"loss", 1.0 / e}, {"accuracy", 0.8 + 0.05 * e}, {"val_loss", 1.2 / e}}});
  db.log_epoch(b, {1, 2.0, {{"loss", 0.7}}});
  db.set_results(a, {{"test_accuracy", 0.9876}, {"test_loss", 0.05}});
  db.add_artifact(a, "model", "runs/1/model.kun");
  db.finish_run(a, "finished");
  db.finish_run(b, "failed", "mnist: missing train-images");

  std::vector<RunInfo> all = db.list();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, b);  // newest first
  EXPECT_EQ(all[1].status, "finished");
  EXPECT_EQ(all[1].epochs, 2);
  EXPECT_EQ(db.list(1).size(), 1u);
  std::string table = format_run_list(all);
  EXPECT_NE(table.find("mnist_cnn"), std::string::npos);
  EXPECT_NE(table.find("accuracy 0.9876"), std::string::npos) << table;
  EXPECT_NE(table.find("failed"), std::string::npos);

  RunInfo ra = db.get(a);
  EXPECT_EQ(ra.name, "mnist_cnn");
  EXPECT_EQ(ra.config_path, "a.toml");
  EXPECT_EQ(ra.command, "kun train a.toml");
  EXPECT_DOUBLE_EQ(ra.results.at("test_accuracy"), 0.9876);
  ASSERT_EQ(ra.artifacts.size(), 1u);
  EXPECT_EQ(ra.artifacts[0].second, "runs/1/model.kun");
  EXPECT_FALSE(ra.finished_at.empty());
  EXPECT_EQ(db.get(b).error, "mnist: missing train-images");

  std::vector<EpochRow> ea = db.epochs(a);
  ASSERT_EQ(ea.size(), 2u);
  EXPECT_EQ(ea[1].epoch, 2);
  EXPECT_DOUBLE_EQ(ea[1].seconds, 3.0);
  EXPECT_DOUBLE_EQ(ea[1].metrics.at("loss"), 0.5);
  std::string show = format_run(ra, ea);
  EXPECT_NE(show.find("val_loss"), std::string::npos) << show;
  EXPECT_NE(show.find("runs/1/model.kun"), std::string::npos);

  std::string cmp = format_compare(ra, ea, db.get(b), db.epochs(b));
  EXPECT_NE(cmp.find("final loss"), std::string::npos) << cmp;
  EXPECT_NE(cmp.find("config differences: 2"), std::string::npos) << cmp;
  EXPECT_NE(cmp.find("train.optimizer.lr"), std::string::npos) << cmp;
  EXPECT_NE(cmp.find("train.epochs"), std::string::npos) << cmp;

  KUN_EXPECT_ERROR(db.get(99), "no run 99 in", "kun.db");
}

TEST(Runs, ReopenKeepsRecordsAndRejectsNonDatabases) {
  TempDb t;
  {
    RunStore db(t.path());
    db.begin_run({"x", "{}", "", ""});
  }
  RunStore again(t.path());
  EXPECT_EQ(again.list().size(), 1u);
  fs::create_directories(t.dir);
  std::string junk = (t.dir / "junk.db").string();
  std::ofstream(junk) << "this is not a sqlite database, just text that is long enough to have a header......";
  KUN_EXPECT_ERROR(RunStore s(junk), "runs db", "junk.db");
}

TEST(Plot, SvgIsWellFormed) {
  PlotPanel loss{"loss", "epoch", {{"loss", {1, 2, 3}, {1.0, 0.5, 0.25}, false}, {"val_loss", {1, 2, 3}, {1.1, 0.7, NAN}, true}}};
  PlotPanel acc{"accuracy <&>", "epoch", {{"accuracy", {1, 2, 3}, {0.8, 0.9, 0.95}, false}}};
  PlotOptions o;
  o.title = "run 1: mnist";
  std::string svg = svg_line_plot({loss, acc}, o);
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("<svg xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
  EXPECT_EQ(count(svg, "<g>"), 2u);
  EXPECT_EQ(count(svg, "</g>"), 2u);
  EXPECT_EQ(count(svg, "<polyline"), 3u);
  EXPECT_EQ(count(svg, "stroke-dasharray"), 2u);  // the val curve and its legend line
  EXPECT_EQ(count(svg, "<circle"), 3u + 2u + 3u);  // the NaN point is skipped
  EXPECT_NE(svg.find("accuracy &lt;&amp;&gt;"), std::string::npos);  // escaped
  EXPECT_EQ(svg.find("nan"), std::string::npos);
  // Every opened element is closed: count '<' of elements vs '/>' and closing tags.
  EXPECT_EQ(count(svg, "<text"), count(svg, "</text>"));
  // Degenerate input (one point, constant values, empty panel) still draws.
  std::string one = svg_line_plot({{"loss", "epoch", {{"loss", {1}, {0.3}, false}}}, {"empty", "epoch", {}}});
  EXPECT_EQ(one.find("nan"), std::string::npos);
  EXPECT_EQ(one.find("inf"), std::string::npos);

  TempDb t;
  std::string path = (t.dir / "p" / "curves.svg").string();
  write_svg(path, {loss});
  EXPECT_TRUE(fs::exists(path));
  KUN_EXPECT_ERROR(write_svg("/proc/nonexistent/x.svg", {loss}), "cannot write", "x.svg");
}

TEST(Plot, NiceTicks) {
  std::vector<double> t = nice_ticks(0.13, 0.92, 5);
  EXPECT_LE(t.front(), 0.13);
  EXPECT_GE(t.back(), 0.92);
  EXPECT_NEAR(t[1] - t[0], 0.2, 1e-12);
  std::vector<double> c = nice_ticks(5, 5);
  EXPECT_GE(c.size(), 2u);
  EXPECT_LT(c.front(), c.back());
}
