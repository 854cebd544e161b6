// save_images (parallel per-sample export) and ImageWriter (background
// writer): every file is what save_image writes, nothing is lost, every
// failure is reported exactly once.
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <limits>
#include <thread>

#include <torchimage/torchimage.h>

#include "runtime/chunked_copy.h"
#include "runtime/snapshot.h"
#include "runtime/work_queue.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace torchimage;

namespace {

using torchimage_test::bytes_of;
using torchimage_test::error_of;
using torchimage_test::TempDir;

std::vector<uint8_t> expected_bytes(const torch::Tensor& image, const SaveImageOptions& o,
                                    const std::string& ext) {
  TempDir d;
  save_image(image, d / ("x." + ext), o);
  return bytes_of(d / ("x." + ext));
}

size_t count_files(const fs::path& dir) {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.is_regular_file();
  return n;
}

TEST(FormatIndexPath, Placeholders) {
  EXPECT_EQ(format_index_path("a/{index}.png", 7), "a/7.png");
  EXPECT_EQ(format_index_path("a/{index:05}.png", 7), "a/00007.png");
  EXPECT_EQ(format_index_path("{index:03}", 12345), "12345");
  EXPECT_EQ(format_index_path("x{index}-{index:02}.png", 3), "x3-03.png");
  EXPECT_EQ(format_index_path("one.png", 0, 1), "one.png");
  EXPECT_NE(error_of([] { format_index_path("all.png", 0, 2); }).find("no {index} placeholder"),
            std::string::npos);
  EXPECT_NE(error_of([] { format_index_path("{index:5x}.png", 0); }).find("bad placeholder"),
            std::string::npos);
  EXPECT_NE(error_of([] { format_index_path("{index.png", 0); }).find("unclosed"), std::string::npos);
}

// The grammar of include/torchimage/save_images.h, each rule against a
// reference built here (std::to_string, padded by hand).
TEST(FormatIndexPath, Grammar) {
  const auto padded = [](int64_t v, size_t width) {
    std::string s = std::to_string(v);
    return s.size() < width ? std::string(width - s.size(), '0') + s : s;
  };
  for (const int64_t i : {int64_t{0}, int64_t{7}, int64_t{12345}, int64_t{9007199254740993}}) {
    SCOPED_TRACE(i);
    EXPECT_EQ(format_index_path("{index}", i), std::to_string(i));
    for (const size_t w : {0, 1, 3, 5, 20, 255}) {
      const std::string ref = padded(i, w);
      const std::string n = std::to_string(w);
      EXPECT_EQ(format_index_path("{index:0" + n + "}", i), ref);
      EXPECT_EQ(format_index_path("{index:" + n + "}", i), ref);       // zeros, never spaces
      EXPECT_EQ(format_index_path("{index:0" + n + "d}", i), ref);     // Python's d
    }
    // Several placeholders, the same number; other text kept byte for byte.
    EXPECT_EQ(format_index_path("r/{index}/{index:04}-\xe9 x.png", i),
              "r/" + std::to_string(i) + "/" + padded(i, 4) + "-\xe9 x.png");
    // {{ and }} are literal braces, also next to a placeholder.
    EXPECT_EQ(format_index_path("{{{index}}}_{{epoch}}.png", i),
              "{" + std::to_string(i) + "}_{epoch}.png");
  }
  EXPECT_EQ(format_index_path("{{index}}.png", 0, 1), "{index}.png");  // no placeholder: one image
  EXPECT_NE(error_of([] { format_index_path("{{index}}.png", 0, 2); }).find("no {index} placeholder"),
            std::string::npos);
}

TEST(FormatIndexPath, MalformedPatternsSayWhatIsWrong) {
  struct Case {
    std::string pattern;
    std::vector<std::string> needles;
  };
  const std::vector<Case> cases = {
      {"a{index.png", {"unclosed placeholder", "byte 1", "'a{index.png'", "{{ and }}"}},
      {"a{index:05", {"unclosed placeholder"}},
      {"{index{index}}", {"unclosed placeholder", "before the next '{'"}},
      {"a/{", {"unclosed placeholder", "byte 2"}},
      {"a}b{index}", {"unmatched '}' at byte 1", "write {{ and }}"}},
      {"{index}}", {"unmatched '}' at byte 7"}},
      {"{idx}.png", {"unknown field 'idx'", "'{idx}'", "the only field is index"}},
      {"{epoch}/{index}.png", {"unknown field 'epoch'"}},
      {"{}.png", {"unknown field ''", "'{}'"}},
      {"{Index}.png", {"unknown field 'Index'"}},
      {"{index!r}.png", {"unknown field 'index!r'"}},
      {"{index:-5}.png", {"bad placeholder '{index:-5}'", "cannot have a sign", "got '-5'"}},
      {"{index:+5}.png", {"cannot have a sign"}},
      {"{index:}.png", {"bad placeholder '{index:}'", "decimal digits", "got ''"}},
      {"{index:x}.png", {"bad placeholder", "got 'x'"}},
      {"{index: 5}.png", {"bad placeholder", "got ' 5'"}},
      {"{index:5.2}.png", {"bad placeholder", "got '5.2'"}},
      {"{index:>5}.png", {"bad placeholder", "got '>5'"}},
      {"{index:256}.png", {"pads to 256 digits", "at most 255 bytes"}},
      {"{index:99999999999999999999}.png", {"pads to 99999999999999999999 digits"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.pattern);
    const std::string message = error_of([&] { format_index_path(c.pattern, 3); });
    EXPECT_EQ(message.rfind("format_index_path: ", 0), 0u) << message;
    for (const std::string& needle : c.needles) {
      EXPECT_NE(message.find(needle), std::string::npos) << "'" << needle << "' in: " << message;
    }
    // save_images names itself, and refuses before writing anything.
    TempDir d;
    const std::string pattern = d / c.pattern;
    const std::string via = error_of(
        [&] { save_images(torch::rand({2, 3, 4, 4}), pattern); });
    EXPECT_EQ(via.rfind("save_images: ", 0), 0u) << via;
    EXPECT_EQ(count_files(d.path), 0u);
    EXPECT_EQ(error_of([&] { check_index_pattern(pattern, 0, 2, "ImageWriter::save_images"); })
                  .rfind("ImageWriter::save_images: ", 0),
              0u);
  }
}

TEST(SaveImages, EachFileIsWhatSaveImageWrites) {
  torch::manual_seed(1);
  const auto batch = torch::rand({7, 3, 12, 10}) * 2 - 1;
  const auto o = SaveImageOptions().normalize(true).value_range({-1.0, 1.0});
  for (const std::string ext : {"png", "jpg"}) {
    for (int threads : {1, 2, 5}) {
      TempDir d;
      save_images(batch, d / ("s_{index:04}." + ext), o, 10, threads);
      ASSERT_EQ(count_files(d.path), 7u);
      for (int64_t i = 0; i < 7; ++i) {
        const std::string path = d / c10::str("s_", format_index_path("{index:04}", 10 + i), ".", ext);
        EXPECT_EQ(bytes_of(path), expected_bytes(batch[i], o, ext)) << path;
      }
    }
  }
}

// save_images computes most samples straight from the batch (no tensor per
// sample): every dtype, channel count, layout and option that path takes or
// declines gives the files save_image writes for batch[i].
TEST(SaveImages, EveryLayoutAndOptionMatchesSaveImage) {
  torch::manual_seed(3);
  struct Case {
    std::string name;
    torch::Tensor batch;
    SaveImageOptions options;
    std::string ext;
  };
  const auto base = torch::rand({3, 4, 9, 11}) * 2.4 - 1.2;  // some values out of range
  auto special = base.clone();
  special.index_put_({0, 0, 0, 0}, std::numeric_limits<float>::quiet_NaN());
  special.index_put_({1, 1, 2, 3}, std::numeric_limits<float>::infinity());
  special.index_put_({2, 2, 4, 5}, -std::numeric_limits<float>::infinity());
  const auto range = SaveImageOptions().normalize(true).value_range({-1.0, 1.0});
  const auto odd_range = SaveImageOptions().normalize(true).value_range({-0.3, 0.7});
  std::vector<Case> cases = {
      {"rgb", base.narrow(1, 0, 3).contiguous(), {}, "png"},
      {"rgb range", base.narrow(1, 0, 3).contiguous(), range, "png"},
      {"rgb odd range", base.narrow(1, 0, 3).contiguous(), odd_range, "png"},
      {"rgb no range", base.narrow(1, 0, 3).contiguous(), SaveImageOptions().normalize(true), "png"},
      {"rgb nan inf", special.narrow(1, 0, 3).contiguous(), range, "png"},
      {"rgb float64", base.narrow(1, 0, 3).to(torch::kDouble), odd_range, "png"},
      {"rgb float16", base.narrow(1, 0, 3).to(torch::kHalf), range, "png"},
      {"gray to rgb", base.narrow(1, 0, 1).contiguous(), range, "png"},
      {"gray", base.narrow(1, 0, 1).contiguous(), SaveImageOptions(range).grayscale(true), "png"},
      {"gray alpha", base.narrow(1, 0, 2).contiguous(), range, "png"},
      {"rgba", base, range, "png"},
      {"channel slice", base.narrow(1, 1, 3), range, "png"},
      {"channels last", base.narrow(1, 0, 3).contiguous(torch::MemoryFormat::ChannelsLast), range, "png"},
      {"strided rows", base.narrow(1, 0, 3).slice(2, 0, 9, 2).slice(3, 1, 11, 3), range, "png"},
      {"expanded", base.narrow(0, 0, 1).narrow(1, 0, 3).expand({3, 3, 9, 11}), range, "png"},
      {"zlib level", base.narrow(1, 0, 3).contiguous(), SaveImageOptions(range).compression_level(6), "png"},
      {"16 bit", base.narrow(1, 0, 3).contiguous(), SaveImageOptions(range).bit_depth(16), "png"},
      {"jpeg rgb", base.narrow(1, 0, 3).contiguous(), SaveImageOptions(range).quality(90), "jpg"},
      {"jpeg gray", base.narrow(1, 0, 1).contiguous(), SaveImageOptions(range).grayscale(true), "jpg"},
      {"uint8", (base.narrow(1, 0, 3) * 100 + 100).clamp(0, 255).to(torch::kByte), {}, "png"},
  };
  for (const auto& c : cases) {
    TempDir d;
    save_images(c.batch, d / ("{index}." + c.ext), c.options, 0, 2);
    ImageWriter writer(ImageWriterOptions().threads(2));
    writer.save_images(c.batch, d / ("w{index}." + c.ext), c.options).get();
    for (int64_t i = 0; i < c.batch.size(0); ++i) {
      const auto expected = expected_bytes(c.batch[i], c.options, c.ext);
      EXPECT_EQ(bytes_of(d / c10::str(i, ".", c.ext)), expected) << c.name << " sample " << i;
      EXPECT_EQ(bytes_of(d / c10::str("w", i, ".", c.ext)), expected) << c.name << " sample " << i;
    }
  }
}

TEST(SaveImages, ListInputAndOptions) {
  std::vector<torch::Tensor> list = {torch::rand({1, 8, 8}), torch::rand({1, 8, 8})};
  TempDir d;
  const auto o = SaveImageOptions().grayscale(true);
  save_images(list, d / "{index}.png", o);
  EXPECT_EQ(bytes_of(d / "0.png"), expected_bytes(list[0], o, "png"));
  EXPECT_EQ(bytes_of(d / "1.png"), expected_bytes(list[1], o, "png"));
  // The exact call the outside checks make compiles and works.
  const auto x = torch::rand({2, 3, 4, 4}) * 2 - 1;
  torchimage::save_images(x, d / "c{index}.png",
                          torchimage::SaveImageOptions().normalize(true).value_range({-1.0, 1.0}));
  EXPECT_TRUE(fs::exists(d / "c1.png"));
}

TEST(SaveImages, BadInputWritesNothing) {
  TempDir d;
  EXPECT_NE(error_of([&] { save_images(torch::rand({2, 3, 4, 4}), d / "same.png"); })
                .find("no {index} placeholder"),
            std::string::npos);
  EXPECT_NE(error_of([&] { save_images(torch::rand({3, 4, 4}), d / "{index}.png"); }).find("4-D"),
            std::string::npos);
  EXPECT_NE(error_of([&] { save_images(torch::rand({2, 5, 4, 4}), d / "{index}.png"); })
                .find("channels"),
            std::string::npos);
  EXPECT_NE(error_of([&] { save_images(torch::rand({2, 3, 4, 4}), d / "{index}.ppm"); })
                .find("supported"),
            std::string::npos);
  EXPECT_EQ(count_files(d.path), 0u);
}

TEST(SaveImages, FailuresAreReportedAfterTheOthersAreWritten) {
  TempDir d;
  fs::create_directory(d / "00003.png");  // this sample's path is a directory
  const std::string msg =
      error_of([&] { save_images(torch::rand({6, 3, 4, 4}), d / "{index:05}.png", {}, 0, 2); });
  EXPECT_NE(msg.find("1 image failed"), std::string::npos) << msg;
  EXPECT_NE(msg.find("00003.png"), std::string::npos) << msg;
  EXPECT_EQ(count_files(d.path), 5u);
}

TEST(ImageWriter, SnapshotLetsTheCallerOverwrite) {
  TempDir d;
  auto x = torch::rand({4, 3, 16, 16});
  const auto expected = expected_bytes(x, {}, "png");
  {
    ImageWriter writer(ImageWriterOptions().threads(2));
    auto f = writer.save_image(x, d / "a.png");
    x.fill_(0.5);  // the next training step overwrites it in place
    f.get();
  }
  EXPECT_EQ(bytes_of(d / "a.png"), expected);
}

// What the writer may keep without copying (src/snapshot.h): only a CPU
// tensor nothing else can reach.
// A snapshot large enough to be copied in chunks by the caller and the idle
// workers: each file is the tensor as it was at the call, though the caller
// overwrites it right after each call returns.
TEST(ImageWriter, LargeSnapshotsCopiedTogetherWithTheWorkers) {
  TempDir d;
  torch::manual_seed(5);
  auto x = torch::rand({16, 3, 128, 128});  // 3 MiB: 48 chunks
  ASSERT_GE(x.numel() * 4, int64_t{512} << 10);  // shared out (copy_contiguous)
  std::vector<std::vector<uint8_t>> expected;
  {
    ImageWriter writer(ImageWriterOptions().threads(2));
    for (int call = 0; call < 6; ++call) {
      expected.push_back(expected_bytes(x, {}, "png"));
      writer.save_image(x, d / c10::str(call, ".png"));
      x.mul_(0.5).add_(0.25 * (call % 2));  // the next step, in place
    }
    writer.flush();
  }
  for (int call = 0; call < 6; ++call) {
    EXPECT_EQ(bytes_of(d / c10::str(call, ".png")), expected[call]) << call;
  }
}

// A large copy goes into the tensor of an earlier snapshot of the same shape
// once that one is written (the every-step sheet): each file is still the
// tensor as it was at its call. Sheets and batches alternate, so that both
// kinds are kept at once; under ThreadSanitizer this checks that a worker's
// reads of a snapshot come before the caller's next copy into it.
TEST(ImageWriter, WrittenSnapshotsTakeTheNextCopies) {
  TempDir d;
  torch::manual_seed(6);
  auto sheet = torch::rand({16, 3, 128, 128});  // 3 MiB
  auto batch = torch::rand({3, 3, 256, 256});   // 2.25 MiB
  std::vector<std::vector<uint8_t>> expected_sheet;
  std::vector<std::vector<std::vector<uint8_t>>> expected_batch;
  const int64_t reused_before = snapshot_reuses();
  {
    ImageWriter writer(ImageWriterOptions().threads(2));
    for (int call = 0; call < 4; ++call) {
      expected_sheet.push_back(expected_bytes(sheet, {}, "png"));
      expected_batch.emplace_back();
      for (int64_t i = 0; i < batch.size(0); ++i) {
        expected_batch.back().push_back(expected_bytes(batch[i], {}, "png"));
      }
      // Waited for, so that the next call finds this one's memory free.
      writer.save_image(sheet, d / c10::str("sheet", call, ".png")).get();
      writer.save_images(batch, d / c10::str("batch", call, "_{index}.png")).get();
      sheet.mul_(0.5).add_(0.25 * (call % 2));  // the next step, in place
      batch.mul_(0.75).add_(0.125);
    }
  }
  EXPECT_EQ(snapshot_reuses() - reused_before, 6);  // every call after the first
  for (int call = 0; call < 4; ++call) {
    EXPECT_EQ(bytes_of(d / c10::str("sheet", call, ".png")), expected_sheet[call]) << call;
    for (int64_t i = 0; i < batch.size(0); ++i) {
      EXPECT_EQ(bytes_of(d / c10::str("batch", call, "_", i, ".png")), expected_batch[call][i])
          << call << " " << i;
    }
  }
}

TEST(ChunkedCopy, ThreadsTogetherCopyEveryByte) {
  std::vector<uint8_t> source(5 * ChunkedCopy::kChunk + 777);
  for (size_t i = 0; i < source.size(); ++i) source[i] = static_cast<uint8_t>(i * 131 + (i >> 9));
  for (size_t size : {size_t{0}, size_t{1}, size_t{1000}, ChunkedCopy::kChunk - 1,
                      3 * ChunkedCopy::kChunk + 77, 5 * ChunkedCopy::kChunk + 3}) {
    for (int threads : {1, 2, 4}) {
      std::vector<uint8_t> out(size + 8, 0xab);
      ChunkedCopy copy(source.data() + 3, out.data() + 5, size);
      std::vector<std::thread> helpers;
      for (int t = 1; t < threads; ++t) helpers.emplace_back([&] { copy.run(); });
      copy.run();
      copy.wait();
      EXPECT_TRUE(std::equal(out.begin() + 5, out.begin() + 5 + size, source.begin() + 3))
          << size << " bytes, " << threads << " threads";
      EXPECT_EQ(out[4], 0xab);
      EXPECT_EQ(out[5 + size], 0xab);  // nothing written past the end
      for (auto& h : helpers) h.join();
    }
  }
}

TEST(ChunkedCopy, CopyBytesAtAnyAlignment) {
  std::vector<uint8_t> source((size_t{1} << 17) + 300);
  for (size_t i = 0; i < source.size(); ++i) source[i] = static_cast<uint8_t>(i * 7 + (i >> 8));
  for (size_t size : {size_t{65535}, size_t{65536}, size_t{65536 + 129}, size_t{1} << 17}) {
    for (size_t offset : {0, 1, 17, 31, 32, 33}) {
      std::vector<uint8_t> out(size + 80, 0);
      copy_bytes(out.data() + offset, source.data() + (offset * 3) % 40, size);
      EXPECT_TRUE(std::equal(out.begin() + offset, out.begin() + offset + size,
                             source.begin() + (offset * 3) % 40))
          << size << " bytes at offset " << offset;
      EXPECT_EQ(out[offset + size], 0);
    }
  }
}

TEST(ImageWriter, SoleOwnerOnlyWhenNothingElseReachesTheMemory) {
  EXPECT_TRUE(sole_owner(torch::rand({3, 4, 4})));
  auto base = torch::rand({2, 3, 4, 4});
  EXPECT_FALSE(sole_owner(base[0])) << "a view shares its base's storage";
  EXPECT_FALSE(sole_owner(base.detach())) << "detach() shares the storage";
  const torch::Tensor second_handle = base;
  EXPECT_FALSE(sole_owner(base)) << "two handles";
  std::vector<float> buffer(48, 0.25f);
  EXPECT_FALSE(sole_owner(torch::from_blob(buffer.data(), {3, 4, 4})))
      << "memory owned by someone else";
  auto weights = torch::rand({3, 4, 4}, torch::requires_grad());
  EXPECT_FALSE(sole_owner(weights.tanh())) << "tanh's backward keeps its output";
  EXPECT_FALSE(sole_owner(torch::Tensor())) << "undefined";
  // A weak handle (e.g. a hook) could be upgraded later.
  auto y = torch::rand({3, 4, 4});
  c10::weak_intrusive_ptr<c10::TensorImpl> weak(y.getIntrusivePtr());
  EXPECT_FALSE(sole_owner(y));
}

// Handing a tensor over: kept when nothing else reaches it, copied when
// something does; either way the file is what save_image writes of the
// values at the time of the call.
TEST(ImageWriter, HandedOverTensorsAreKeptOrCopied) {
  TempDir d;
  const auto o = SaveImageOptions().normalize(true).value_range({-1.0, 1.0});
  const auto values = torch::rand({4, 3, 16, 16}) * 2 - 1;
  const auto expected = expected_bytes(values, o, "png");
  const auto expected0 = expected_bytes(values[0], o, "png");
  auto base = values.clone();
  std::vector<float> buffer(values.data_ptr<float>(), values.data_ptr<float>() + values.numel());
  {
    ImageWriter writer(ImageWriterOptions().threads(2));
    std::vector<std::shared_future<void>> fs;
    const int64_t copies = snapshot_copies();
    fs.push_back(writer.save_image(values.clone(), d / "temporary.png", o));  // kept
    auto moved = values.clone();
    fs.push_back(writer.save_image(std::move(moved), d / "moved.png", o));  // kept
    fs.push_back(writer.save_images(values.clone(), d / "s{index}.png", o));  // kept
    EXPECT_EQ(snapshot_copies(), copies) << "handed-over tensors were copied";
    fs.push_back(writer.save_image(base.detach(), d / "detached.png", o));  // copied
    fs.push_back(writer.save_image(base[0], d / "view.png", o));            // copied
    fs.push_back(writer.save_image(torch::from_blob(buffer.data(), values.sizes()),
                                   d / "blob.png", o));                       // copied
    fs.push_back(writer.save_image(values, d / "lvalue.png", o));            // copied
    EXPECT_EQ(snapshot_copies(), copies + 4);
    // The next training step overwrites what the caller still reaches.
    base.fill_(0.0);
    std::fill(buffer.begin(), buffer.end(), 0.0f);
    for (auto& f : fs) f.get();
  }
  EXPECT_EQ(bytes_of(d / "temporary.png"), expected);
  EXPECT_EQ(bytes_of(d / "moved.png"), expected);
  EXPECT_EQ(bytes_of(d / "detached.png"), expected);
  EXPECT_EQ(bytes_of(d / "view.png"), expected0);
  EXPECT_EQ(bytes_of(d / "blob.png"), expected);
  EXPECT_EQ(bytes_of(d / "lvalue.png"), expected);
  EXPECT_EQ(bytes_of(d / "s0.png"), expected0);
}

TEST(ImageWriter, DestructorFlushes) {
  TempDir d;
  const auto x = torch::rand({64, 3, 8, 8});
  {
    ImageWriter writer;
    for (int i = 0; i < 20; ++i) writer.save_image(x, d / c10::str(i, ".png"));
  }
  EXPECT_EQ(count_files(d.path), 20u);
}

TEST(ImageWriter, SaveImagesThroughTheWriter) {
  TempDir d;
  const auto batch = torch::rand({5, 3, 6, 6});
  ImageWriter writer(ImageWriterOptions().threads(3));
  auto f = writer.save_images(batch, d / "{index:02}.png", SaveImageOptions(), 3);
  f.get();
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(bytes_of(d / c10::str(i + 3 < 10 ? "0" : "", i + 3, ".png")),
              expected_bytes(batch[i], {}, "png"));
  }
}

// Lists, as save_image and save_images take them: a grid of the list, and
// one file per image (shapes may differ); the caller overwrites each image in
// place right after the call.
TEST(ImageWriter, ListsAsSaveImageAndSaveImagesTakeThem) {
  torch::manual_seed(5);
  TempDir d;
  const auto o = SaveImageOptions().normalize(true).value_range({-1.0, 1.0});
  std::vector<torch::Tensor> same = {torch::rand({3, 9, 7}) * 2 - 1, torch::rand({3, 9, 7}) * 2 - 1,
                                     torch::rand({3, 9, 7}) * 2 - 1};
  std::vector<torch::Tensor> mixed = {torch::rand({3, 5, 6}) * 2 - 1, torch::rand({1, 8, 4}) * 2 - 1,
                                      torch::rand({10, 3}) * 2 - 1, torch::rand({4, 6, 6}) * 2 - 1};
  std::vector<torch::Tensor> same_then, mixed_then;
  for (const auto& t : same) same_then.push_back(t.clone());
  for (const auto& t : mixed) mixed_then.push_back(t.clone());
  {
    // Less room than either call's bytes: each goes through alone.
    ImageWriter writer(ImageWriterOptions().threads(2).max_pending_bytes(100));
    auto grid = writer.save_image(same, d / "grid.png", o);
    for (auto& t : same) t.neg_();
    auto each = writer.save_images(mixed, d / "m{index}.png", o, 4);
    for (auto& t : mixed) t.fill_(0.25);
    grid.get();
    each.get();
  }
  EXPECT_EQ(bytes_of(d / "grid.png"), expected_bytes(torch::stack(same_then), o, "png"));
  for (size_t i = 0; i < mixed.size(); ++i) {
    EXPECT_EQ(bytes_of(d / c10::str("m", i + 4, ".png")), expected_bytes(mixed_then[i], o, "png"))
        << i;
  }
  EXPECT_EQ(count_files(d.path), 5u);
}

TEST(ImageWriter, BadListsAreRefusedBeforeAnythingIsQueued) {
  TempDir d;
  ImageWriter writer(ImageWriterOptions().threads(1));
  const std::vector<torch::Tensor> none;
  EXPECT_NE(error_of([&] { writer.save_image(none, d / "a.png"); }).find("ImageWriter::save_image"),
            std::string::npos);
  EXPECT_NE(error_of([&] { writer.save_images(none, d / "{index}.png"); })
                .find("ImageWriter::save_images"),
            std::string::npos);
  const std::vector<torch::Tensor> bad = {torch::rand({3, 4, 4}), torch::rand({5, 4, 4})};
  EXPECT_NE(error_of([&] { writer.save_images(bad, d / "{index}.png"); }).find("5 channels"),
            std::string::npos);
  const std::vector<torch::Tensor> shapes = {torch::rand({3, 4, 4}), torch::rand({3, 4, 5})};
  EXPECT_NE(error_of([&] { writer.save_image(shapes, d / "a.png"); }).find("ImageWriter::save_image"),
            std::string::npos);
  EXPECT_NE(error_of([&] { writer.save_images(shapes, d / "same.png"); }).find("placeholder"),
            std::string::npos);
  writer.flush();
  EXPECT_EQ(writer.pending(), 0);
  EXPECT_EQ(count_files(d.path), 0u);
}

TEST(ImageWriter, EachFailureIsReportedOnce) {
  TempDir d;
  ImageWriter writer(ImageWriterOptions().threads(2));
  for (int i = 0; i < 5; ++i) writer.save_image(torch::rand({3, 4, 4}), d / c10::str(i, ".png"));
  auto bad = writer.save_image(torch::rand({3, 4, 4}), d / "missing/dir/x.png");
  EXPECT_THROW(bad.get(), c10::Error);  // the future carries it too
  const std::string msg = error_of([&] { writer.flush(); });
  EXPECT_NE(msg.find("missing/dir/x.png"), std::string::npos) << msg;
  EXPECT_EQ(error_of([&] { writer.flush(); }), "");  // reported once only
  EXPECT_EQ(count_files(d.path), 5u);
  // Bad input is refused at the call, before anything is queued.
  EXPECT_NE(error_of([&] { writer.save_image(torch::rand({2, 2}), d / "y.ppm"); }).find("format"),
            std::string::npos);
  EXPECT_EQ(writer.pending(), 0);
}

TEST(ImageWriter, NextCallRethrowsAnEarlierFailureAndStillQueues) {
  TempDir d;
  ImageWriter writer(ImageWriterOptions().threads(1));
  writer.save_image(torch::rand({3, 4, 4}), d / "nope/x.png").wait();
  const std::string msg = error_of([&] { writer.save_image(torch::rand({3, 4, 4}), d / "ok.png"); });
  EXPECT_NE(msg.find("nope/x.png"), std::string::npos) << msg;
  writer.flush();
  EXPECT_TRUE(fs::exists(d / "ok.png"));
}

// The load test at a size that fits CI (the benchmark runs it at full size):
// two producers, a small queue bound, one injected failing path.
TEST(ImageWriter, LoadTwoProducersSmallQueue) {
  TempDir d;
  const int per_producer = 1500;
  ImageWriter writer(ImageWriterOptions().threads(2).max_pending_bytes(32 << 10));
  std::atomic<int> thrown{0};
  auto producer = [&](int p) {
    for (int i = 0; i < per_producer; ++i) {
      const auto x = torch::full({3, 8, 8}, static_cast<float>((p * per_producer + i) % 251) / 250);
      const std::string path =
          p == 1 && i == 700 ? d / "no_such_dir/fail.png" : d / c10::str(p, "_", i, ".png");
      try {
        writer.save_image(x, path);
      } catch (const c10::Error&) {
        ++thrown;
      }
    }
  };
  std::thread a(producer, 0), b(producer, 1);
  a.join();
  b.join();
  try {
    writer.flush();
  } catch (const c10::Error&) {
    ++thrown;
  }
  EXPECT_EQ(thrown.load(), 1);  // the injected failure, exactly once
  EXPECT_EQ(count_files(d.path), static_cast<size_t>(2 * per_producer - 1));
  for (int p = 0; p < 2; ++p) {
    for (int i = 0; i < per_producer; i += 97) {
      if (p == 1 && i == 700) continue;
      const auto img = read_image(d / c10::str(p, "_", i, ".png"));
      const uint8_t expected = to_pixels(torch::full({3, 8, 8},
          static_cast<float>((p * per_producer + i) % 251) / 250))[0][0][0].item<uint8_t>();
      EXPECT_TRUE(img.eq(expected).all().item<bool>()) << p << "_" << i;
    }
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::cout << "[ load ] peak RSS " << ru.ru_maxrss / 1024 << " MiB\n";
}

}  // namespace

// ---------------------------------------------------------------------------
// Issue 29, bugs 3, 4 and 6: call order per path, whole images on a shared
// pipe, compact snapshots, and the per-job cost in max_pending_bytes.

namespace {

// Reads a pipe to its end on a thread.
struct PipeReader {
  int fds[2] = {-1, -1};
  std::vector<uint8_t> got;
  std::thread thread;

  PipeReader() {
    if (::pipe(fds) != 0) throw std::runtime_error("pipe");
    thread = std::thread([this] {
      uint8_t buf[65536];
      for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) got.insert(got.end(), buf, buf + n);
    });
  }
  ~PipeReader() {
    if (thread.joinable()) finish();
  }
  std::string path() const { return "/proc/self/fd/" + std::to_string(fds[1]); }
  // Closes the writing end (and any dups of it named in `more`), waits for the end.
  std::vector<uint8_t> finish(const std::vector<int>& more = {}) {
    for (int fd : more) ::close(fd);
    ::close(fds[1]);
    thread.join();
    ::close(fds[0]);
    return got;
  }
};

std::vector<uint8_t> encoded(const torch::Tensor& image, const SaveImageOptions& o = {}) {
  const torch::Tensor t = encode_image(image, o);
  return std::vector<uint8_t>(t.data_ptr<uint8_t>(), t.data_ptr<uint8_t>() + t.numel());
}

}  // namespace

// Bug 3: with several workers, the file ends as the last call wrote it (a
// large first image used to finish after a small second one, and win).
TEST(ImageWriter, OnePathKeepsCallOrder) {
  TempDir d;
  torch::manual_seed(3);
  const auto big = torch::rand({3, 1024, 1024});
  const auto o = SaveImageOptions().compression_level(9);  // slow on purpose
  ImageWriter writer(ImageWriterOptions().threads(4));
  std::vector<torch::Tensor> last(3);
  for (int round = 0; round < 3; ++round) {
    for (int p = 0; p < 3; ++p) {
      const std::string path = d / ("f" + std::to_string(p) + ".png");
      writer.save_image(big, path, o);
      last[p] = torch::rand({3, 8, 8 + round});
      writer.save_image(last[p], p == 1 ? d.path.string() + "/./f1.png" : path, o);
    }
  }
  writer.flush();
  for (int p = 0; p < 3; ++p) {
    EXPECT_EQ(bytes_of(d / ("f" + std::to_string(p) + ".png")), encoded(last[p], o)) << p;
  }
}

// Bug 4: jobs whose target is one pipe (named two ways) reach it whole and
// in call order, and so do save_images' samples.
TEST(ImageWriter, OnePipeGetsWholeImagesInCallOrder) {
  torch::manual_seed(4);
  PipeReader pipe;
  const int alias = ::dup(pipe.fds[1]);
  ASSERT_GE(alias, 0);
  std::vector<uint8_t> want;
  {
    ImageWriter writer(ImageWriterOptions().threads(4));
    for (int k = 0; k < 12; ++k) {
      const auto image = torch::rand({3, k % 3 == 0 ? 400 : 16, 64});  // big ones are slow
      writer.save_image(image, k % 2 ? pipe.path() : "/dev/fd/" + std::to_string(alias),
                        SaveImageOptions().format(ImageFormat::PNG));
      const auto e = encoded(image);
      want.insert(want.end(), e.begin(), e.end());
    }
    writer.flush();
  }
  EXPECT_TRUE(pipe.finish({alias}) == want) << "the pipe got another order or mixed bytes";
}

TEST(SaveImages, SamplesToOnePipeArriveInIndexOrder) {
  torch::manual_seed(5);
  // Descriptors 200..207 all lead to one pipe: "/dev/fd/{index}" names it
  // eight ways.
  PipeReader pipe;
  std::vector<int> aliases;
  for (int fd = 200; fd < 208; ++fd) {
    ASSERT_EQ(::dup2(pipe.fds[1], fd), fd);
    aliases.push_back(fd);
  }
  // Noise is slow to compress at level 9, flat samples fast: without the
  // order, the flat samples overtake sample 0.
  const auto batch = torch::zeros({8, 3, 256, 256});
  batch[0] = torch::rand({3, 256, 256});
  try {
    save_images(batch, "/dev/fd/{index}",
                SaveImageOptions().compression_level(9).format(ImageFormat::PNG), 200,
                /*threads=*/4);
  } catch (const c10::Error& e) {
    for (int fd : aliases) ::close(fd);
    FAIL() << e.what_without_backtrace();
  }
  std::vector<uint8_t> want;
  for (int64_t i = 0; i < 8; ++i) {
    const auto e = encoded(batch[i], SaveImageOptions().compression_level(9));
    want.insert(want.end(), e.begin(), e.end());
  }
  EXPECT_TRUE(pipe.finish(aliases) == want);
}

// Bug 6: an expanded tensor's snapshot holds its memory once, not its shape.
TEST(ImageWriter, ExpandedTensorsAreSnapshotCompactly) {
  torch::manual_seed(6);
  const auto one = torch::rand({1, 3, 4, 4});
  const auto expanded = one.expand({100000, 3, 4, 4});
  EXPECT_EQ(snapshot_bytes(expanded), 3 * 4 * 4 * 4);
  ImageWriter owner(ImageWriterOptions().threads(1));
  {
    // The snapshot itself: compact, and the same values.
    Snapshots snapshots;
    WorkQueue::Options q;
    q.max_pending_bytes = 1 << 20;
    WorkQueue helpers(q);
    std::shared_ptr<c10::Event> ready;
    bool own = false;
    const at::Tensor snap = snapshots.take(expanded, false, helpers, &ready, &own);
    EXPECT_TRUE(own);
    EXPECT_EQ(snap.sizes(), expanded.sizes());
    EXPECT_LE(snap.storage().nbytes(), 3u * 4 * 4 * 4);
    EXPECT_TRUE(torch::equal(snap[99999], one[0]));
  }
  // Through the writer, under a budget far below what the shape spans
  // (19 MB): the file is save_image's.
  TempDir d;
  const auto o = SaveImageOptions().nrow(1000).normalize(true);
  ImageWriter writer(ImageWriterOptions().threads(1).max_pending_bytes(1 << 20));
  writer.save_image(expanded, d / "sheet.png", o);
  writer.flush();
  save_image(expanded, d / "direct.png", o);
  EXPECT_EQ(bytes_of(d / "sheet.png"), bytes_of(d / "direct.png"));
}

// Bug 6: max_pending_bytes counts what each job holds beyond its pixels, so
// that thousands of tiny jobs stay under the bound.
TEST(ImageWriter, PendingBytesCountEachJob) {
  TempDir d;
  const int64_t budget = 64 << 10;
  ImageWriter writer(ImageWriterOptions().threads(1).max_pending_bytes(budget));
  const auto tiny = torch::zeros({1, 1, 1}, torch::kUInt8);
  int64_t most = 0;
  for (int k = 0; k < 3000; ++k) {
    writer.save_image(tiny, d / ("t" + std::to_string(k) + ".png"));
    most = std::max(most, writer.pending());
  }
  writer.flush();
  // Each job counts at least 256 bytes: at most budget / 256 of them wait
  // (+1: a call whose job alone is over the bound goes through).
  EXPECT_LE(most, budget / 256 + 1);
  EXPECT_EQ(count_files(d.path), 3000u);
}
