// Structured logs: one JSON object per line on stderr, e.g.
//   {"ts":"2026-11-22T10:00:00.123Z","level":"info","msg":"serving",
//    "listen":"127.0.0.1:7070"}
// Thread safety: Log() is thread-safe (one write(2) per line).
#ifndef MVKV_SERVER_LOG_H_
#define MVKV_SERVER_LOG_H_

#include <initializer_list>
#include <string>
#include <utility>

namespace mvkv::server {

using LogField = std::pair<std::string, std::string>;

// Writes {"ts":..,"level":level,"msg":msg, fields...} (nlohmann::json).
// Values are strings; bytes that are not UTF-8 are replaced by U+FFFD.
void Log(const char* level, const std::string& msg,
         std::initializer_list<LogField> fields = {});

}  // namespace mvkv::server

#endif  // MVKV_SERVER_LOG_H_
