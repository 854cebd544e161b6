#include "summary/crc32c.h"

#include <array>
#include <climits>

#ifdef TORCHIMAGE_HAVE_ISAL
#include <isa-l/crc.h>
#endif

namespace torchimage {
namespace {

constexpr uint32_t kPolyReflected = 0x82F63B78u;

// table[k][b]: the CRC register after byte b followed by k zero bytes.
struct Tables {
  std::array<std::array<uint32_t, 256>, 8> t{};
  Tables() {
    for (uint32_t b = 0; b < 256; ++b) {
      uint32_t c = b;
      for (int i = 0; i < 8; ++i) c = (c >> 1) ^ ((c & 1u) ? kPolyReflected : 0u);
      t[0][b] = c;
    }
    for (uint32_t b = 0; b < 256; ++b) {
      for (size_t k = 1; k < 8; ++k) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xFFu];
    }
  }
};

const Tables& tables() {
  static const Tables instance;
  return instance;
}

}  // namespace

uint32_t crc32c_table(const uint8_t* p, size_t n) {
  const auto& t = tables().t;
  uint32_t c = 0xFFFFFFFFu;
  while (n >= 8) {
    // Little-endian words, assembled byte by byte (any alignment, any host).
    const uint32_t lo = c ^ (uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 |
                             uint32_t{p[3]} << 24);
    c = t[7][lo & 0xFFu] ^ t[6][(lo >> 8) & 0xFFu] ^ t[5][(lo >> 16) & 0xFFu] ^ t[4][lo >> 24] ^
        t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) c = (c >> 8) ^ t[0][(c ^ *p++) & 0xFFu];
  return c ^ 0xFFFFFFFFu;
}

uint32_t crc32c(const uint8_t* p, size_t n) {
#ifdef TORCHIMAGE_HAVE_ISAL
  // crc32_iscsi takes the register as is (no pre- or post-inversion) and an
  // int length: the standard CRC is the inverted register, fed in pieces.
  uint32_t c = 0xFFFFFFFFu;
  while (n > 0) {
    const size_t piece = n < (size_t{1} << 30) ? n : (size_t{1} << 30);
    c = crc32_iscsi(const_cast<uint8_t*>(p), static_cast<int>(piece), c);
    p += piece;
    n -= piece;
  }
  return c ^ 0xFFFFFFFFu;
#else
  return crc32c_table(p, n);
#endif
}

bool crc32c_uses_isal() {
#ifdef TORCHIMAGE_HAVE_ISAL
  return true;
#else
  return false;
#endif
}

}  // namespace torchimage
