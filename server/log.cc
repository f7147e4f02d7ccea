#include "server/log.h"

#include <unistd.h>

#include <cstdio>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace mvkv::server {

std::string JsonQuote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

void Log(const char* level, const std::string& msg,
         std::initializer_list<LogField> fields) {
  std::string line = "{\"ts\":\"";
  line += absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(),
                           absl::UTCTimeZone());
  line += "\",\"level\":";
  line += JsonQuote(level);
  line += ",\"msg\":";
  line += JsonQuote(msg);
  for (const auto& [k, v] : fields) {
    line += ",";
    line += JsonQuote(k);
    line += ":";
    line += JsonQuote(v);
  }
  line += "}\n";
  // One write per line so concurrent lines never interleave.
  ssize_t unused = ::write(STDERR_FILENO, line.data(), line.size());
  (void)unused;
}

}  // namespace mvkv::server
