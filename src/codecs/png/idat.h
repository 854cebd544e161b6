// Private: PNG's deflate engines, one file each. Each filters the rows of
// `pixels` with the encoding's filter strategy and appends the zlib stream to
// `out` as IDAT chunks (the signature and IHDR are already there).
//   idat_zlib.cpp:       zlib with Pillow's settings and chunking (compression_level 0-9)
//   idat_default.cpp:    torchimage's engines, the default: run-length (deflate_rle.h)
//                        or LZ77 (deflate_lz.h), picked per part by a probe
//   idat_isal.cpp:       ISA-L's igzip, levels 0-3 (the benchmarks compare it)
#pragma once

#include "codecs/png/png_encoder.h"

namespace torchimage {

void write_idat_zlib(const PixelView& pixels, const PngEncoding& encoding, Bytes& out);
void write_idat_default(const PixelView& pixels, const PngEncoding& encoding, Bytes& out);
void write_idat_isal(const PixelView& pixels, const PngEncoding& encoding, Bytes& out);

// Room for the compressed form of `raw` filtered bytes: reserved, not
// touched, so it costs address space only (pages become resident as they are
// written); growing a vector instead would copy, touching twice the size.
// Incompressible rows take at most a few hundred bytes a 32 KiB block more
// than their size.
inline size_t deflate_bound(size_t raw) { return raw + raw / 64 + 4096; }

}  // namespace torchimage
