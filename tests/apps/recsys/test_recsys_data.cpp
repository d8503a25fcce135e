// Readers, id maps, defined behaviours for bad input, splits and the TrainSet grouping.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "golden_util.h"
#include "kun/apps/recsys/data.h"
#include "recsys_test_util.h"

using namespace kun::recsys;
using namespace kun::recsys::testing;

TEST(RecsysData, IdMapBothWays) {
  IdMap m;
  EXPECT_EQ(m.add("196"), 0);
  EXPECT_EQ(m.add("abc"), 1);
  EXPECT_EQ(m.add("196"), 0);
  EXPECT_EQ(m.find("abc"), 1);
  EXPECT_EQ(m.find("nope"), -1);
  EXPECT_EQ(m.external(1), "abc");
  KUN_EXPECT_ERROR(m.external(5), "index 5", "out of range");
}

TEST(RecsysData, ReadsTabDoubleColonAndCsv) {
  Dataset a = read_ratings(write_file("a.data", "1\t10\t5\t100\n2\t10\t3\t101\n1\t20\t4\t102\n"));
  EXPECT_EQ(a.ratings.size(), 3u);
  EXPECT_EQ(a.users.size(), 2);
  EXPECT_EQ(a.items.size(), 2);
  EXPECT_EQ(a.ratings.timestamp[2], 102);
  EXPECT_EQ(a.items.external(a.ratings.item[2]), "20");

  Dataset b = read_ratings(write_file("b.dat", "1::1193::5::978300760\n1::661::3.5::978302109\n"),
                           {.scale = {0.5f, 5.0f}});
  EXPECT_EQ(b.ratings.size(), 2u);
  EXPECT_FLOAT_EQ(b.ratings.rating[1], 3.5f);

  Dataset c = read_ratings(write_file("c.csv", "userId,movieId,rating,timestamp\nu1,m1,4,1\nu2,m1,2,2\nu2,m2,1\n"));
  EXPECT_EQ(c.ratings.size(), 3u);
  EXPECT_EQ(c.users.external(1), "u2");
  EXPECT_EQ(c.ratings.timestamp[2], 0);
}

TEST(RecsysData, MalformedLinesNameFileAndLine) {
  const std::string p = write_file("bad.data", "1\t2\t3\t4\n1\t2\n");
  KUN_EXPECT_ERROR(read_ratings(p), "bad.data:2", "expected 3 or 4 fields");
  const std::string q = write_file("bad2.data", "1\t2\t3\t4\n1\t3\tfive\t4\n");
  KUN_EXPECT_ERROR(read_ratings(q), "bad2.data:2", "rating 'five' is not a number");
  const std::string t = write_file("bad3.csv", "1,2,3,4\n1,3,4,yesterday\n");
  KUN_EXPECT_ERROR(read_ratings(t), "bad3.csv:2", "timestamp");
  KUN_EXPECT_ERROR(read_ratings(temp_path("does_not_exist.data")), "cannot open");
}

TEST(RecsysData, EmptyFileIsAClearError) {
  KUN_EXPECT_ERROR(read_ratings(write_file("empty.data", "")), "contains no ratings");
  KUN_EXPECT_ERROR(read_ratings(write_file("blank.data", "\n\n# comment\n")), "contains no ratings");
}

TEST(RecsysData, OutOfScaleRatings) {
  const std::string p = write_file("scale.data", "1\t1\t4\n1\t2\t7\n2\t1\t0\n");
  KUN_EXPECT_ERROR(read_ratings(p), "scale.data:2", "outside the declared scale [1, 5]");
  Dataset clip = read_ratings(p, {.out_of_scale = OutOfScale::clip});
  ASSERT_EQ(clip.ratings.size(), 3u);
  EXPECT_FLOAT_EQ(clip.ratings.rating[1], 5.0f);
  EXPECT_FLOAT_EQ(clip.ratings.rating[2], 1.0f);
  Dataset drop = read_ratings(p, {.out_of_scale = OutOfScale::drop});
  EXPECT_EQ(drop.ratings.size(), 1u);
}

TEST(RecsysData, DuplicateRows) {
  const std::string p = write_file("dup.data", "1\t1\t4\n2\t1\t3\n1\t1\t2\n");
  Dataset last = read_ratings(p);
  ASSERT_EQ(last.ratings.size(), 2u);
  EXPECT_FLOAT_EQ(last.ratings.rating[1], 2.0f);  // the later row replaces the earlier, file order kept
  EXPECT_EQ(last.users.external(last.ratings.user[0]), "2");
  Dataset first = read_ratings(p, {.duplicates = Duplicates::keep_first});
  ASSERT_EQ(first.ratings.size(), 2u);
  EXPECT_FLOAT_EQ(first.ratings.rating[0], 4.0f);
  KUN_EXPECT_ERROR(read_ratings(p, {.duplicates = Duplicates::error}), "dup.data:3", "duplicate rating for user '1'");
}

TEST(RecsysData, KFoldPartitionsEveryRatingOnce) {
  Ratings r;
  for (int k = 0; k < 103; ++k) r.push(k % 7, k, 1.0f + float(k % 5), k);
  auto folds = k_fold(r, 5, 42);
  ASSERT_EQ(folds.size(), 5u);
  std::multiset<int32_t> seen;
  for (auto& f : folds) {
    EXPECT_EQ(f.train.size() + f.test.size(), 103u);
    EXPECT_TRUE(f.test.size() == 20u || f.test.size() == 21u);
    for (int32_t i : f.test.item) seen.insert(i);
  }
  EXPECT_EQ(seen.size(), 103u);
  EXPECT_EQ(std::set<int32_t>(seen.begin(), seen.end()).size(), 103u);
  // same seed, same folds; another seed, other folds
  EXPECT_EQ(k_fold(r, 5, 42)[0].test.item, folds[0].test.item);
  EXPECT_NE(k_fold(r, 5, 43)[0].test.item, folds[0].test.item);
  KUN_EXPECT_ERROR(k_fold(r, 1, 0), "k_fold", "k=1");
  auto tt = random_split(r, 0.2, 1);
  EXPECT_EQ(tt.test.size(), 21u);
  EXPECT_EQ(tt.train.size(), 82u);
}

TEST(RecsysData, LeaveLastOutTakesLatestPerUser) {
  Ratings r;
  r.push(0, 0, 5, 30);
  r.push(0, 1, 4, 50);  // latest of user 0
  r.push(0, 2, 3, 10);
  r.push(1, 0, 2, 5);   // user 1 has a single rating: stays in train
  r.push(2, 3, 1, 7);
  r.push(2, 4, 2, 7);   // tie on timestamp: the later row
  auto tt = leave_last_out(r);
  ASSERT_EQ(tt.test.size(), 2u);
  EXPECT_EQ(tt.test.item[0], 1);
  EXPECT_EQ(tt.test.item[1], 4);
  EXPECT_EQ(tt.train.size(), 4u);
}

TEST(RecsysData, TrainSetGroupsByUserAndItem) {
  Ratings r = ratings({{1, 0, 4}, {0, 1, 2}, {1, 2, 5}, {0, 0, 3}});
  TrainSet t = make_trainset(r, 3, 4, {1, 5});
  EXPECT_DOUBLE_EQ(t.global_mean, 3.5);
  EXPECT_TRUE(t.knows_user(0));
  EXPECT_FALSE(t.knows_user(2));  // in the index space, no ratings
  EXPECT_FALSE(t.knows_user(-1));
  EXPECT_FALSE(t.knows_item(3));
  EXPECT_EQ(t.user_count(1), 2);
  // all ratings in user order, file order within a user
  EXPECT_EQ(t.u, (std::vector<int32_t>{0, 0, 1, 1}));
  EXPECT_EQ(t.i, (std::vector<int32_t>{1, 0, 0, 2}));
  EXPECT_EQ(t.item_count(0), 2);
  KUN_EXPECT_ERROR(make_trainset(r, 1, 4, {1, 5}), "outside");
  KUN_EXPECT_ERROR(make_trainset(Ratings{}, 1, 1, {1, 5}), "empty");
}

TEST(RecsysData, MovieLens100kFolderWithMetadata) {
  if (!have_movielens()) GTEST_SKIP() << "MovieLens 100K not found at " << movielens_dir();
  Dataset ds = read_movielens_100k(movielens_dir());
  EXPECT_EQ(ds.ratings.size(), 100000u);
  EXPECT_EQ(ds.users.size(), 943);
  EXPECT_EQ(ds.items.size(), 1682);
  ASSERT_EQ(ds.meta.title.size(), 1682u);
  EXPECT_EQ(ds.meta.title[size_t(ds.items.find("1"))], "Toy Story (1995)");
  EXPECT_EQ(ds.meta.genre_names.size(), 19u);
  auto tt = read_split_files(ds, movielens_dir(), "u1");
  EXPECT_EQ(tt.train.size(), 80000u);
  EXPECT_EQ(tt.test.size(), 20000u);
  EXPECT_EQ(ds.items.size(), 1682);  // split files reuse the same id maps
}

TEST(RecsysData, WindowsLineEndingsAndWhitespace) {
  Dataset d = read_ratings(write_file("crlf.csv", "1,10,4,5\r\n2,10,3,6\r\n\r\n"));
  ASSERT_EQ(d.ratings.size(), 2u);
  EXPECT_EQ(d.ratings.timestamp[1], 6);
  Dataset s = read_ratings(write_file("spaces.txt", "1  10  4\n2 10 3.5\n"));
  EXPECT_FLOAT_EQ(s.ratings.rating[1], 3.5f);
}
