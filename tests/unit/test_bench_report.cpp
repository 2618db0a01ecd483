// The benchmark report: statistics over seeds by hand-computed answers, the published figures as
// transcribed, and every output file (Markdown, CSV, JSON, PNG, HTML) checked for its content.
#include "oneclass/report/bench_report.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "oneclass/error.h"
#include "oneclass/report/figures.h"  // figures_available
#include "report/bench_report_internal.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
namespace internal = oneclass::report::detail;  // plain "detail" clashes with LibTorch's (precompiled header)
using nlohmann::json;
using oneclass::Error;
using namespace oneclass::report;
using oneclass::testing_support::contains;
using oneclass::testing_support::error_of;
using oneclass::testing_support::read_file;
using oneclass::testing_support::ScopedEnv;
using oneclass::testing_support::TempDir;
using oneclass::testing_support::write_file;

namespace {

BenchRow row(const std::string& dataset, const std::string& model, int cls, uint64_t seed, double auroc,
             const std::string& artifacts = "") {
  BenchRow r;
  r.dataset = dataset;
  r.model = model;
  r.normal_class = cls;
  r.seed = seed;
  r.auroc = auroc;
  r.auprc = auroc / 2;
  r.train_seconds = 1.5;
  r.artifacts = artifacts;
  return r;
}

// Model "a" on MNIST: seeds 1 and 2 finish classes 0 and 1; seed 3 finishes class 0 only.
//   class 0: 0.9, 0.7, 0.8 -> mean 0.8, sample std 0.1
//   class 1: 0.8, 0.6      -> mean 0.7, sample std sqrt(0.02) = 0.141421...
//   per seed: 0.85, 0.65 (seed 3 incomplete) -> overall 0.75 ± 0.141421..., n = 2
std::vector<BenchRow> small_rows() {
  return {row("mnist", "a", 1, 2, 0.6), row("mnist", "a", 0, 3, 0.8), row("mnist", "a", 0, 1, 0.9),
          row("mnist", "a", 1, 1, 0.8), row("mnist", "a", 0, 2, 0.7)};
}

// Two models on MNIST with all ten classes and two seeds, one on Fashion-MNIST.
std::vector<BenchRow> full_rows() {
  std::vector<BenchRow> rows;
  for (uint64_t seed : {1, 2})
    for (int c = 0; c < 10; ++c) {
      rows.push_back(row("mnist", "mlp_ae", c, seed, 0.90 + 0.004 * c + 0.02 * (seed == 2)));
      rows.push_back(row("mnist", "conv_ae", c, seed, 0.95));
      rows.push_back(row("fashion-mnist", "mlp_ae", c, seed, 0.85));
    }
  return rows;
}

BenchContext context() {
  BenchContext c;
  c.command = "oneclass bench --seeds 2";
  c.environment = "x86_64, 2 threads, LibTorch 1.13.0";
  c.wall_seconds = 42;
  c.jobs_total = 64;
  return c;
}

const PublishedResult* find_published(const std::string& method, const std::string& dataset, double mean) {
  for (const auto& p : published_results())
    if (p.method == method && p.dataset == dataset && std::abs(p.mean_auroc - mean) < 1e-9) return &p;
  return nullptr;
}

// The line of a Markdown table whose first cell is `name`.
std::string table_line(const std::string& markdown, const std::string& name) {
  size_t at = markdown.find("\n| " + name + " |");
  if (at == std::string::npos) return "";
  return markdown.substr(at + 1, markdown.find('\n', at + 1) - at - 1);
}

bool is_png(const std::string& bytes) { return bytes.rfind(std::string("\x89PNG\r\n\x1a\n", 8), 0) == 0; }

}  // namespace

// ---------------------------------------------------------------------------------------------
// summarize

TEST(Summarize, MeanSampleStdAndOverallOverCompleteSeedsOnly) {
  auto summaries = summarize(small_rows());
  ASSERT_EQ(summaries.size(), 1u);
  const auto& s = summaries[0];
  EXPECT_EQ(s.dataset, "mnist");
  EXPECT_EQ(s.model, "a");
  ASSERT_EQ(s.classes, (std::vector<int>{0, 1}));
  ASSERT_EQ(s.per_class.size(), 2u);
  EXPECT_NEAR(s.per_class[0].mean, 0.8, 1e-12);
  EXPECT_NEAR(s.per_class[0].std, 0.1, 1e-12);
  EXPECT_EQ(s.per_class[0].n, 3);
  EXPECT_NEAR(s.per_class[1].mean, 0.7, 1e-12);
  EXPECT_NEAR(s.per_class[1].std, std::sqrt(0.02), 1e-12);
  EXPECT_EQ(s.per_class[1].n, 2);
  // Counting seed 3 (class 0 only, 0.8) would give a mean of 0.7667 over three seeds.
  EXPECT_NEAR(s.overall.mean, 0.75, 1e-12);
  EXPECT_NEAR(s.overall.std, std::sqrt(0.02), 1e-12);
  EXPECT_EQ(s.overall.n, 2);
  EXPECT_EQ(s.jobs, 5);
  EXPECT_NEAR(s.train_seconds, 7.5, 1e-12);
}

TEST(Summarize, OneSeedHasZeroStd) {
  auto s = summarize({row("mnist", "a", 0, 7, 0.9), row("mnist", "a", 1, 7, 0.7)});
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].per_class[0].n, 1);
  EXPECT_EQ(s[0].per_class[0].std, 0);
  EXPECT_NEAR(s[0].overall.mean, 0.8, 1e-12);
  EXPECT_EQ(s[0].overall.std, 0);
  EXPECT_EQ(s[0].overall.n, 1);
}

TEST(Summarize, OrdersDatasetsModelsAndClasses) {
  std::vector<BenchRow> rows{row("fashion-mnist", "b", 2, 1, 0.5), row("mnist", "b", 2, 1, 0.5),
                             row("mnist", "a", 1, 1, 0.5),         row("mnist", "b", 0, 1, 0.5),
                             row("mnist", "a", 2, 1, 0.5),         row("mnist", "a", 0, 1, 0.5)};
  auto s = summarize(rows);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].dataset + "/" + s[0].model, "mnist/a");
  EXPECT_EQ(s[1].dataset + "/" + s[1].model, "mnist/b");
  EXPECT_EQ(s[2].dataset + "/" + s[2].model, "fashion-mnist/b");
  EXPECT_EQ(s[0].classes, (std::vector<int>{0, 1, 2}));
  // Every model of a data set gets the data set's classes: b never finished class 1, so it has
  // no value there and no seed that finished every class.
  EXPECT_EQ(s[1].classes, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(s[1].per_class[1].n, 0);
  EXPECT_EQ(s[1].overall.n, 0);
  EXPECT_EQ(s[2].classes, (std::vector<int>{2}));
  EXPECT_EQ(s[2].overall.n, 1);
}

TEST(Summarize, RejectsAJobReportedTwice) {
  auto rows = small_rows();
  rows.push_back(row("mnist", "a", 1, 2, 0.61));
  std::string message = error_of([&] { summarize(rows); });
  EXPECT_TRUE(contains(message, "class 1, seed 2")) << message;
  EXPECT_TRUE(summarize({}).empty());
}

// ---------------------------------------------------------------------------------------------
// Published figures

TEST(Published, HasEveryAnchorFigure) {
  const auto& all = published_results();
  EXPECT_EQ(all.size(), 16u);
  struct Expected {
    const char* method;
    const char* dataset;
    double mean;
    bool verified, extra_data;
  };
  const Expected expected[] = {
      {"KDE", "mnist", 86.9, false, false},
      {"OC-SVM (raw pixels)", "mnist", 91.3, true, false},
      {"Isolation Forest", "mnist", 92.3, true, false},
      {"DCAE (convolutional autoencoder)", "mnist", 89.7, false, false},
      {"AnoGAN", "mnist", 91.3, true, false},
      {"AnoGAN", "mnist", 93.7, false, false},
      {"Deep SVDD (one-class)", "mnist", 94.8, true, false},
      {"OCGAN", "mnist", 97.5, true, false},
      {"LSA", "mnist", 97.5, false, false},
      {"MemAE", "mnist", 97.5, false, false},
      {"GEOM", "mnist", 98.0, false, false},
      {"GEOM", "fashion-mnist", 93.5, true, false},
      {"ARNet", "mnist", 98.3, true, false},
      {"ARNet", "fashion-mnist", 93.9, true, false},
      {"PANDA", "fashion-mnist", 95.6, false, true},
      {"DN2 (kNN on pretrained features)", "fashion-mnist", 94.5, false, true},
  };
  for (const auto& e : expected) {
    const PublishedResult* p = find_published(e.method, e.dataset, e.mean);
    ASSERT_NE(p, nullptr) << e.method << " " << e.dataset << " " << e.mean;
    EXPECT_EQ(p->verified, e.verified) << e.method;
    EXPECT_EQ(p->extra_data, e.extra_data) << e.method;
    EXPECT_FALSE(p->source.empty()) << e.method;
  }
  EXPECT_TRUE(contains(find_published("AnoGAN", "mnist", 93.7)->note, "rerun by Cheng et al. 2020"));
}

TEST(Published, DeepSvddPerClassValues) {
  const PublishedResult* p = find_published("Deep SVDD (one-class)", "mnist", 94.8);
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(p->per_class.size(), 10u);
  EXPECT_EQ(p->per_class, (std::vector<double>{98.0, 99.7, 91.7, 91.9, 94.9, 88.5, 98.3, 94.6, 93.9, 96.5}));
  double sum = 0;
  for (double v : p->per_class) sum += v;
  EXPECT_NEAR(sum, 948.0, 1e-9);
  for (const auto& other : published_results())
    if (&other != p) {
      EXPECT_TRUE(other.per_class.empty()) << other.method << ": ANCHORS gives no per-class values";
    }
}

TEST(Published, EmbeddedTextIsTheDataFile) {
  EXPECT_EQ(std::string(internal::published_auroc_json()), read_file(ONECLASS_SOURCE_DIR "/data/published_auroc.json"))
      << "reconfigure the build (CMake regenerates the embedded copy)";
}

TEST(Published, MalformedEntriesNameTheEntry) {
  auto parse = [](const std::string& entry) {
    return error_of([&] { internal::parse_published_results("{\"results\": [" + entry + "]}", "test.json"); });
  };
  const std::string good =
      R"({"method": "M", "source": "S", "dataset": "mnist", "mean_auroc": 90.0, "per_class": [],
          "extra_data": false, "verified": true, "note": ""})";
  EXPECT_EQ(internal::parse_published_results("{\"results\": [" + good + "]}", "test.json").size(), 1u);

  std::string m = parse(std::regex_replace(good, std::regex(R"("note": "")"), R"("nots": "")"));
  EXPECT_TRUE(contains(m, "test.json, entry 0 (M, mnist)") && contains(m, "nots")) << m;
  m = parse(std::regex_replace(good, std::regex(R"("per_class": \[\])"), R"("per_class": [90, 90])"));
  EXPECT_TRUE(contains(m, "entry 0 (M, mnist)") && contains(m, "10 values")) << m;
  m = parse(std::regex_replace(good, std::regex(R"("per_class": \[\])"),
                               R"("per_class": [80, 80, 80, 80, 80, 80, 80, 80, 80, 80])"));
  EXPECT_TRUE(contains(m, "average 80.00")) << m;
  m = parse(std::regex_replace(good, std::regex("\"mnist\""), "\"cifar10\""));
  EXPECT_TRUE(contains(m, "(M, cifar10)") && contains(m, "dataset")) << m;
  m = parse(std::regex_replace(good, std::regex("90.0"), "0.9e3"));
  EXPECT_TRUE(contains(m, "mean_auroc")) << m;
  m = parse(std::regex_replace(good, std::regex("\"verified\": true"), "\"verified\": \"yes\""));
  EXPECT_TRUE(contains(m, "verified")) << m;
  m = parse(std::regex_replace(good, std::regex(R"("source": "S", )"), ""));
  EXPECT_TRUE(contains(m, "missing field \"source\"")) << m;
  m = parse(good + ", " + good);
  EXPECT_TRUE(contains(m, "entry 1 (M, mnist)")) << m;
  m = error_of([] { internal::parse_published_results("{\"results\": [", "test.json"); });
  EXPECT_TRUE(contains(m, "test.json: not valid JSON")) << m;
}

// ---------------------------------------------------------------------------------------------
// Text outputs

TEST(ResultsCsv, OneLinePerClassAndAnAllLine) {
  auto rows = small_rows();
  rows.push_back(row("mnist", "b, \"quoted\"", 0, 1, 0.5));
  std::string csv = results_csv(summarize(rows));
  EXPECT_EQ(csv,
            "dataset,model,class,auroc_mean,auroc_std,seeds,revisions\n"
            "mnist,a,0,0.8,0.1,3,unknown\n"
            "mnist,a,1,0.7,0.141421356,2,unknown\n"
            "mnist,a,all,0.75,0.141421356,2,unknown\n"
            "mnist,\"b, \"\"quoted\"\"\",0,0.5,0,1,unknown\n"
            "mnist,\"b, \"\"quoted\"\"\",1,,,0,\n"
            "mnist,\"b, \"\"quoted\"\"\",all,,,0,unknown\n");
}

// A row of the table names the code that made it; a row that mixes code versions names each with
// its number of jobs, and each per-class cell lists the revisions behind it.
TEST(BenchReport, EveryTableRowAndCellListsTheRevisionsThatMadeIt) {
  auto rows = small_rows();
  for (auto& r : rows) r.revision = r.seed == 3 ? "old123" : "new456";
  const auto summaries = summarize(rows);
  ASSERT_EQ(summaries.size(), 1u);
  EXPECT_EQ(summaries[0].revisions, (std::map<std::string, int>{{"new456", 4}, {"old123", 1}}));
  // class 0 has seeds 1, 2 (new) and 3 (old); class 1 only seeds 1 and 2.
  EXPECT_EQ(summaries[0].per_class_revisions[0], (std::vector<std::string>{"new456", "old123"}));
  EXPECT_EQ(summaries[0].per_class_revisions[1], (std::vector<std::string>{"new456"}));
  const std::string md = results_markdown(summaries, {}, context());
  EXPECT_TRUE(contains(table_line(md, "a"), "revisions new456 (4 jobs), old123 (1 job)")) << md;
  const std::string csv = results_csv(summaries);
  EXPECT_TRUE(contains(csv, "mnist,a,0,0.8,0.1,3,new456 old123\n")) << csv;
  const json j = results_json(summaries, rows, {}, context());
  EXPECT_EQ(j["summaries"][0]["per_class"][0]["revisions"], json({"new456", "old123"}));
  EXPECT_EQ(j["summaries"][0]["revisions"]["old123"], 1);
  EXPECT_EQ(j["rows"][0]["revision"], rows[0].revision);

  for (auto& r : rows) r.revision = "same789";
  EXPECT_TRUE(contains(table_line(results_markdown(summarize(rows), {}, context()), "a"), "revision same789"));
}

// A GAN job whose training_health found a problem still has an AUROC; the table says how many such
// jobs its mean includes.
TEST(ResultsMarkdown, JobsFlaggedByTrainingHealthAreCountedInTheirRow) {
  auto rows = full_rows();
  int flagged = 0;
  for (auto& r : rows) {
    if (r.model == "conv_ae" && r.normal_class < 2) r.training_flagged = true, ++flagged;
  }
  ASSERT_GT(flagged, 1);
  const auto summaries = summarize(rows);
  const std::string md = results_markdown(summaries, {}, context());
  EXPECT_TRUE(contains(table_line(md, "conv_ae"), std::to_string(flagged) + " jobs flagged by training health")) << md;
  EXPECT_FALSE(contains(table_line(md, "mlp_ae"), "flagged")) << md;
}

TEST(ResultsMarkdown, OurRowsThenPublishedRowsWithTheirNumbers) {
  std::vector<BenchFailure> failures{{"mnist", "conv_ae", 3, 3, "out of memory\nwhile training", ""}};
  std::string md = results_markdown(summarize(full_rows()), failures, context());

  EXPECT_TRUE(contains(md, "`oneclass bench --seeds 2`")) << md;
  EXPECT_TRUE(contains(md, "LibTorch 1.13.0"));
  EXPECT_TRUE(contains(md, "| model | source | mean | 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 |"));
  // mlp_ae: class c is 0.90 + 0.004c (seed 1) and 0.92 + 0.004c (seed 2): std 0.02 / sqrt(2) = 1.4 %;
  // the seeds average 0.918 and 0.938 over the classes.
  std::string mlp = table_line(md, "mlp_ae");
  EXPECT_TRUE(contains(mlp, "| 92.8 ± 1.4 | 91.0 ± 1.4 | 91.4 ± 1.4 |")) << mlp;
  EXPECT_TRUE(contains(table_line(md, "conv_ae"), "| 95.0 ± 0.0 |"));
  EXPECT_TRUE(contains(mlp, "ours: 2 complete seeds, 20 jobs")) << mlp;
  EXPECT_EQ(table_line(md, "Deep SVDD (one-class)"),
            "| Deep SVDD (one-class) | Ruff et al., Deep One-Class Classification (ICML 2018) | 94.8 | 98.0 | 99.7 "
            "| 91.7 | 91.9 | 94.9 | 88.5 | 98.3 | 94.6 | 93.9 | 96.5 |");
  EXPECT_TRUE(contains(table_line(md, "KDE †"), "| 86.9 |")) << "unverified figures carry the marker";
  EXPECT_TRUE(contains(table_line(md, "AnoGAN †"), "93.7"));
  EXPECT_TRUE(contains(table_line(md, "AnoGAN"), "91.3"));
  EXPECT_TRUE(contains(table_line(md, "PANDA (extra data) †"), "| 95.6 |")) << "extra-data figures say so";
  EXPECT_TRUE(contains(md, "\nextra data: trained with more than the normal class's images"));

  // Per data set: ours first (best mean first), then the published figures, best first; the
  // Fashion-MNIST figures only under Fashion-MNIST.
  size_t mnist = md.find("## MNIST"), fashion = md.find("## Fashion-MNIST");
  ASSERT_TRUE(mnist != std::string::npos && fashion != std::string::npos && mnist < fashion);
  size_t conv = md.find("| conv_ae |"), mlp_at = md.find("| mlp_ae |"), arnet = md.find("| ARNet |");
  size_t svdd = md.find("| Deep SVDD"), kde = md.find("| KDE");
  EXPECT_TRUE(mnist < conv && conv < mlp_at && mlp_at < arnet && arnet < svdd && svdd < kde && kde < fashion);
  EXPECT_GT(md.find("| GEOM | Golan"), fashion);
  EXPECT_GT(md.find("| PANDA"), fashion);

  EXPECT_TRUE(contains(md, "## Failures (1)\n\n- mnist, conv_ae, class 3, seed 3: out of memory while training\n"))
      << md;
  EXPECT_TRUE(contains(md, "Finished 60 of 64 planned jobs; 1 failed; 3 not run.")) << md;
}

TEST(ResultsMarkdown, EscapesTableBreakingNames) {
  std::string md = results_markdown(summarize({row("mnist", "a|b <x>", 0, 1, 0.5)}), {}, {});
  EXPECT_TRUE(contains(md, "| a\\|b \\<x> |")) << md;
  EXPECT_TRUE(contains(md, "Finished 1 job.")) << md;
}

TEST(ResultsJson, RoundTripsEverything) {
  auto rows = small_rows();
  rows[0].artifacts = "runs/mnist-a-c1-s2";
  std::vector<BenchFailure> failures{{"mnist", "a", 1, 3, "diverged", ""}};
  auto summaries = summarize(rows);
  json j = json::parse(results_json(summaries, rows, failures, context()).dump());

  EXPECT_EQ(j["context"]["command"], "oneclass bench --seeds 2");
  EXPECT_EQ(j["context"]["jobs_total"], 64);
  EXPECT_EQ(j["context"]["jobs_finished"], 5);
  EXPECT_EQ(j["context"]["jobs_failed"], 1);
  ASSERT_EQ(j["summaries"].size(), 1u);
  const json& s = j["summaries"][0];
  EXPECT_EQ(s["model"], "a");
  EXPECT_EQ(s["overall"]["mean"].get<double>(), summaries[0].overall.mean);
  EXPECT_EQ(s["overall"]["std"].get<double>(), summaries[0].overall.std);
  EXPECT_EQ(s["overall"]["n"], 2);
  ASSERT_EQ(s["per_class"].size(), 2u);
  EXPECT_EQ(s["per_class"][1]["class"], 1);
  EXPECT_EQ(s["per_class"][1]["std"].get<double>(), summaries[0].per_class[1].std);
  EXPECT_EQ(s["jobs"], 5);
  ASSERT_EQ(j["rows"].size(), rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(j["rows"][i]["normal_class"], rows[i].normal_class);
    EXPECT_EQ(j["rows"][i]["seed"].get<uint64_t>(), rows[i].seed);
    EXPECT_EQ(j["rows"][i]["auroc"].get<double>(), rows[i].auroc);
    EXPECT_EQ(j["rows"][i]["auprc"].get<double>(), rows[i].auprc);
    EXPECT_EQ(j["rows"][i]["artifacts"], rows[i].artifacts);
  }
  EXPECT_EQ(j["failures"][0]["error"], "diverged");
  EXPECT_EQ(j["failures"][0]["seed"], 3);
  ASSERT_EQ(j["published"].size(), published_results().size());
  EXPECT_EQ(j["published"][6]["method"], published_results()[6].method);
  EXPECT_EQ(j["published"][6]["per_class"].get<std::vector<double>>(), published_results()[6].per_class);
  // A class without a finished seed has no mean (null), not a mean of 0.
  json empty = results_json(summarize({row("mnist", "a", 0, 1, 0.5), row("mnist", "b", 1, 1, 0.5)}), {}, {}, {});
  EXPECT_TRUE(empty["summaries"][0]["per_class"][1]["mean"].is_null());
  EXPECT_EQ(empty["summaries"][0]["overall"]["n"], 0);
}

// ---------------------------------------------------------------------------------------------
// HTML

TEST(ResultsHtml, Encoders) {
  EXPECT_EQ(internal::base64_encode(""), "");
  EXPECT_EQ(internal::base64_encode("f"), "Zg==");
  EXPECT_EQ(internal::base64_encode("fo"), "Zm8=");
  EXPECT_EQ(internal::base64_encode("foo"), "Zm9v");
  EXPECT_EQ(internal::base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(internal::base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(internal::base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(internal::base64_encode(std::string("\xff\xfe\x00", 3)), "//4A");
  EXPECT_EQ(internal::html_escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
}

TEST(ResultsHtml, SelfContainedEscapedAndLinked) {
  TempDir dir("oneclass-bench-html");
  std::vector<BenchRow> rows{row("mnist", "<b>net</b>", 0, 2, 0.9, "runs/s2 #0"),
                             row("mnist", "<b>net</b>", 0, 1, 0.8, "runs/s1 #0"),
                             row("mnist", "<b>net</b>", 1, 1, 0.8, "runs/no-figure")};
  write_file(dir.path() / "runs/s2 #0/result.png", "png");
  write_file(dir.path() / "runs/s1 #0/result.png", "png");
  fs::create_directories(dir.path() / "runs/no-figure");  // artifacts kept, but no result.png drawn
  auto links = internal::result_links(rows, dir.path().string());
  ASSERT_EQ(links.size(), 1u);
  EXPECT_EQ(links.begin()->second.url, "runs/s1%20%230/result.png") << "lowest seed, percent-encoded";
  EXPECT_EQ(links.begin()->second.seed, 1u);

  std::string html = internal::results_html(summarize(rows), {{"mnist", "<b>net</b>", 2, 1, "a < b", ""}}, context(), links,
                                          std::string("\x89PNG fake", 9));
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_TRUE(contains(html, "<meta name=\"viewport\""));
  EXPECT_TRUE(contains(html, "&lt;b&gt;net&lt;/b&gt;"));
  EXPECT_FALSE(contains(html, "<b>net")) << "a model name must not become markup";
  EXPECT_TRUE(contains(html, "a &lt; b")) << "failure messages are escaped too";
  EXPECT_TRUE(contains(html, "<a href=\"runs/s1%20%230/result.png\" title=\"result.png of seed 1\">85.0 ± 7.1</a>"))
      << html;
  EXPECT_TRUE(contains(html, "<td>80.0</td>")) << "a class without result.png is not linked";
  EXPECT_TRUE(contains(html, "data:image/png;base64," + internal::base64_encode(std::string("\x89PNG fake", 9))));
  EXPECT_TRUE(contains(html, "<td>98.0</td><td>99.7</td>")) << "published per-class figures for the shown classes";
  std::smatch m;
  EXPECT_FALSE(std::regex_search(html, m, std::regex(R"((src|href)\s*=\s*"?\s*(https?:|//))", std::regex::icase)))
      << "network reference: " << m.str();
  EXPECT_FALSE(contains(html, "@import"));
  EXPECT_FALSE(contains(html, "<script"));
}

// A folder data set: categories as columns, a mean over them, pixel AUROC and AUPRO tables, and
// the best model's heat maps per category in the page.
TEST(ResultsTables, AFolderDataSetHasCategoryColumnsPixelTablesAndHeatMaps) {
  TempDir dir("oneclass-bench-folder");
  const auto folder_row = [](const std::string& model, int column, const std::string& category, double auroc,
                             double pixel, double pro, const std::string& artifacts) {
    BenchRow r = row("folder:data", model, column, 0, auroc, artifacts);
    r.category = category;
    r.pixel_auroc = pixel;
    r.aupro = pro;
    return r;
  };
  std::vector<BenchRow> rows{folder_row("pca", 0, "gravel", 0.5, 0.6, 0.4, "runs/pca-gravel"),
                             folder_row("pca", 1, "wood", 0.9, 0.85, 0.7, "runs/pca-wood"),
                             folder_row("patch-knn", 0, "gravel", 0.6, 0.7, 0.5, "runs/knn-gravel"),
                             folder_row("patch-knn", 1, "wood", 0.8, 0.9, 0.9, "")};
  for (const char* kept : {"runs/pca-gravel", "runs/pca-wood", "runs/knn-gravel"}) {
    write_file(dir.path() / kept / "result.png", "png");
  }
  const auto summaries = summarize(rows);
  ASSERT_EQ(summaries.size(), 2u);
  EXPECT_EQ(summaries[0].class_names, (std::vector<std::string>{"gravel", "wood"}));
  EXPECT_EQ(summaries[0].model, "patch-knn");
  EXPECT_NEAR(summaries[0].overall.mean, 0.7, 1e-12);
  EXPECT_NEAR(summaries[0].overall_pixel_auroc.mean, 0.8, 1e-12);
  EXPECT_NEAR(summaries[1].overall_aupro.mean, 0.55, 1e-12);

  const std::string markdown = results_markdown(summaries, {{"folder:data", "pca", 1, 1, "bad file", "wood"}}, context());
  EXPECT_TRUE(contains(markdown, "## folder:data\n\n| model | source | mean | gravel | wood |")) << markdown;
  EXPECT_TRUE(contains(markdown, "## folder:data — pixel AUROC")) << markdown;
  EXPECT_TRUE(contains(markdown, "## folder:data — AUPRO (to 30 % FPR)")) << markdown;
  EXPECT_TRUE(contains(markdown, "| 72.5 | 60.0 | 85.0 |")) << "pca's pixel AUROC: mean, gravel, wood\n" << markdown;
  EXPECT_TRUE(contains(markdown, "folder:data, pca, wood, seed 1: bad file")) << markdown;
  EXPECT_TRUE(contains(results_csv(summaries), "folder:data,pca,wood,0.9,")) << results_csv(summaries);
  const auto j = results_json(summaries, rows, {}, context());
  EXPECT_EQ(j["summaries"][1]["per_class"][1]["category"], "wood");
  EXPECT_NEAR(j["summaries"][1]["per_class"][1]["aupro"]["mean"].get<double>(), 0.7, 1e-12);
  EXPECT_EQ(j["rows"][0]["category"], "gravel");

  // Heat maps: gravel's best model with a kept grid is patch-knn (60 against 50); wood's best,
  // pca (90), also kept. The patch-knn run of wood kept nothing and is not linked.
  const auto links = internal::result_links(rows, dir.path().string());
  const std::string html = internal::results_html(summaries, {}, context(), links, "");
  EXPECT_TRUE(contains(html, "heat maps of the best model per category")) << html;
  EXPECT_TRUE(contains(html, "<img src=\"runs/knn-gravel/result.png\" loading=\"lazy\" alt=\"gravel: patch-knn, image AUROC 60.0"))
      << html;
  EXPECT_TRUE(contains(html, "<img src=\"runs/pca-wood/result.png\"")) << html;
  EXPECT_FALSE(contains(html, "runs/pca-gravel/result.png\" loading")) << "only the best model of a category";
  EXPECT_FALSE(contains(internal::results_html(summarize(full_rows()), {}, context(), {}, ""), "heat maps"))
      << "labelled data sets have no heat-map section";
}

// ---------------------------------------------------------------------------------------------
// write_bench_report

TEST(WriteBenchReport, WritesEveryFile) {
  TempDir dir("oneclass-bench-report");
  fs::path out = dir.path() / "bench";
  write_bench_report(out.string(), full_rows(), {}, context());

  for (const char* name : {"results.md", "results.csv", "results.json", "report.html"})
    EXPECT_TRUE(fs::is_regular_file(out / name)) << name;
  EXPECT_EQ(read_file(out / "results.csv"), results_csv(summarize(full_rows())));
  EXPECT_EQ(json::parse(read_file(out / "results.json"))["rows"].size(), full_rows().size());
  std::string html = read_file(out / "report.html");
  if (figures_available()) {
    std::string png = read_file(out / "per_class.png");
    EXPECT_TRUE(is_png(png));
    EXPECT_GT(png.size(), 10000u) << "bars for two data sets should not be an empty picture";
    EXPECT_TRUE(contains(html, "data:image/png;base64," + internal::base64_encode(png)));
  } else {
    EXPECT_FALSE(fs::exists(out / "per_class.png"));
  }
  for (const auto& e : fs::directory_iterator(out))
    EXPECT_FALSE(contains(e.path().filename().string(), ".tmp.")) << "temporary file left: " << e.path();
}

TEST(WriteBenchReport, WithoutGnuplotDropsTheFigureAndAnOldOne) {
  TempDir dir("oneclass-bench-report");
  write_file(dir.path() / "per_class.png", "a figure from an earlier report");
  ScopedEnv missing("ONECLASS_GNUPLOT", (dir.path() / "no-such-gnuplot").string());
  ::testing::internal::CaptureStderr();
  write_bench_report(dir.path().string(), small_rows(), {}, context());
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(contains(err, "figures: off")) << err;
  EXPECT_FALSE(fs::exists(dir.path() / "per_class.png")) << "the figure would disagree with the new tables";
  std::string html = read_file(dir.path() / "report.html");
  EXPECT_FALSE(contains(html, "data:image/png"));
  EXPECT_TRUE(contains(html, "75.0 ± 14.1"));
}
