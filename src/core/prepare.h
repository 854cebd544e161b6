// Private: the first stage of every face. What no later stage can read is
// refused here, with a message naming the call; what reads a tensor's
// memory directly reads it through readable().
#pragma once

#include <ATen/ATen.h>

namespace torchimage {

// Refuses a tensor that holds no plain values: sparse (any sparse layout),
// MKL-DNN, quantized, nested, or on the meta device. A c10::Error starting
// with `what` (the function the user called) that says what to do instead.
// An undefined tensor passes (the callers say "undefined" themselves).
void check_tensor_kind(const at::Tensor& t, const char* what);

// `t` with its values in its memory: a negative view (z.conj().imag,
// torch._neg_view) or a conjugate one holds -x or conj(x) with a flag that
// ATen's operators honour and data_ptr() does not; it is copied with the
// flag resolved. Any other tensor is returned as it is, without a copy.
at::Tensor readable(const at::Tensor& t);

// Whether `t`'s memory holds its values (no negative or conjugate flag).
inline bool memory_is_values(const at::Tensor& t) { return !t.is_neg() && !t.is_conj(); }

}  // namespace torchimage
