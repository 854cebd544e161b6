// torchimage's LZ77 deflate. Written from RFC 1951; see deflate_lz.h.
#include "codecs/png/deflate_lz.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "codecs/png/deflate_bits.h"
#include "codecs/png/deflate_rle.h"  // huffman_lengths, canonical_codes

namespace torchimage {
namespace {

using namespace deflate_detail;

// Matches reach back at most this far (deflate's window is 32768; one less
// keeps a position's chain slot from being the one being written).
constexpr size_t kMaxDistance = 32767;
constexpr size_t kMinMatch = 3;
constexpr size_t kMaxMatch = 258;
// A 3-byte match farther than this costs more than its three literals.
constexpr size_t kFarThree = 4096;
// Symbols (literals and matches) per block: each block gets its own codes.
constexpr size_t kBlockSymbols = size_t{1} << 15;

inline uint32_t load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Length of the common prefix of a and b, at most `max`.
inline size_t match_length(const uint8_t* a, const uint8_t* b, size_t max) {
  size_t n = 0;
  while (n + 8 <= max) {
    uint64_t x, y;
    std::memcpy(&x, a + n, 8);
    std::memcpy(&y, b + n, 8);
    if (x != y) return n + static_cast<size_t>(__builtin_ctzll(x ^ y) >> 3);
    n += 8;
  }
  while (n < max && a[n] == b[n]) ++n;
  return n;
}

// Distance 1..32768 to its symbol (0..29), extra bits and their value.
inline void distance_code(uint32_t distance, uint32_t* symbol, uint32_t* extra_bits,
                          uint32_t* extra_value) {
  const uint32_t v = distance - 1;
  if (v < 4) {
    *symbol = v, *extra_bits = 0, *extra_value = 0;
    return;
  }
  const uint32_t top = 31u - static_cast<uint32_t>(__builtin_clz(v));  // >= 2
  *symbol = 2 * top + ((v >> (top - 1)) & 1);
  *extra_bits = top - 1;
  *extra_value = v & ((1u << (top - 1)) - 1);
}

inline int ceil_log2(size_t n) {
  int b = 0;
  while ((size_t{1} << b) < n) ++b;
  return b;
}

// The shortest match worth taking where the data uses few distinct byte
// values: there literals are cheap, and a short match (a length and a
// distance code, with extra bits) costs more than the literals it replaces.
// From the count of distinct values in a sample; a short chain walk finds
// long matches less often, so it caps the answer.
size_t min_match_length(const uint8_t* data, size_t size, int max_chain) {
  bool used[256] = {false};
  for (size_t i = 0; i < size; ++i) used[data[i]] = true;
  int distinct = 0;
  for (bool u : used) distinct += u;
  size_t len = distinct <= 8 ? 8 : distinct <= 16 ? 6 : distinct <= 44 ? 5 : distinct <= 80 ? 4 : 3;
  if (max_chain < 5) len = std::min<size_t>(len, 4);
  else if (max_chain < 10) len = std::min<size_t>(len, 5);
  else if (max_chain < 16) len = std::min<size_t>(len, 7);
  return len;
}

}  // namespace

LzDeflater::~LzDeflater() {
  // The thread keeps what a usual image needs (tables of 32 Ki entries, a
  // block of 32 Ki symbols and the bits of a 1 MiB chunk: up to about
  // 3 MiB), not what a rare huge row made it grow to.
  Storage& st = *storage_;
  if (st.bits_out_size > (size_t{8} << 20)) {
    st.bits_out.reset();
    st.bits_out_size = 0;
  }
}

void LzDeflater::add(const uint8_t* base, size_t history, size_t size, std::vector<uint8_t>& out) {
  const size_t total = history + size;
  if (size == 0) return;
  // Tables sized by the input: hash heads of half as many entries as input
  // bytes (at most 32 Ki), so that a small image does not pay for clearing
  // a large table; the chain of one entry a position of the window (never
  // shorter than the window, so that a link within it is never
  // overwritten by a later position; it needs no clearing).
  const int bits = std::min(15, std::max(8, ceil_log2(total) - 1));
  const int shift = 32 - bits;
  const size_t mask = (size_t{1} << std::min(15, std::max(8, ceil_log2(total)))) - 1;
  // The 3-byte table is kept only in blocks whose matches may be 3 bytes
  // long (min_match_length): elsewhere its candidates are never taken.
  bool use3 = false;
  Storage& st = *storage_;
  st.head3.assign(size_t{1} << bits, -1);
  st.head4.assign(size_t{1} << bits, -1);
  st.head8.assign(size_t{1} << bits, -1);
  if (st.chain.size() < mask + 1) st.chain.resize(mask + 1);
  int32_t* const head3 = st.head3.data();
  int32_t* const head4 = st.head4.data();
  int32_t* const head8 = st.head8.data();
  int32_t* const chain = st.chain.data();
  // Position p enters three tables: those of 3- and 4-byte hashes keep the
  // latest position of each hash, that of 8-byte hashes chains them all
  // (newest first). Chaining long hashes keeps the walk among candidates
  // that match far: in flat content every 4-byte sequence recurs
  // everywhere, and a short walk of 4-byte candidates misses the long
  // matches that a few 8-byte ones find.
  struct Candidates { int32_t three, four, longer; };
  auto insert = [&](size_t p) {
    const uint32_t v = load32(base + p);
    uint64_t v8;
    std::memcpy(&v8, base + p, 8);
    const uint32_t h4 = (v * 0x1E35A7BDu) >> shift;
    const uint32_t h8 = static_cast<uint32_t>((v8 * 0x9E3779B97F4A7C15ull) >> (64 - bits));
    Candidates c{-1, head4[h4], head8[h8]};
    if (use3) {
      const uint32_t h3 = ((v & 0xffffffu) * 0x9E3779B1u) >> shift;
      c.three = head3[h3];
      head3[h3] = static_cast<int32_t>(p);
    }
    head4[h4] = static_cast<int32_t>(p);
    chain[p & mask] = c.longer;
    head8[h8] = static_cast<int32_t>(p);
    return c;
  };
  const int max_chain = params_.max_chain;
  const size_t nice = static_cast<size_t>(params_.nice_length);
  // The longest match at p longer than `at_least` (0 if none) and its
  // distance: the 3-byte candidate (near ones only), the 4-byte one, then
  // up to max_chain 8-byte ones.
  auto longest = [&](size_t p, Candidates c, size_t at_least, uint32_t* distance) -> size_t {
    const size_t max = std::min(kMaxMatch, total - p);
    size_t best = at_least;
    if (best >= max) return 0;
    const uint8_t* s = base + p;
    const uint32_t s4 = load32(s);
    if (best < kMinMatch && c.three >= 0 && p - static_cast<size_t>(c.three) <= kFarThree &&
        ((load32(base + c.three) ^ s4) & 0xffffffu) == 0) {
      best = match_length(base + c.three, s, max);
      *distance = static_cast<uint32_t>(p - static_cast<size_t>(c.three));
    }
    if (best < max && c.four >= 0 && p - static_cast<size_t>(c.four) <= kMaxDistance) {
      const uint8_t* m = base + c.four;
      if (m[best] == s[best] && load32(m) == s4) {
        const size_t len = match_length(m, s, max);
        if (len > best) best = len, *distance = static_cast<uint32_t>(p - c.four);
      }
    }
    int32_t q = c.longer;
    for (int depth = max_chain; q >= 0 && depth > 0 && best < nice && best < max; --depth) {
      const size_t d = p - static_cast<size_t>(q);
      if (d > kMaxDistance) break;
      const uint8_t* m = base + q;
      if (m[best] == s[best] && load32(m) == s4) {
        const size_t len = match_length(m, s, max);
        if (len > best) best = len, *distance = static_cast<uint32_t>(d);
      }
      q = chain[static_cast<size_t>(q) & mask];
    }
    return best > at_least ? best : 0;
  };

  // Where matches may start: everywhere, or (pixel_aligned) at the first
  // byte of a row (its filter type) or of a pixel, in rows of `stride`
  // bytes. Image content repeats in whole pixels; the positions between
  // them mostly add candidates that lose, and work. From a row's first
  // byte the next start is 1 byte on, from a pixel's `bpp` bytes on (the
  // last pixel's next is the next row's first byte).
  const bool aligned = params_.pixel_aligned && params_.stride > 1;
  const size_t stride = aligned ? params_.stride : 1;
  const size_t bpp = aligned ? static_cast<size_t>(std::max(1, params_.bytes_per_pixel)) : 1;
  size_t phase = 0;  // the position's place in its row
  auto step = [&](size_t& q) {
    const size_t s = phase == 0 ? 1 : bpp;
    q += s;
    phase += s;
    if (phase >= stride) phase = 0;
  };
  // A block's shortest match; the 3-byte table is kept where it is 3.
  auto set_min_length = [&](size_t at) {
    const size_t n = std::min<size_t>(total - at, 4096);
    const size_t min_length = min_match_length(base + at, n, max_chain);
    use3 = min_length <= kMinMatch;
    return min_length;
  };

  const size_t hash_end = total >= 8 ? total - 7 : 0;  // positions whose 8 bytes are readable
  // The history's last window, so that the first rows find their matches:
  // from the first match start in it (base + history starts a row).
  size_t q = history > kMaxDistance ? history - kMaxDistance : 0;
  const size_t back = (history - q) % stride;
  phase = back == 0 ? 0 : stride - back;
  if (phase != 0 && (phase - 1) % bpp != 0) {
    const size_t skip = bpp - (phase - 1) % bpp;
    q += skip;
    phase += skip;
    if (phase >= stride) phase = 0;
  }
  size_t min_length = set_min_length(history);
  for (; q < history; step(q)) {
    if (q < hash_end) insert(q);
  }
  phase = 0;
  const LengthCode* lengths = length_codes();
  // The block's symbols: matches in order (literals are the bytes between
  // them), and the histograms its codes are built from. Locals, so that the
  // table stores above cannot alias them.
  const size_t room = std::min(kBlockSymbols, size / kMinMatch + 1);
  if (st.matches_size < room) {
    st.matches.reset(new Match[room]);  // not value-initialized: written before read
    st.matches_size = room;
  }
  Match* const matches = st.matches.get();
  size_t n_matches = 0;
  uint32_t lit_freq[286] = {0}, dist_freq[30] = {0};
  size_t block_start = history, symbols = 0;
  // Literals are counted when a match or the block ends: those from
  // `literals_from` on are not yet.
  size_t literals_from = history;
  auto count_literals = [&](size_t end) {
    for (size_t k = literals_from; k < end; ++k) ++lit_freq[base[k]];
    symbols += end - literals_from;
    literals_from = end;
  };
  // Ends the block at `at` if it holds kBlockSymbols symbols.
  auto block_full = [&](size_t at) {
    if (symbols + (at - literals_from) < kBlockSymbols) return;
    count_literals(at);
    encode_block(base, block_start, at, matches, n_matches, lit_freq, dist_freq, out);
    block_start = at, symbols = 0, n_matches = 0;
    std::fill(lit_freq, lit_freq + 286, 0u);
    std::fill(dist_freq, dist_freq + 30, 0u);
    min_length = set_min_length(at);
  };
  size_t p = history;
  while (p < hash_end) {
    uint32_t distance = 0;
    const size_t length = longest(p, insert(p), min_length - 1, &distance);
    if (length == 0) {
      step(p);
      block_full(p);
      continue;
    }
    count_literals(p);
    matches[n_matches++] = {static_cast<uint32_t>(p), static_cast<uint16_t>(length),
                            static_cast<uint16_t>(distance)};
    ++lit_freq[lengths[length].symbol];
    uint32_t dsym, dbits, dval;
    distance_code(distance, &dsym, &dbits, &dval);
    ++dist_freq[dsym];
    ++symbols;
    const size_t next = p + length;
    literals_from = next;
    for (step(p); p < next; step(p)) {
      if (p < hash_end) insert(p);
    }
    block_full(p);
  }
  count_literals(total);
  encode_block(base, block_start, total, matches, n_matches, lit_freq, dist_freq, out);
}

void LzDeflater::encode_block(const uint8_t* base, size_t begin, size_t end,
                              const Match* matches, size_t n_matches, uint32_t* lit_freq,
                              const uint32_t* dist_freq, std::vector<uint8_t>& out) {
  lit_freq[256] = 1;  // end of block
  uint8_t lit_len[286], dist_len[30];
  uint16_t lit_code[286], dist_code[30];
  huffman_lengths(lit_freq, 286, kMaxLiteralBits, lit_len);
  huffman_lengths(dist_freq, 30, 15, dist_len);
  canonical_codes(lit_len, 286, lit_code);
  canonical_codes(dist_len, 30, dist_code);
  Code lit[286];
  for (int k = 0; k < 286; ++k) lit[k] = make_code(lit_code[k], lit_len[k]);
  Code dist[30];
  for (int k = 0; k < 30; ++k) dist[k] = make_code(dist_code[k], dist_len[k]);

  // At most 15 bits a literal, 47 a match, plus header and slack.
  const size_t bound = (end - begin) * 2 + n_matches * 6 + 1024;
  Storage& st = *storage_;
  if (st.bits_out_size < bound) {
    st.bits_out.reset(new uint8_t[bound]);
    st.bits_out_size = bound;
  }
  Bits w{bits_, nbits_, st.bits_out.get()};
  write_dynamic_header(w, /*final=*/false, lit_len, dist_len);
  // Each length's code with its extra bits as one code (at most 14 + 5
  // bits).
  const LengthCode* lengths = length_codes();
  Code length_code[kMaxMatch + 1];
  for (size_t l = kMinMatch; l <= kMaxMatch; ++l) {
    const LengthCode& c = lengths[l];
    const Code sym = lit[c.symbol];
    length_code[l] = make_code(static_cast<uint32_t>(code_bits(sym)) |
                                   (uint32_t{c.extra_value} << code_length(sym)),
                               code_length(sym) + c.extra_bits);
  }
  size_t pos = begin;
  for (size_t k = 0; k < n_matches; ++k) {
    const Match& m = matches[k];
    const size_t n = m.position - pos;
    if (n > 3) {
      emit_literals(base + pos, n, lit, w);
    } else if (n > 0) {
      // One to three literals (at most 42 bits) in one put: most matches
      // follow that few.
      const uint8_t* b = base + pos;
      const Code c0 = lit[b[0]];
      const Code c1 = n > 1 ? lit[b[1]] : 0;
      const Code c2 = n > 2 ? lit[b[2]] : 0;
      const uint32_t c01 = code_length(c0) + code_length(c1);
      w.put(code_bits(c0) | (code_bits(c1) << code_length(c0)) | (code_bits(c2) << c01),
            static_cast<int>(c01 + code_length(c2)));
    }
    const Code lc = length_code[m.length];
    uint32_t dsym, dbits, dval;
    distance_code(m.distance, &dsym, &dbits, &dval);
    const Code dc = dist[dsym];
    const uint32_t l1 = code_length(lc);
    // Length code and extra bits, distance code, extra bits: <= 19 + 15 + 13 bits.
    w.put(code_bits(lc) | (code_bits(dc) << l1) | (uint64_t{dval} << (l1 + code_length(dc))),
          static_cast<int>(l1 + code_length(dc) + dbits));
    pos = m.position + m.length;
  }
  emit_literals(base + pos, end - pos, lit, w);
  w.put(code_bits(lit[256]), static_cast<int>(code_length(lit[256])));
  bits_ = w.acc;
  nbits_ = w.n;
  out.insert(out.end(), st.bits_out.get(), w.p);
}

void LzDeflater::end(std::vector<uint8_t>& out, bool final) {
  if (final) {
    // An empty final block with the fixed codes: BFINAL 1, BTYPE 01, and
    // the end-of-block code (seven zero bits).
    bits_ |= uint64_t{0x3} << nbits_;
    nbits_ += 10;
  }
  flush_to_byte(bits_, nbits_, final, out);
}

namespace {

// A histogram's entropy in bits: sum of f * log2(total / f).
double entropy_bits(const uint32_t* freq, int n) {
  double total = 0, sum = 0;
  for (int i = 0; i < n; ++i) total += freq[i];
  for (int i = 0; i < n; ++i) {
    if (freq[i]) sum += freq[i] * std::log2(total / freq[i]);
  }
  return sum;
}

// The estimated cost in bits of a match's length and distance codes: a
// length symbol (about 6 bits with its extra bits) and a distance symbol
// (about 5) with its extra bits.
inline double match_bits(uint32_t distance) {
  uint32_t symbol, extra_bits, extra_value;
  distance_code(distance, &symbol, &extra_bits, &extra_value);
  return 11.0 + extra_bits;
}

// Adds the estimated sizes of `data` parsed two ways: runs only (distance 1,
// as RleDeflater), and greedy LZ77 matching (a short chain of 4-byte
// hashes, as LzDeflater), each literal at its histogram's entropy.
struct SampleCost {
  uint32_t rle_literals[256] = {0};
  uint32_t lz_literals[256] = {0};
  double rle_match_bits = 0, lz_match_bits = 0;
};

constexpr size_t kSampleWindow = 1024;  // a sample slice's size at most

void sample_parse(const uint8_t* data, size_t size, SampleCost* cost) {
  if (size < 16) return;
  for (size_t p = 0; p < size;) {
    // A byte, then its repeats: a distance-1 match where there are 3 or more.
    const uint8_t v = data[p];
    size_t q = p + 1;
    while (q < size && data[q] == v && q - p <= kMaxMatch) ++q;
    const size_t repeats = q - p - 1;
    if (repeats >= kMinMatch) {
      ++cost->rle_literals[v];
      cost->rle_match_bits += match_bits(1);
    } else {
      cost->rle_literals[v] += static_cast<uint32_t>(repeats + 1);
    }
    p = q;
  }
  constexpr int kBits = 12, kDepth = 4;
  int16_t head[1 << kBits];
  int16_t chain[kSampleWindow];
  std::fill(head, head + (1 << kBits), int16_t{-1});
  const size_t end = size - 3;
  auto insert = [&](size_t p) {
    const uint32_t h = (load32(data + p) * 0x1E35A7BDu) >> (32 - kBits);
    const int16_t c = head[h];
    chain[p & (kSampleWindow - 1)] = c;
    head[h] = static_cast<int16_t>(p);
    return c;
  };
  for (size_t p = 0; p < size;) {
    size_t best = 0;
    uint32_t distance = 0;
    if (p < end) {
      int c = insert(p);
      for (int depth = kDepth; c >= 0 && depth > 0 && p - c < kSampleWindow; --depth) {
        const size_t len = match_length(data + c, data + p, std::min(kMaxMatch, size - p));
        if (len > best) best = len, distance = static_cast<uint32_t>(p - c);
        c = chain[c & (kSampleWindow - 1)];
      }
    }
    if (best >= 4) {
      cost->lz_match_bits += match_bits(distance);
      for (size_t q = p + 1; q < std::min(p + best, end); ++q) insert(q);
      p += best;
    } else {
      ++cost->lz_literals[data[p++]];
    }
  }
}

}  // namespace

LzProbe probe_lz(const uint8_t* data, size_t size) {
  // Four slices spread over the data, 4 KiB in all at most (two, at most a
  // sixth of an input under 64 KiB: a single sample's file), placed off the
  // simple fractions where a grid's padding rows fall.
  const size_t slices = size < (size_t{64} << 10) ? 2 : 4;
  const size_t slice = std::min<size_t>(kSampleWindow, size / (3 * slices));
  if (slice < 64) return LzProbe::Runs;
  SampleCost cost;
  for (size_t k = 0; k < slices; ++k) {
    sample_parse(data + (size - slice) * (5 * k + 3) / (5 * slices), slice, &cost);
  }
  const double rle = entropy_bits(cost.rle_literals, 256) + cost.rle_match_bits;
  const double lz = entropy_bits(cost.lz_literals, 256) + cost.lz_match_bits;
  // Flat content (shapes, gradients) takes under 2 bits a byte even as runs
  // alone; its long repeats lie farther apart than a slice, and start
  // anywhere in a pixel. Measured (session 14): flat sheets 1.0-1.9 bits a
  // byte; smooth photos (crops scaled up, compare.py's 16x3x256x256 sheet)
  // 2.2-3.0, as small residuals, where the run-length engine is best (the
  // limit was 2.5 before, which sent them to the slowest path).
  const double sampled_bytes = static_cast<double>(slices * slice);
  if (rle < 2.0 * sampled_bytes) return LzProbe::Everywhere;
  return lz < 0.97 * rle ? LzProbe::Pixels : LzProbe::Runs;
}

}  // namespace torchimage
