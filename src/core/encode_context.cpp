#include "core/encode_context.h"

#include "core/cpu_dispatch.h"

namespace torchimage {
namespace {
thread_local int serial_scopes = 0;
}  // namespace

SerialEncodingScope::SerialEncodingScope() { ++serial_scopes; }
SerialEncodingScope::~SerialEncodingScope() { --serial_scopes; }

bool encoder_may_use_threads() { return serial_scopes == 0 && hardware_threads() > 1; }

}  // namespace torchimage
