#include "runtime/failures.h"

#include <c10/util/Exception.h>

namespace torchimage {

std::string message_of(const std::exception& e) {
  if (const auto* c10e = dynamic_cast<const c10::Error*>(&e)) return c10e->what_without_backtrace();
  return e.what();
}

std::string failure_of(const std::string& path, const std::string& message) {
  if (message.find("'" + path + "'") != std::string::npos) return message;
  return c10::str("'", path, "': ", message);
}

std::string failure_summary(const std::string& what, const std::vector<std::string>& failures,
                            const std::string& unit) {
  if (failures.size() == 1) return c10::str(what, ": 1 ", unit, " failed: ", failures[0]);
  std::string s = c10::str(what, ": ", failures.size(), " ", unit, "s failed: ", failures[0]);
  for (size_t i = 1; i < failures.size() && i < 5; ++i) s += "; " + failures[i];
  if (failures.size() > 5) s += c10::str("; and ", failures.size() - 5, " more");
  return s;
}

}  // namespace torchimage
