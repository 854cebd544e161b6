#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

#include <torchimage/export.h>
#include <torchimage/save_image.h>

namespace torchimage {

/// Index patterns: the file name pattern of `save_images` (and of
/// `ImageWriter::save_images`, the CLI's `save-each`, Python's `save_images`),
/// the one definition of their grammar, a subset of Python's str.format:
///
///   pattern     := { text | "{{" | "}}" | placeholder }
///   placeholder := "{index" [ ":" width ] "}"
///   width       := [ "0" ] digits [ "d" ]      (a number of digits, 0-255)
///
/// - `{index}` becomes the sample's number (`start_index + i`) in decimal.
/// - `{index:05}` becomes it zero-padded to at least 5 digits (`{index:5}` and
///   `{index:05d}` mean the same: torchimage always pads with zeros, never
///   with spaces); a longer number is written whole.
/// - A pattern may hold several placeholders (`{index}/{index:03}.png`); each
///   becomes the same number.
/// - `{{` and `}}` are literal braces; every other character is kept as is
///   (paths are bytes: any encoding passes through).
/// - Errors (c10::Error naming the pattern, before any file is written):
///   a `{` without its `}` ("unclosed placeholder"), a `}` alone ("unmatched
///   '}'"), a field other than `index` (`{idx}`, `{}`, `{epoch}`: "unknown
///   field"), a width that is not digits (`{index:-5}`, `{index:x}`, `{index:}`:
///   "bad placeholder"), wider than a file name holds (255), and, when there
///   is more than one image, a pattern without a placeholder.
///
/// The path of sample `index` in a pattern, by the grammar above. A pattern
/// without a placeholder is an error when `count` > 1.
TORCHIMAGE_API std::string format_index_path(const std::string& pattern, int64_t index,
                                             int64_t count = 2);

/// Checks, before anything is written, that `pattern` names `count` files
/// from `start_index` on: a placeholder when count > 1, no NUL byte, indices
/// that do not pass INT64_MAX, file names a file system can hold (255
/// bytes). Returns the last file's path. `what` starts each message.
TORCHIMAGE_API std::string check_index_pattern(const std::string& pattern, int64_t start_index,
                                               int64_t count, const char* what = "save_images");

/// One file per sample of a (B, C, H, W) batch or a list of images: file i is what
/// `save_image(batch[i], path_i, options)` writes, path_i the pattern with
/// `start_index + i`. Encoding runs on `threads` workers (0: the hardware's).
/// All files are attempted; then the first failure is thrown, naming its path
/// and how many failed.
/// Example: `save_images(x, "fid/{index:05}.png", SaveImageOptions().normalize(true).value_range({-1.0, 1.0}))`
TORCHIMAGE_API void save_images(const torch::Tensor& batch, const std::string& pattern,
                                const SaveImageOptions& options = {}, int64_t start_index = 0,
                                int threads = 0);
TORCHIMAGE_API void save_images(const std::vector<torch::Tensor>& images,
                                const std::string& pattern, const SaveImageOptions& options = {},
                                int64_t start_index = 0, int threads = 0);

}  // namespace torchimage
