// Animations (AnimationWriter, save_animation): after every add_frame the
// file is a complete animation of the frames so far. APNG files are checked
// chunk by chunk (acTL's frame count and plays, fcTL/fdAT sequence numbers,
// each fcTL's delay) and every frame is decoded by libpng: the default image
// as the file is, the others rebuilt as plain PNG files of their fdAT data
// (libpng ignores APNG's chunks). Pillow reads APNG, WebP and GIF frames in
// python/tests/test_animation.py. A failed add_frame leaves the file and the
// writer as they were.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <c10/util/Exception.h>
#include <torch/torch.h>
#include <zlib.h>

#include <torchimage/torchimage.h>

#include "reference_png.h"
#include "test_util.h"

namespace {

using torchimage::AnimationOptions;
using torchimage::AnimationWriter;
using torchimage::SaveImageOptions;
using torchimage_test::TempDir;

uint32_t be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

void put_chunk(std::vector<uint8_t>& out, const char* type, const uint8_t* data, size_t n) {
  const uint8_t len[4] = {uint8_t(n >> 24), uint8_t(n >> 16), uint8_t(n >> 8), uint8_t(n)};
  out.insert(out.end(), len, len + 4);
  const size_t start = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data, data + n);
  const uint32_t crc = static_cast<uint32_t>(
      crc32(0, out.data() + start, static_cast<uInt>(n + 4)));
  const uint8_t c[4] = {uint8_t(crc >> 24), uint8_t(crc >> 16), uint8_t(crc >> 8), uint8_t(crc)};
  out.insert(out.end(), c, c + 4);
}

struct Apng {
  uint32_t num_frames = 0, num_plays = 0;
  std::vector<uint8_t> ihdr, plte;
  std::vector<std::vector<uint8_t>> frame_data;  // each frame's zlib stream
  std::vector<uint32_t> sequence;                // fcTL's and fdAT's, in file order
  std::vector<std::pair<uint32_t, uint32_t>> delays;
  int idat_before_first_fctl = 0;

  // Frame i as a plain PNG file.
  std::vector<uint8_t> frame_png(size_t i) const {
    std::vector<uint8_t> f = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    put_chunk(f, "IHDR", ihdr.data(), ihdr.size());
    if (!plte.empty()) put_chunk(f, "PLTE", plte.data(), plte.size());
    put_chunk(f, "IDAT", frame_data[i].data(), frame_data[i].size());
    put_chunk(f, "IEND", nullptr, 0);
    return f;
  }
};

// Reads an APNG's chunks (CRCs checked by zlib's crc32).
Apng parse_apng(const std::vector<uint8_t>& file) {
  Apng a;
  EXPECT_GE(file.size(), 8u);
  size_t at = 8;
  bool seen_fctl = false;
  while (at + 12 <= file.size()) {
    const uint32_t n = be32(&file[at]);
    const std::string type(reinterpret_cast<const char*>(&file[at + 4]), 4);
    const uint8_t* d = &file[at + 8];
    EXPECT_LE(at + 12 + n, file.size());
    EXPECT_EQ(crc32(0, &file[at + 4], n + 4), be32(d + n)) << type;
    if (type == "IHDR") a.ihdr.assign(d, d + n);
    if (type == "PLTE") a.plte.assign(d, d + n);
    if (type == "acTL") {
      a.num_frames = be32(d);
      a.num_plays = be32(d + 4);
    }
    if (type == "fcTL") {
      seen_fctl = true;
      a.sequence.push_back(be32(d));
      a.frame_data.emplace_back();
      a.delays.emplace_back(uint32_t{d[20]} << 8 | d[21], uint32_t{d[22]} << 8 | d[23]);
      EXPECT_EQ(std::vector<uint8_t>(d + 4, d + 12), std::vector<uint8_t>(a.ihdr.begin(), a.ihdr.begin() + 8))
          << "fcTL covers the canvas";
      EXPECT_EQ(be32(d + 12), 0u);
      EXPECT_EQ(be32(d + 16), 0u);
    }
    if (type == "IDAT") {
      if (!seen_fctl) ++a.idat_before_first_fctl;
      EXPECT_EQ(a.frame_data.size(), 1u) << "IDAT belongs to the first frame";
      if (!a.frame_data.empty()) a.frame_data.back().insert(a.frame_data.back().end(), d, d + n);
    }
    if (type == "fdAT") {
      a.sequence.push_back(be32(d));
      EXPECT_GE(a.frame_data.size(), 2u) << "fdAT before the second fcTL";
      if (!a.frame_data.empty()) a.frame_data.back().insert(a.frame_data.back().end(), d + 4, d + n);
    }
    at += 12 + n;
  }
  EXPECT_EQ(at, file.size());
  return a;
}

torch::Tensor frame_tensor(int64_t i, int64_t channels = 3) {
  torch::manual_seed(1000 + i);
  return torch::rand({4, channels, 9, 11});
}

// Checks the APNG at `path` holds exactly `want` (to_pixels of each frame).
void expect_apng(const std::string& path, const std::vector<torch::Tensor>& want, int loop,
                 int delay_ms) {
  const std::vector<uint8_t> file = torchimage_test::bytes_of(path);
  const Apng a = parse_apng(file);
  ASSERT_EQ(a.num_frames, want.size());
  EXPECT_EQ(a.num_plays, static_cast<uint32_t>(loop));
  ASSERT_EQ(a.frame_data.size(), want.size()) << "one fcTL a frame";
  for (size_t i = 0; i < a.sequence.size(); ++i) EXPECT_EQ(a.sequence[i], i) << "sequence numbers";
  for (const auto& d : a.delays) EXPECT_EQ(d, std::make_pair(uint32_t(delay_ms), 1000u));
  // libpng reads the file as a PNG: the default image is frame 0.
  const auto whole = torchimage_test::decode_reference_png(file);
  ASSERT_TRUE(whole.ok()) << whole.describe();
  EXPECT_TRUE(torch::equal(whole.hwc(), want[0]));
  for (size_t i = 0; i < want.size(); ++i) {
    const auto ref = torchimage_test::decode_reference_png(a.frame_png(i));
    ASSERT_TRUE(ref.ok()) << "frame " << i << ": " << ref.describe();
    EXPECT_TRUE(torch::equal(ref.hwc(), want[i])) << "frame " << i;
  }
}

TEST(Animation, ApngGrowsAFrameAtATime) {
  TempDir dir{"anim"};
  const std::string path = dir / "progress.png";
  const auto opts = SaveImageOptions().nrow(2).normalize(true);
  AnimationWriter anim(path, AnimationOptions().fps(5).loop(3));
  EXPECT_EQ(anim.frames(), 0);
  EXPECT_EQ(dir.list(), std::vector<std::string>{}) << "nothing before the first frame";
  std::vector<torch::Tensor> want;
  for (int64_t i = 0; i < 4; ++i) {
    anim.add_frame(frame_tensor(i), opts);
    want.push_back(torchimage::to_pixels(frame_tensor(i), opts));
    EXPECT_EQ(anim.frames(), i + 1);
    ASSERT_NO_FATAL_FAILURE(expect_apng(path, want, 3, 200));
    EXPECT_EQ(dir.list(), std::vector<std::string>{"progress.png"}) << "no temporary left";
  }
  // save_animation writes the same file at once.
  std::vector<torch::Tensor> frames;
  for (int64_t i = 0; i < 4; ++i) frames.push_back(frame_tensor(i));
  torchimage::save_animation(frames, dir / "all.apng", AnimationOptions().fps(5).loop(3), opts);
  EXPECT_EQ(torchimage_test::bytes_of(dir / "all.apng"), torchimage_test::bytes_of(path));
}

TEST(Animation, ApngOfGrayLabelsAnd16Bits) {
  TempDir dir{"anim"};
  // Gray (one channel), at 16 bits.
  {
    const auto o = SaveImageOptions().grayscale(true).bit_depth(16);
    AnimationWriter anim(dir / "g.png");
    for (int64_t i = 0; i < 2; ++i) anim.add_frame(frame_tensor(i, 1), o);
    const Apng a = parse_apng(torchimage_test::bytes_of(dir / "g.png"));
    ASSERT_EQ(a.num_frames, 2u);
    for (size_t i = 0; i < 2; ++i) {
      const auto ref = torchimage_test::decode_reference_png(a.frame_png(i));
      ASSERT_TRUE(ref.ok()) << ref.describe();
      EXPECT_EQ(ref.file_bit_depth, 16);
      EXPECT_EQ(ref.channels, 1);
      const torch::Tensor want = torchimage::decode_image(
          torchimage::encode_image(frame_tensor(static_cast<int64_t>(i), 1), o),
          torchimage::DecodeOptions().keep_16_bit(true));
      EXPECT_TRUE(torch::equal(ref.hwc().permute({2, 0, 1}).to(torch::kInt), want.to(torch::kInt)));
    }
  }
  // Label maps: one PLTE, the class ids in every frame.
  {
    const auto o = SaveImageOptions().palette(torchimage::voc_palette());
    AnimationWriter anim(dir / "l.png");
    for (int64_t i = 0; i < 3; ++i) {
      torch::manual_seed(i);
      anim.add_frame(torch::randint(0, 21, {2, 1, 6, 7}, torch::kLong), o);
    }
    const Apng a = parse_apng(torchimage_test::bytes_of(dir / "l.png"));
    EXPECT_EQ(a.num_frames, 3u);
    EXPECT_EQ(a.plte.size(), 256u * 3);
    for (size_t i = 0; i < 3; ++i) {
      torch::manual_seed(static_cast<int64_t>(i));
      const torch::Tensor ids = torch::randint(0, 21, {2, 1, 6, 7}, torch::kLong);
      const auto ref = torchimage_test::decode_reference_png(a.frame_png(i));
      ASSERT_TRUE(ref.ok()) << ref.describe();
      EXPECT_TRUE(torch::equal(ref.hwc(), torchimage::to_pixels(ids, o))) << "frame " << i;
    }
  }
}

// A frame of another size, channel count or depth is refused with both
// shapes named; the file and the writer stay as they were, and the next
// good frame is added.
TEST(Animation, MismatchedFrameLeavesTheFile) {
  for (const std::string ext : {"png", "webp", "gif"}) {
    const auto f = torchimage::format_of_path("x." + ext);
    if (!torchimage::format_info(*f).available) continue;
    SCOPED_TRACE(ext);
    TempDir dir{"anim"};
    const std::string path = dir / ("a." + ext);
    AnimationWriter anim(path);
    anim.add_frame(frame_tensor(0));
    anim.add_frame(frame_tensor(1));
    const std::vector<uint8_t> before = torchimage_test::bytes_of(path);
    const std::string msg = torchimage_test::error_of([&] { anim.add_frame(torch::rand({3, 5, 5})); });
    EXPECT_NE(msg.find("3x5x5"), std::string::npos) << msg;
    EXPECT_NE(msg.find("3x13x54"), std::string::npos) << msg;
    EXPECT_THROW(anim.add_frame(frame_tensor(2, 1), SaveImageOptions().grayscale(true)), c10::Error);
    EXPECT_THROW(anim.add_frame(torch::full({3, 4, 4}, std::nan(""))), c10::Error);
    EXPECT_EQ(anim.frames(), 2);
    EXPECT_EQ(torchimage_test::bytes_of(path), before);
    EXPECT_EQ(dir.list(), std::vector<std::string>{"a." + ext});
    anim.add_frame(frame_tensor(2));
    EXPECT_EQ(anim.frames(), 3);
    // The first frame decodes (APNG: the default image) to to_pixels (GIF:
    // its shape; more than 256 colours are quantized).
    if (ext != "webp") {
      const torch::Tensor first = torchimage::read_image(path).permute({1, 2, 0});
      const torch::Tensor want = torchimage::to_pixels(frame_tensor(0));
      EXPECT_EQ(first.sizes(), want.sizes());
      if (ext == "png") EXPECT_TRUE(torch::equal(first, want));
    }
  }
}

// A file that cannot be written (its directory gone) fails the frame: the
// writer keeps its frames and goes on once the directory is back.
TEST(Animation, FailedWriteKeepsTheWriter) {
  TempDir dir{"anim"};
  const std::string sub = dir / "sub";
  ASSERT_EQ(mkdir(sub.c_str(), 0755), 0);
  const std::string path = sub + "/a.png";
  AnimationWriter anim(path);
  anim.add_frame(frame_tensor(0));
  ASSERT_EQ(std::remove(path.c_str()), 0);
  ASSERT_EQ(rmdir(sub.c_str()), 0);
  EXPECT_THROW(anim.add_frame(frame_tensor(1)), c10::Error);
  EXPECT_EQ(anim.frames(), 1);
  ASSERT_EQ(mkdir(sub.c_str(), 0755), 0);
  anim.add_frame(frame_tensor(1));
  EXPECT_EQ(anim.frames(), 2);
  ASSERT_NO_FATAL_FAILURE(expect_apng(path,
                                      {torchimage::to_pixels(frame_tensor(0)),
                                       torchimage::to_pixels(frame_tensor(1))},
                                      0, 250));
}

TEST(Animation, BadOptionsAreRefused) {
  TempDir dir{"anim"};
  EXPECT_THROW_MSG(AnimationWriter(dir / "a.jpg"), "animations are PNG, WebP or GIF");
  EXPECT_THROW_MSG(AnimationWriter(dir / "a.bmp"), "BMP holds one image");
  EXPECT_THROW_MSG(AnimationWriter(dir / "a.png", AnimationOptions().fps(0)), "fps must be");
  EXPECT_THROW_MSG(AnimationWriter(dir / "a.png", AnimationOptions().fps(std::nan(""))),
                   "fps must be");
  EXPECT_THROW_MSG(AnimationWriter(dir / "a.png", AnimationOptions().fps(1e-6)), "1-65535 ms");
  EXPECT_THROW_MSG(AnimationWriter(dir / "a.png", AnimationOptions().loop(-1)),
                   "loop must be in 0-65535");
  EXPECT_THROW_MSG(AnimationWriter(dir / "a.png", AnimationOptions().loop(70000)),
                   "loop must be in 0-65535");
  AnimationWriter anim(dir / "a.gif");
  EXPECT_THROW_MSG(anim.add_frame(frame_tensor(0), SaveImageOptions().format("png")),
                   "is not the animation's (GIF)");
  EXPECT_THROW_MSG(anim.add_frame(frame_tensor(0, 4)), "channels");
  EXPECT_THROW_MSG(torchimage::save_animation({}, dir / "b.png"), "at least one frame");
  EXPECT_EQ(dir.list(), std::vector<std::string>{});
}

}  // namespace
