// Two builds of the default PNG's deflate engines in one process, timed call
// by call in alternation on the same filtered rows (see engine_ab.py, which
// dumps the rows and builds this file three times: the A side and the B side
// each with their own sources under their own namespace, then main).
// Alternating in one process cancels this machine's drift, which moves
// separate runs by a third; effects of 3-5% are then visible.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <zlib.h>

#ifndef ENGINE_AB_MAIN
// ---------------------------------------------------------------------------
// One side: the default engine's choice and parts as idat_default.cpp makes
// them (two parts from 64 KiB, the probe on the first 128 KiB of a part, the
// second part's matches reaching 32 KiB back), on one thread.
#include "codecs/png/deflate_lz.h"
#include "codecs/png/deflate_rle.h"

namespace {
int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : fallback;
}
}  // namespace

// mode: 0 the default's probe, 1 run-length, 2 LZ77 at pixel starts, 3 LZ77 everywhere.
size_t ENCODE_NAME(const std::vector<uint8_t>& raw, size_t stride, int bpp, int mode,
                   std::vector<uint8_t>& out) {
  using namespace torchimage;
  out.clear();
  const size_t rows = raw.size() / stride;
  const int parts = raw.size() >= (size_t{64} << 10) && rows >= 2 ? 2 : 1;
  const size_t bounds[3] = {0, parts == 2 ? rows / 2 * stride : raw.size(), raw.size()};
  out.push_back(0x78);
  out.push_back(0x01);
  for (int part = 0; part < parts; ++part) {
    const uint8_t* data = raw.data() + bounds[part];
    const size_t size = bounds[part + 1] - bounds[part];
    const bool last = part == parts - 1;
    const size_t probe = std::min(size, (size_t{128} << 10) / stride * stride);
    const LzProbe choice = mode == 0   ? probe_lz(data, probe)
                           : mode == 1 ? LzProbe::Runs
                           : mode == 2 ? LzProbe::Pixels
                                       : LzProbe::Everywhere;
    if (choice == LzProbe::Runs) {
      RleDeflater d(false);
      d.add_and_end(data, size, out, last);
      continue;
    }
    LzDeflater::Params p;
    p.pixel_aligned = choice == LzProbe::Pixels;
    // ENGINE_AB_<SIDE>_PIXEL_CHAIN / _FLAT_CHAIN override the walks (A or B).
    p.max_chain = choice == LzProbe::Pixels ? env_int("ENGINE_AB_" SIDE "_PIXEL_CHAIN", 4)
                                            : env_int("ENGINE_AB_" SIDE "_FLAT_CHAIN", 32);
    p.nice_length = choice == LzProbe::Pixels ? 258 : 128;
    p.stride = stride;
    p.bytes_per_pixel = bpp;
    LzDeflater d(p);
    const size_t history = part == 0 ? 0 : std::min(bounds[1], (size_t{32} << 10) / stride * stride);
    d.add(data - history, history, size, out);
    d.end(out, last);
  }
  const uint32_t a = static_cast<uint32_t>(adler32(1, raw.data(), static_cast<uInt>(raw.size())));
  for (int k = 3; k >= 0; --k) out.push_back(static_cast<uint8_t>(a >> (8 * k)));
  return out.size();
}

#else
// ---------------------------------------------------------------------------
// main: for each class of the manifest (name, row stride, bytes a pixel,
// rows file, torchvision's IDAT bytes), both sides in alternation; the
// median time of each, the median of the pairs' ratios B/A, each side's
// size against torchvision's, and a check that both inflate to the rows.
size_t encode_a(const std::vector<uint8_t>&, size_t, int, int, std::vector<uint8_t>&);
size_t encode_b(const std::vector<uint8_t>&, size_t, int, int, std::vector<uint8_t>&);

namespace {
std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), {});
}

bool inflates_to(const std::vector<uint8_t>& z, const std::vector<uint8_t>& raw) {
  std::vector<uint8_t> back(raw.size() + 16);
  uLongf n = static_cast<uLongf>(back.size());
  return uncompress(back.data(), &n, z.data(), static_cast<uLong>(z.size())) == Z_OK &&
         n == raw.size() && std::memcmp(back.data(), raw.data(), n) == 0;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MANIFEST [PAIRS [MODE [CLASS...]]]\n", argv[0]);
    return 2;
  }
  const int pairs = argc > 2 ? std::atoi(argv[2]) : 30;
  const int mode = argc > 3 ? std::atoi(argv[3]) : 0;
  std::vector<std::string> only(argv + std::min(argc, 4), argv + argc);
  std::ifstream manifest(argv[1]);
  std::string line;
  double log_sum = 0;
  int classes = 0;
  std::printf("| class | A size | A ms | B size | B ms | B/A (median of pairs) | inflate |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---|\n");
  while (std::getline(manifest, line)) {
    std::istringstream fields(line);
    std::string name, path;
    size_t stride = 0, reference = 0;
    int bpp = 0;
    if (!(fields >> name >> stride >> bpp >> path >> reference)) continue;
    if (!only.empty() && std::find(only.begin(), only.end(), name) == only.end()) continue;
    const std::vector<uint8_t> raw = read_file(path);
    std::vector<uint8_t> a, b;
    std::vector<double> ta, tb, ratio;
    for (int r = 0; r < pairs; ++r) {
      double t[2];
      for (int k = 0; k < 2; ++k) {
        const bool side_a = (r + k) % 2 == 0;  // which goes first alternates
        const auto t0 = std::chrono::steady_clock::now();
        if (side_a) encode_a(raw, stride, bpp, mode, a);
        else encode_b(raw, stride, bpp, mode, b);
        t[side_a ? 0 : 1] = std::chrono::duration<double, std::milli>(
                                std::chrono::steady_clock::now() - t0).count();
      }
      ta.push_back(t[0]);
      tb.push_back(t[1]);
      ratio.push_back(t[1] / t[0]);
    }
    const double ref = static_cast<double>(reference);
    const double r = median(ratio);
    std::printf("| %s | %+.1f%% | %.3f | %+.1f%% | %.3f | %.3f | %s |\n", name.c_str(),
                100.0 * (static_cast<double>(a.size()) - ref) / ref, median(ta),
                100.0 * (static_cast<double>(b.size()) - ref) / ref, median(tb), r,
                inflates_to(a, raw) && inflates_to(b, raw) ? "ok" : "FAILED");
    log_sum += std::log(r);
    ++classes;
  }
  if (classes) std::printf("\ngeometric mean of B/A: %.3f over %d classes\n", std::exp(log_sum / classes), classes);
  return 0;
}
#endif
