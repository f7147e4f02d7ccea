#include "server/log.h"

#include <unistd.h>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace mvkv::server {

void Log(const char* level, const std::string& msg,
         std::initializer_list<LogField> fields) {
  nlohmann::ordered_json line = {
      {"ts", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(),
                              absl::UTCTimeZone())},
      {"level", level},
      {"msg", msg}};
  for (const auto& [k, v] : fields) line[k] = v;
  // Invalid UTF-8 (a key in an error message, say) is replaced, not thrown.
  std::string text = line.dump(-1, ' ', /*ensure_ascii=*/true,
                               nlohmann::json::error_handler_t::replace);
  text += '\n';
  // One write per line so concurrent lines never interleave.
  ssize_t unused = ::write(STDERR_FILENO, text.data(), text.size());
  (void)unused;
}

}  // namespace mvkv::server
