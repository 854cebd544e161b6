// Private: CRC-32C (Castagnoli, the iSCSI polynomial 0x1EDC6F41, reflected
// 0x82F63B78), the checksum of TFRecord framing, and TensorFlow's "masked"
// form of it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace torchimage {

// CRC-32C of `size` bytes: ISA-L's crc32_iscsi where the build has ISA-L
// (TORCHIMAGE_HAVE_ISAL), else crc32c_table.
uint32_t crc32c(const uint8_t* data, size_t size);

// The same CRC from torchimage's own slicing-by-8 table (always compiled, so
// that the tests check both).
uint32_t crc32c_table(const uint8_t* data, size_t size);

// Whether crc32c uses ISA-L.
bool crc32c_uses_isal();

// TFRecord's masked CRC: rotated right by 15 bits plus 0xa282ead8, so that
// a CRC stored inside checksummed data does not checksum to a fixed value.
inline uint32_t mask_crc32c(uint32_t crc) {
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

}  // namespace torchimage
