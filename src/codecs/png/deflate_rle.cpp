// torchimage's run-length deflate. Written from RFC 1951; see deflate_rle.h.
#include "codecs/png/deflate_rle.h"

#include <algorithm>
#include <cstring>

#include <c10/util/Exception.h>
#include <zlib.h>

#include "codecs/png/deflate_bits.h"
#include "core/cpu_dispatch.h"

#ifdef TORCHIMAGE_X86_INTRINSICS
#include <immintrin.h>
#endif

#ifdef TORCHIMAGE_HAVE_ISAL
#include <isa-l/igzip_lib.h>
#endif

namespace torchimage {
namespace deflate_detail {

void huffman_lengths(const uint32_t* freq, int n, int max_bits, uint8_t* lengths) {
  TORCH_CHECK(n <= 288 && max_bits <= 15, "huffman_lengths: alphabet of ", n, " symbols");
  std::memset(lengths, 0, static_cast<size_t>(n));
  // Symbols in use, rarest first, ties by symbol: they start in symbol order
  // and a stable radix sort on the frequency, a byte at a time, keeps that
  // order among equals. No comparisons to mispredict: this runs for every
  // block, and a 64x64 image is one block.
  uint16_t order[288], spare[288];
  int m = 0;
  uint32_t any = 0;
  for (int i = 0; i < n; ++i) {
    order[m] = static_cast<uint16_t>(i);
    m += freq[i] != 0;
    any |= freq[i];
  }
  if (m == 0) return;
  if (m == 1) {
    // Deflate needs a complete-enough code: give the one symbol a partner.
    const int sym = order[0];
    lengths[sym] = 1;
    lengths[sym == 0 ? 1 : 0] = 1;
    return;
  }
  uint16_t* sorted = order;
  for (int shift = 0; shift < 32 && (any >> shift) != 0; shift += 8) {
    uint16_t start[257] = {0};
    for (int k = 0; k < m; ++k) ++start[((freq[sorted[k]] >> shift) & 0xff) + 1];
    for (int b = 0; b < 256; ++b) start[b + 1] = static_cast<uint16_t>(start[b + 1] + start[b]);
    uint16_t* to = sorted == order ? spare : order;
    for (int k = 0; k < m; ++k) to[start[(freq[sorted[k]] >> shift) & 0xff]++] = sorted[k];
    sorted = to;
  }
  // Two-queue Huffman construction over the sorted leaves: leaves are
  // 0..m-1, internal nodes m..2m-2 (created in order of weight). A node not
  // made yet weighs "infinity", so that each pick is one comparison (ties
  // go to the leaf) and compiles to conditional moves.
  uint64_t weight[2 * 288];
  int parent[2 * 288];
  for (int i = 0; i < m; ++i) weight[i] = freq[sorted[i]];
  for (int i = m; i < 2 * m - 1; ++i) weight[i] = ~uint64_t{0};
  int leaf = 0, node = m;
  auto take = [&]() {
    const bool is_leaf = (leaf < m) & (weight[leaf] <= weight[node]);
    const int taken = is_leaf ? leaf : node;
    leaf += is_leaf;
    node += !is_leaf;
    return taken;
  };
  for (int next = m; next < 2 * m - 1; ++next) {
    const int a = take(), b = take();
    weight[next] = weight[a] + weight[b];
    parent[a] = parent[b] = next;
  }
  // Depths: the root is 2m-2; parents come after children.
  int depth[2 * 288];
  depth[2 * m - 2] = 0;
  for (int i = 2 * m - 3; i >= 0; --i) depth[i] = depth[parent[i]] + 1;

  // Limit to max_bits: fold over-long codes into max_bits, then restore the
  // Kraft equality by moving codes down one level at a time.
  uint32_t count[16] = {0};
  for (int i = 0; i < m; ++i) ++count[std::min(depth[i], max_bits)];
  uint64_t kraft = 0;
  for (int len = 1; len <= max_bits; ++len) kraft += uint64_t{count[len]} << (max_bits - len);
  while (kraft > (uint64_t{1} << max_bits)) {
    --count[max_bits];
    for (int len = max_bits - 1; len > 0; --len) {
      if (count[len]) {
        --count[len];
        count[len + 1] += 2;
        break;
      }
    }
    --kraft;
  }
  // Longest codes to the rarest symbols (sorted rarest first).
  int k = 0;
  for (int len = max_bits; len >= 1; --len) {
    for (uint32_t c = 0; c < count[len]; ++c) lengths[sorted[k++]] = static_cast<uint8_t>(len);
  }
}

namespace {

// Each byte with its bits in reverse order.
struct ReversedBytes {
  uint8_t of[256];
  ReversedBytes() {
    for (int b = 0; b < 256; ++b) {
      int r = 0;
      for (int k = 0; k < 8; ++k) r |= ((b >> k) & 1) << (7 - k);
      of[b] = static_cast<uint8_t>(r);
    }
  }
};

const ReversedBytes& reversed_bytes() {
  static const ReversedBytes table;
  return table;
}

}  // namespace

void canonical_codes(const uint8_t* lengths, int n, uint16_t* codes) {
  uint16_t bl_count[16] = {0};
  for (int i = 0; i < n; ++i) ++bl_count[lengths[i]];
  bl_count[0] = 0;
  uint16_t next_code[16] = {0};
  uint32_t code = 0;
  for (int bits = 1; bits <= 15; ++bits) {
    code = (code + bl_count[bits - 1]) << 1;
    next_code[bits] = static_cast<uint16_t>(code);
  }
  const uint8_t* reversed = reversed_bytes().of;
  for (int i = 0; i < n; ++i) {
    // Without a branch: an unused symbol (length 0) takes a code from
    // next_code[0], which nothing else uses, and keeps none of its bits.
    const int len = lengths[i];
    // Deflate sends Huffman codes most significant bit first: reverse the
    // 16-bit code, then keep its top `len` bits.
    const uint32_t c = next_code[len]++ & 0xffffu;
    const uint32_t r = (uint32_t{reversed[c & 0xff]} << 8) | reversed[c >> 8];
    codes[i] = static_cast<uint16_t>(r >> (16 - len));
  }
}

}  // namespace deflate_detail

namespace {

using deflate_detail::Bits;
using deflate_detail::canonical_codes;
using deflate_detail::Code;
using deflate_detail::code_bits;
using deflate_detail::code_length;
using deflate_detail::emit_literals;
using deflate_detail::flush_to_byte;
using deflate_detail::huffman_lengths;
using deflate_detail::kMaxLiteralBits;
using deflate_detail::LengthCode;
using deflate_detail::length_codes;
using deflate_detail::make_code;
using deflate_detail::write_dynamic_header;

// The order in which code-length code lengths are sent (RFC 1951 3.2.7).
constexpr uint8_t kClOrder[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

// Length of the run of bytes equal to `v` at p (at most `limit`).
inline size_t run_length(const uint8_t* p, size_t limit, uint8_t v) {
  size_t n = 0;
  const uint64_t pattern = 0x0101010101010101ull * v;
  while (n + 8 <= limit) {
    uint64_t w;
    std::memcpy(&w, p + n, 8);
    const uint64_t diff = w ^ pattern;
    if (diff) return n + static_cast<size_t>(__builtin_ctzll(diff) >> 3);
    n += 8;
  }
  while (n < limit && p[n] == v) ++n;
  return n;
}

}  // namespace

RleDeflater::RleDeflater(bool zlib_header)
    : adler_(static_cast<uint32_t>(adler32(0L, Z_NULL, 0))), header_written_(!zlib_header) {
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "BitWriter assumes little-endian");
}

void RleDeflater::update_adler(const uint8_t* data, size_t size) {
  adler_ = deflate_detail::adler32_update(adler_, data, size);
}

uint32_t deflate_detail::adler32_update(uint32_t adler, const uint8_t* data, size_t size) {
#ifdef TORCHIMAGE_HAVE_ISAL
  return isal_adler32(adler, data, size);  // the same checksum, vectorized
#else
  // Adler-32 in pieces that fit zlib's uInt.
  for (size_t done = 0; done < size;) {
    const size_t piece = std::min<size_t>(size - done, size_t{1} << 30);
    adler = static_cast<uint32_t>(adler32(adler, data + done, static_cast<uInt>(piece)));
    done += piece;
  }
  return adler;
#endif
}

void RleDeflater::add(const uint8_t* data, size_t size, std::vector<uint8_t>& out) {
  update_adler(data, size);
  if (!pending_.empty()) {
    const size_t take = std::min(size, kBlockInput - pending_.size());
    pending_.insert(pending_.end(), data, data + take);
    data += take, size -= take;
    if (pending_.size() < kBlockInput) return;
    encode_block(pending_.data(), pending_.size(), false, out);
    pending_.clear();
  }
  while (size >= kBlockInput) {
    encode_block(data, kBlockInput, false, out);
    data += kBlockInput, size -= kBlockInput;
  }
  pending_.assign(data, data + size);
}

void RleDeflater::add_and_end(const uint8_t* data, size_t size, std::vector<uint8_t>& out,
                              bool final) {
  if (!pending_.empty()) {
    add(data, size, out);
    end(out, final);
    return;
  }
  // The blocks add() and end() would make: whole blocks, then the rest
  // (perhaps empty) as the last.
  update_adler(data, size);
  for (; size >= kBlockInput; data += kBlockInput, size -= kBlockInput) {
    encode_block(data, kBlockInput, false, out);
  }
  encode_block(data, size, final, out);
  align(out, final);
}

void RleDeflater::end(std::vector<uint8_t>& out, bool final) {
  encode_block(pending_.data(), pending_.size(), final, out);
  pending_.clear();
  align(out, final);
}

void RleDeflater::align(std::vector<uint8_t>& out, bool final) {
  flush_to_byte(bits_, nbits_, final, out);
}

void RleDeflater::finish(std::vector<uint8_t>& out) {
  end(out, true);
  const uint8_t trailer[4] = {uint8_t(adler_ >> 24), uint8_t(adler_ >> 16), uint8_t(adler_ >> 8),
                              uint8_t(adler_)};
  out.insert(out.end(), trailer, trailer + 4);
}

namespace {

#ifdef TORCHIMAGE_X86_INTRINSICS
// next_match's scan, 32 positions a step (i >= 1): returns the first match
// start among the positions it covered, or the first position it did not
// cover (each step reads data[p - 1, p + 34), so it stops 34 bytes short).
__attribute__((target("avx2"))) size_t next_match_avx2(const uint8_t* data, size_t i,
                                                        size_t size) {
  for (; i + 34 <= size; i += 32) {
    const auto* p = reinterpret_cast<const __m256i*>(data + i);
    const __m256i before = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + i - 1));
    const __m256i at0 = _mm256_loadu_si256(p);
    const __m256i at1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + i + 1));
    const __m256i at2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + i + 2));
    const __m256i run = _mm256_and_si256(
        _mm256_and_si256(_mm256_cmpeq_epi8(before, at0), _mm256_cmpeq_epi8(at0, at1)),
        _mm256_cmpeq_epi8(at1, at2));
    const uint32_t mask = static_cast<uint32_t>(_mm256_movemask_epi8(run));
    if (mask) return i + static_cast<size_t>(__builtin_ctz(mask));
  }
  return i;
}
#endif

// Position of the first match start in data[i, size) (or size): a position p
// where data[p - 1] == data[p] == data[p + 1] == data[p + 2], so that a
// distance-1 match of length >= 3 begins there. `prev` is data[i - 1] (or the
// byte before the block). Scans 6 positions a word where it can.
inline size_t next_match(const uint8_t* data, size_t i, size_t size, uint8_t prev) {
  // Positions before a whole word can be loaded at p - 1: one at a time.
  auto at = [&](size_t p) {
    const uint8_t before = p == 0 ? prev : data[p - 1];
    return p + 2 < size && data[p] == before && data[p + 1] == before && data[p + 2] == before;
  };
  if (i == 0) {
    if (at(0)) return 0;
    i = 1;
  }
#ifdef TORCHIMAGE_X86_INTRINSICS
  if (cpu_has_avx2()) i = next_match_avx2(data, i, size);
#endif
  while (i + 8 <= size) {
    uint64_t cur, before;
    std::memcpy(&cur, data + i, 8);
    std::memcpy(&before, data + i - 1, 8);
    const uint64_t eq = cur ^ before;  // byte k zero: data[i+k] == data[i+k-1]
    // byte k of run3 zero: positions k, k+1, k+2 all equal their predecessor;
    // only bytes 0-5 have all three inside the word.
    const uint64_t run3 = eq | (eq >> 8) | (eq >> 16) | 0xffff000000000000ull;
    const uint64_t zero = (run3 - 0x0101010101010101ull) & ~run3 & 0x8080808080808080ull;
    if (zero) {
      // The lowest flagged byte is exact (borrows only run upwards).
      return i + static_cast<size_t>(__builtin_ctzll(zero) >> 3);
    }
    i += 6;
  }
  for (; i < size; ++i) {
    if (at(i)) return i;
  }
  return size;
}

}  // namespace

namespace deflate_detail {
namespace {

// Length symbol (257..285) and its extra bits for match lengths 3..258.
struct LengthTable {
  LengthCode code[259];
  LengthTable() {
    static const uint16_t base[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                      31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
    static const uint8_t extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                      2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
    for (int s = 0; s < 29; ++s) {
      const int end = s == 28 ? 259 : (s == 27 ? 258 : base[s + 1]);
      for (int len = base[s]; len < end; ++len) {
        code[len] = {static_cast<uint16_t>(257 + s), extra[s], static_cast<uint8_t>(len - base[s])};
      }
    }
  }
};


}  // namespace

const LengthCode* length_codes() {
  static const LengthTable table;
  return table.code;
}

namespace {

// Literal codes for n bytes. The bit state lives in locals here: stores
// through the byte pointer could otherwise alias it (and the table) and
// force reloads on every byte.
TORCHIMAGE_INLINE void emit_literals_body(const uint8_t* data, size_t n, const Code* lit, Bits& w) {
  uint64_t acc = w.acc;
  uint64_t bits = static_cast<uint64_t>(w.n);
  uint8_t* p = w.p;
  size_t k = 0;
  for (; k + 4 <= n; k += 4) {
    // Four literals of at most kMaxLiteralBits (14) bits each per store:
    // 56 bits, plus at most 7 pending. The pairs are combined off the
    // accumulator's dependency chain.
    const Code a = lit[data[k]], b = lit[data[k + 1]];
    const Code c = lit[data[k + 2]], d = lit[data[k + 3]];
    const uint64_t ab = code_bits(a) | (code_bits(b) << (a & 63));
    const uint64_t cd = code_bits(c) | (code_bits(d) << (c & 63));
    const uint32_t ab_len = code_length(a) + code_length(b);
    acc |= (ab | (cd << ab_len)) << bits;
    bits += ab_len + code_length(c) + code_length(d);
    std::memcpy(p, &acc, 8);
    p += bits >> 3;
    acc >>= bits & ~uint64_t{7};
    bits &= 7;
  }
  w.acc = acc, w.n = static_cast<int>(bits), w.p = p;
  for (; k < n; ++k) w.put(code_bits(lit[data[k]]), static_cast<int>(code_length(lit[data[k]])));
}

void emit_literals_baseline(const uint8_t* data, size_t n, const Code* lit, Bits& w) {
  emit_literals_body(data, n, lit, w);
}

#ifdef TORCHIMAGE_X86_INTRINSICS
// The same with BMI2's shifts by a register (shlx, shrx): a fifth fewer
// instructions here, where every step shifts by a code length.
__attribute__((target("bmi,bmi2"))) void emit_literals_bmi2(const uint8_t* data, size_t n,
                                                           const Code* lit, Bits& w) {
  emit_literals_body(data, n, lit, w);
}
#endif

}  // namespace

void emit_literals(const uint8_t* data, size_t n, const Code* lit, Bits& w) {
#ifdef TORCHIMAGE_X86_INTRINSICS
  if (cpu_has_bmi2()) return emit_literals_bmi2(data, n, lit, w);
#endif
  emit_literals_baseline(data, n, lit, w);
}

namespace {
// The pending bits, padded to a byte.
void flush_bits(uint64_t& bits, int& nbits, std::vector<uint8_t>& out) {
  while (nbits > 0) {
    out.push_back(static_cast<uint8_t>(bits));
    bits >>= 8;
    nbits = nbits > 8 ? nbits - 8 : 0;
  }
  bits = 0;
  nbits = 0;
}
}  // namespace

void write_stored_block(uint64_t& bits, int& nbits, bool final, const uint8_t* data, size_t size,
                        std::vector<uint8_t>& out) {
  // BFINAL, BTYPE 00, then up to the next byte boundary; LEN and NLEN
  // little-endian (RFC 1951 3.2.4).
  bits |= uint64_t{final ? 1u : 0u} << nbits;
  nbits += 3;
  flush_bits(bits, nbits, out);
  const uint16_t len = static_cast<uint16_t>(size);
  const uint16_t nlen = static_cast<uint16_t>(~len);
  const uint8_t header[4] = {uint8_t(len), uint8_t(len >> 8), uint8_t(nlen), uint8_t(nlen >> 8)};
  out.insert(out.end(), header, header + 4);
  if (size > 0) out.insert(out.end(), data, data + size);
}

void flush_to_byte(uint64_t& bits, int& nbits, bool final, std::vector<uint8_t>& out) {
  if (final) {
    flush_bits(bits, nbits, out);
  } else {
    write_stored_block(bits, nbits, false, nullptr, 0, out);  // empty: LEN 0, NLEN ~0
  }
}

void write_dynamic_header(Bits& w, bool final, const uint8_t* lit_len, const uint8_t* dist_len) {
  int hlit = 286;
  while (hlit > 257 && lit_len[hlit - 1] == 0) --hlit;
  int hdist = 30;
  while (hdist > 1 && dist_len[hdist - 1] == 0) --hdist;
  // Code lengths of both alphabets as one sequence, run-length coded with
  // the code-length alphabet: 16 repeats the previous length 3-6 times, 17
  // and 18 repeat zero 3-10 and 11-138 times.
  uint8_t all[286 + 30];
  std::memcpy(all, lit_len, hlit);
  std::memcpy(all + hlit, dist_len, hdist);
  const int total = hlit + hdist;
  struct ClSym { uint8_t sym, extra; };
  ClSym cl[286 + 30];
  int ncl = 0;
  uint32_t cl_freq[19] = {0};
  for (int k = 0; k < total;) {
    const uint8_t len = all[k];
    int run = 1;
    while (k + run < total && all[k + run] == len) ++run;
    if (len == 0 && run >= 3) {
      const int r = std::min(run, 138);
      if (r >= 11) cl[ncl++] = {18, static_cast<uint8_t>(r - 11)}, ++cl_freq[18];
      else cl[ncl++] = {17, static_cast<uint8_t>(r - 3)}, ++cl_freq[17];
      k += r;
    } else if (len != 0 && run >= 4) {
      cl[ncl++] = {len, 0}, ++cl_freq[len];
      const int r = std::min(run - 1, 6);
      cl[ncl++] = {16, static_cast<uint8_t>(r - 3)}, ++cl_freq[16];
      k += 1 + r;
    } else {
      cl[ncl++] = {len, 0}, ++cl_freq[len];
      k += 1;
    }
  }
  uint8_t cl_len[19];
  uint16_t cl_code[19];
  huffman_lengths(cl_freq, 19, 7, cl_len);
  canonical_codes(cl_len, 19, cl_code);
  int hclen = 19;
  while (hclen > 4 && cl_len[kClOrder[hclen - 1]] == 0) --hclen;

  w.put(final ? 1 : 0, 1);
  w.put(2, 2);  // dynamic Huffman
  w.put(static_cast<uint64_t>(hlit - 257), 5);
  w.put(static_cast<uint64_t>(hdist - 1), 5);
  w.put(static_cast<uint64_t>(hclen - 4), 4);
  for (int k = 0; k < hclen; ++k) w.put(cl_len[kClOrder[k]], 3);
  for (int k = 0; k < ncl; ++k) {
    const uint8_t s = cl[k].sym;
    w.put(cl_code[s], cl_len[s]);
    if (s == 16) w.put(cl[k].extra, 2);
    else if (s == 17) w.put(cl[k].extra, 3);
    else if (s == 18) w.put(cl[k].extra, 7);
  }
}

}  // namespace deflate_detail

void RleDeflater::encode_block(const uint8_t* data, size_t size, bool final,
                               std::vector<uint8_t>& out) {
  if (!header_written_) {
    // CMF 0x78: deflate, 32 KiB window; FLG 0x01: fastest, check bits.
    out.push_back(0x78);
    out.push_back(0x01);
    header_written_ = true;
  }
  // 1. Matches, and the histogram: all bytes, less those that matches cover.
  const LengthCode* lengths_of = length_codes();
  uint32_t lit_freq[286] = {0};
  {
    uint32_t h[4][256] = {{0}};
    size_t k = 0;
    for (; k + 4 <= size; k += 4) {
      ++h[0][data[k]], ++h[1][data[k + 1]], ++h[2][data[k + 2]], ++h[3][data[k + 3]];
    }
    for (; k < size; ++k) ++h[0][data[k]];
    for (int b = 0; b < 256; ++b) lit_freq[b] = h[0][b] + h[1][b] + h[2][b] + h[3][b];
  }
  matches_.clear();
  // The stream's first byte has no predecessor: a stand-in that differs.
  const uint8_t prev = have_prev_ ? prev_ : static_cast<uint8_t>(size ? ~data[0] : 0);
  for (size_t i = 0; i < size;) {
    const size_t m = next_match(data, i, size, prev);
    if (m >= size) break;
    const uint8_t v = data[m];
    const size_t run = run_length(data + m, std::min<size_t>(size - m, 258), v);
    const LengthCode& c = lengths_of[run];
    matches_.push_back({static_cast<uint32_t>(m), static_cast<uint16_t>(run)});
    lit_freq[v] -= static_cast<uint32_t>(run);
    ++lit_freq[c.symbol];
    i = m + run;
  }
  if (size) {
    prev_ = data[size - 1];
    have_prev_ = true;
  }
  lit_freq[256] = 1;  // end of block

  // 2. Codes.
  uint8_t lit_len[286], dist_len[30] = {0};
  uint16_t lit_code[286], dist_code[30];
  huffman_lengths(lit_freq, 286, kMaxLiteralBits, lit_len);
  dist_len[0] = 1;  // only distance 1 is used: one code of one bit (RFC 1951 3.2.7)
  canonical_codes(lit_len, 286, lit_code);
  canonical_codes(dist_len, 30, dist_code);
  Code lit[286];
  for (int k = 0; k < 286; ++k) lit[k] = make_code(lit_code[k], lit_len[k]);

  // 3. Bits. At most 15 bits a literal, 21 a match, plus header and slack.
  const size_t bound = size * 2 + 1024;
  if (bits_out_size_ < bound) {
    bits_out_.reset(new uint8_t[bound]);
    bits_out_size_ = bound;
  }
  Bits w{bits_, nbits_, bits_out_.get()};
  write_dynamic_header(w, final, lit_len, dist_len);
  // 4. A stored block where the codes would not save a byte (bytes all
  // about equally frequent, as in random data; filtered noise images are
  // usually a few percent compressible and stay coded): its exact size in
  // bits against the block's (header, symbols, extra bits), as zlib
  // decides. The raw bytes are then copied instead of coded.
  if (size >= kMinStored) {
    uint64_t coded = static_cast<uint64_t>(w.p - bits_out_.get()) * 8 + w.n - nbits_;
    for (int k = 0; k < 286; ++k) coded += uint64_t{lit_freq[k]} * lit_len[k];
    for (const Match& m : matches_) coded += lengths_of[m.length].extra_bits + dist_len[0];
    const uint64_t stored = 3 + 7 + 32 + uint64_t{8} * size;  // header, padding at most, LEN, NLEN
    if (stored <= coded) {
      deflate_detail::write_stored_block(bits_, nbits_, final, data, size, out);
      return;
    }
  }
  size_t pos = 0;
  for (const Match& m : matches_) {
    emit_literals(data + pos, m.position - pos, lit, w);
    const LengthCode& c = lengths_of[m.length];
    const Code sym = lit[c.symbol];
    const int sym_length = static_cast<int>(code_length(sym));
    // symbol, extra bits, then the distance code (1 bit): <= 21 bits.
    w.put(code_bits(sym) | (uint64_t{c.extra_value} << sym_length) |
              (uint64_t{dist_code[0]} << (sym_length + c.extra_bits)),
          sym_length + c.extra_bits + dist_len[0]);
    pos = m.position + m.length;
  }
  emit_literals(data + pos, size - pos, lit, w);
  w.put(code_bits(lit[256]), static_cast<int>(code_length(lit[256])));
  bits_ = w.acc;
  nbits_ = w.n;
  out.insert(out.end(), bits_out_.get(), w.p);
}

}  // namespace torchimage
