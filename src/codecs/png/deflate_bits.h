// Private: the pieces of a deflate block writer that torchimage's engines
// share (deflate_rle.cpp, deflate_lz.cpp): Huffman codes as words, a
// branch-free bit writer, the literal loop and the dynamic block header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/cpu_dispatch.h"

namespace torchimage {
namespace deflate_detail {

// A Huffman code as one word: its length in the low half, its bits in the
// high half. Lengths add up in the low halves of a sum without reaching the
// bits, and `x << (code & 63)` is a shift by the length, which x86 does in
// one instruction (its shifts take the count modulo 64).
using Code = uint64_t;
inline Code make_code(uint32_t bits, uint32_t length) { return (uint64_t{bits} << 32) | length; }
inline uint64_t code_bits(Code c) { return c >> 32; }
inline uint32_t code_length(Code c) { return static_cast<uint32_t>(c); }

// Literal/length codes are limited to 14 bits (deflate allows 15) so that
// four literals fit one 64-bit store in emit_literals. Only symbols rarer
// than 1 in 2^14 of a block are affected; the size change is negligible.
constexpr int kMaxLiteralBits = 14;

// A branch-free LSB-first bit writer: every put stores 8 bytes and advances
// by the whole bytes completed, so `p` needs 8 bytes of slack. At most 57
// bits a put.
struct Bits {
  uint64_t acc;
  int n;
  uint8_t* p;
  inline void put(uint64_t value, int count) {
    acc |= value << n;
    n += count;
    std::memcpy(p, &acc, 8);
    p += n >> 3;
    acc >>= n & ~7;
    n &= 7;
  }
};

// Literal codes (lit[byte]) for n bytes.
void emit_literals(const uint8_t* data, size_t n, const Code* lit, Bits& w);

// The header of a dynamic-Huffman block (BFINAL, BTYPE 2, the code lengths of
// both alphabets, run-length coded): `lit_len` has 286 entries, `dist_len` 30.
void write_dynamic_header(Bits& w, bool final, const uint8_t* lit_len, const uint8_t* dist_len);

// Writes the bits not yet written (`nbits` of `bits`, LSB first) to `out`
// padded to a byte, and clears them. Unless `final`, first an empty stored
// block (BFINAL 0, BTYPE 00, LEN 0, NLEN ~0), which ends the stream part on
// a byte boundary so that independently deflated parts join.
void flush_to_byte(uint64_t& bits, int& nbits, bool final, std::vector<uint8_t>& out);

// After the pending bits (`nbits` of `bits`), a stored (uncompressed) block
// of data[0, size), size < 65536, BFINAL set if `final`; clears the bits.
void write_stored_block(uint64_t& bits, int& nbits, bool final, const uint8_t* data, size_t size,
                        std::vector<uint8_t>& out);

// Adler-32 (zlib's checksum; 1 for no data) continued over `data`.
uint32_t adler32_update(uint32_t adler, const uint8_t* data, size_t size);

// Match length 3..258 to its symbol (257..285) and extra bits.
struct LengthCode {
  uint16_t symbol;
  uint8_t extra_bits;
  uint8_t extra_value;
};
const LengthCode* length_codes();  // indexed by length, 0..258

}  // namespace deflate_detail
}  // namespace torchimage
