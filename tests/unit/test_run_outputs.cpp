// Tables of a run and the choice of the result grid's images.
#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "oneclass/error.h"
#include "oneclass/report/run_outputs.h"

namespace {

using oneclass::report::GridPick;
using oneclass::report::history_csv;
using oneclass::report::pick_grid_columns;
using oneclass::report::scores_csv;
using oneclass::report::ScoredRow;

std::vector<int64_t> rows_of(const std::vector<GridPick>& picks) {
  std::vector<int64_t> rows;
  for (const auto& pick : picks) rows.push_back(pick.row);
  return rows;
}

std::vector<std::string> titles_of(const std::vector<GridPick>& picks) {
  std::vector<std::string> titles;
  for (const auto& pick : picks) titles.push_back(pick.title);
  return titles;
}

// 6 normals and 6 anomalies, interleaved, with distinct scores.
//   row:        0    1    2    3    4    5    6    7    8    9    10   11
//   anomaly:    0    1    0    1    0    1    0    1    0    1    0    1
//   score:     0.3  0.9  0.1  0.5  0.7  2.0  0.2  0.45 0.6  1.5  0.4  1.2
// Normals by score: 2 (0.1), 6 (0.2), 0 (0.3), 10 (0.4), 8 (0.6), 4 (0.7 = hardest normal).
// Anomalies by score: 7 (0.45 = hardest anomaly), 3 (0.5), 1 (0.9), 11 (1.2), 9 (1.5), 5 (2.0).
const std::vector<double> kScores{0.3, 0.9, 0.1, 0.5, 0.7, 2.0, 0.2, 0.45, 0.6, 1.5, 0.4, 1.2};
const std::vector<int> kIsAnomaly{0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1};

TEST(PickGridColumns, EightColumnsTellTheStoryLeftToRight) {
  const auto picks = pick_grid_columns(kScores, kIsAnomaly, 8);
  EXPECT_EQ(rows_of(picks), (std::vector<int64_t>{2, 6, 0, 4, 7, 11, 9, 5}));
  EXPECT_EQ(titles_of(picks), (std::vector<std::string>{"typical normal", "typical normal", "typical normal",
                                                        "hardest normal", "hardest anomaly", "clear anomaly",
                                                        "clear anomaly", "clear anomaly"}));
}

TEST(PickGridColumns, RolesHoldForEveryColumnCount) {
  for (int columns = 2; columns <= 12; ++columns) {
    const auto picks = pick_grid_columns(kScores, kIsAnomaly, columns);
    ASSERT_LE(picks.size(), static_cast<size_t>(columns)) << columns;
    ASSERT_GE(picks.size(), 2u);
    std::set<int64_t> distinct;
    double max_normal = -1, min_anomaly = 1e9;
    for (size_t i = 0; i < kScores.size(); ++i) {
      if (kIsAnomaly[i]) {
        min_anomaly = std::min(min_anomaly, kScores[i]);
      } else {
        max_normal = std::max(max_normal, kScores[i]);
      }
    }
    double previous_typical = -1, previous_clear = -1;
    int hardest_normal = 0, hardest_anomaly = 0;
    for (const auto& pick : picks) {
      EXPECT_TRUE(distinct.insert(pick.row).second) << columns << " columns: row " << pick.row << " picked twice";
      const double score = kScores[static_cast<size_t>(pick.row)];
      const int anomaly = kIsAnomaly[static_cast<size_t>(pick.row)];
      if (pick.title == "typical normal") {
        EXPECT_EQ(anomaly, 0);
        EXPECT_GT(score, previous_typical) << "typical normals run from the lowest score up";
        EXPECT_LT(score, max_normal);
        previous_typical = score;
      } else if (pick.title == "hardest normal") {
        EXPECT_EQ(anomaly, 0);
        EXPECT_EQ(score, max_normal);
        ++hardest_normal;
      } else if (pick.title == "hardest anomaly") {
        EXPECT_EQ(anomaly, 1);
        EXPECT_EQ(score, min_anomaly);
        ++hardest_anomaly;
      } else if (pick.title == "clear anomaly") {
        EXPECT_EQ(anomaly, 1);
        EXPECT_GT(score, previous_clear) << "the clearest anomaly is the last column";
        previous_clear = score;
      } else {
        ADD_FAILURE() << "unexpected title " << pick.title;
      }
    }
    EXPECT_EQ(hardest_normal, 1) << columns;
    EXPECT_EQ(hardest_anomaly, 1) << columns;
    // Room permitting, every column is used (12 images are enough for up to 12 columns).
    EXPECT_EQ(picks.size(), static_cast<size_t>(columns)) << columns;
    // Roles appear in order: typical normals, hardest normal, hardest anomaly, clear anomalies.
    EXPECT_EQ(picks[picks.size() - 1].title == "clear anomaly" || columns == 2, true);
  }
  // The clearest anomalies are the highest scores.
  const auto picks = pick_grid_columns(kScores, kIsAnomaly, 5);
  EXPECT_EQ(rows_of(picks), (std::vector<int64_t>{2, 4, 7, 9, 5}));
}

TEST(PickGridColumns, TwoColumnsAreTheTwoHardestCases) {
  const auto picks = pick_grid_columns(kScores, kIsAnomaly, 2);
  EXPECT_EQ(rows_of(picks), (std::vector<int64_t>{4, 7}));
  EXPECT_EQ(titles_of(picks), (std::vector<std::string>{"hardest normal", "hardest anomaly"}));
}

TEST(PickGridColumns, FewImagesGiveFewerColumnsWithoutRepeats) {
  // One normal, two anomalies.
  const auto picks = pick_grid_columns({0.2, 0.9, 0.5}, {0, 1, 1}, 8);
  EXPECT_EQ(rows_of(picks), (std::vector<int64_t>{0, 2, 1}));
  EXPECT_EQ(titles_of(picks), (std::vector<std::string>{"hardest normal", "hardest anomaly", "clear anomaly"}));
}

TEST(PickGridColumns, OverlappingScoresStillPickTheHardestCases) {
  // A normal scoring above every anomaly and an anomaly below every normal.
  const std::vector<double> scores{5.0, 0.1, 1.0, 2.0, 3.0, 0.5};
  const std::vector<int> is_anomaly{0, 1, 0, 1, 1, 0};
  const auto picks = pick_grid_columns(scores, is_anomaly, 4);
  EXPECT_EQ(rows_of(picks), (std::vector<int64_t>{5, 0, 1, 4}));
  EXPECT_EQ(titles_of(picks),
            (std::vector<std::string>{"typical normal", "hardest normal", "hardest anomaly", "clear anomaly"}));
}

TEST(PickGridColumns, TiedScoresGiveDistinctRows) {
  const std::vector<double> scores(10, 1.0);
  const std::vector<int> is_anomaly{0, 1, 0, 1, 0, 1, 0, 1, 0, 1};
  const auto picks = pick_grid_columns(scores, is_anomaly, 8);
  std::set<int64_t> distinct;
  for (const auto& pick : picks) EXPECT_TRUE(distinct.insert(pick.row).second) << pick.row;
  EXPECT_EQ(picks.size(), 8u);
}

TEST(PickGridColumns, NeedsBothClassesAndTwoColumns) {
  for (const auto& call : std::vector<std::function<void()>>{
           [] { pick_grid_columns({0.1, 0.2}, {0, 0}, 4); },
           [] { pick_grid_columns({0.1, 0.2}, {1, 1}, 4); },
           [] { pick_grid_columns({}, {}, 4); },
           [] { pick_grid_columns({0.1, 0.2}, {0, 1}, 1); },
       }) {
    EXPECT_THROW(call(), oneclass::Error);
  }
}

TEST(ScoresCsv, HeaderAndOneLinePerRowWithNineSignificantDigits) {
  const std::vector<ScoredRow> rows{
      {0, 1, 0, 0.5, false, ""},
      {7, 9, 1, 1234.56789012345, true, ""},
      {9999, 9, 1, 1e-12, false, ""},
      {42, 1, 0, 3.0, true, ""},
  };
  EXPECT_EQ(scores_csv(rows),
            "index,label,is_anomaly,score,flagged\n"
            "0,1,0,0.5,0\n"
            "7,9,1,1234.56789,1\n"
            "9999,9,1,1e-12,0\n"
            "42,1,0,3,1\n");
  EXPECT_EQ(scores_csv({}), "index,label,is_anomaly,score,flagged\n");
  // Folder data: the file of each image, quoted where the name needs it.
  EXPECT_EQ(scores_csv({{0, 0, 0, 0.5, false, "wood/test/good/000.png"}, {1, 2, 1, 2.0, true, "a,b.png"}}),
            "index,label,is_anomaly,score,flagged,path\n"
            "0,0,0,0.5,0,wood/test/good/000.png\n"
            "1,2,1,2,1,\"a,b.png\"\n");
}

TEST(ScoresCsv, ScoresReadBackWithinNineDigits) {
  std::vector<ScoredRow> rows;
  for (int i = 0; i < 50; ++i) rows.push_back({i, i % 10, i % 2, 0.1234567891234 * (i + 1) * (i + 1), i % 3 == 0, ""});
  std::istringstream csv(scores_csv(rows));
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line, "index,label,is_anomaly,score,flagged");
  for (const auto& row : rows) {
    ASSERT_TRUE(std::getline(csv, line));
    long long index = 0, label = 0;
    int is_anomaly = 0, flagged = 0;
    double score = 0;
    ASSERT_EQ(std::sscanf(line.c_str(), "%lld,%lld,%d,%lf,%d", &index, &label, &is_anomaly, &score, &flagged), 5)
        << line;
    EXPECT_EQ(index, row.index);
    EXPECT_EQ(label, row.label);
    EXPECT_EQ(is_anomaly, row.is_anomaly);
    EXPECT_NEAR(score, row.score, 5e-9 * row.score);
    EXPECT_EQ(flagged, row.flagged ? 1 : 0);
  }
  EXPECT_FALSE(std::getline(csv, line)) << "extra line: " << line;
}

TEST(HistoryCsv, OneLinePerEpochNumberedFromOne) {
  EXPECT_EQ(history_csv({0.25, 0.125, 1e-7}), "epoch,loss\n1,0.25\n2,0.125\n3,1e-07\n");
  EXPECT_EQ(history_csv({}), "epoch,loss\n");
}

}  // namespace
