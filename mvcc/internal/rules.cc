// The rules every layer shares: what each isolation level does and what input
// is valid (declared in mvcc/db.h).
#include <algorithm>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "mvcc/db.h"

namespace mvkv {
namespace {

// The rows of IsolationTraits, in IsolationLevel order.
constexpr IsolationTraits kTraits[] = {
    // name            snapshot latest records validates validates
    //                                  reads   reads     writes
    {"snapshot",       true,    false,  false,  false,    true},
    {"serializable",   true,    false,  true,   true,     true},
    {"read_committed", false,   true,   false,  false,    false},
};

}  // namespace

const IsolationTraits& Traits(IsolationLevel level) {
  return kTraits[static_cast<int>(level)];
}

absl::Status ValidateKey(std::string_view key, const Limits& limits) {
  if (key.empty()) return absl::InvalidArgumentError("key is empty");
  if (key.size() > limits.max_key_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("key is ", key.size(), " bytes, over the limit of ",
                     limits.max_key_bytes, " (max_key_bytes)"));
  }
  return absl::OkStatus();
}

absl::Status ValidateValue(std::string_view value, const Limits& limits) {
  if (value.size() > limits.max_value_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("value is ", value.size(), " bytes, over the limit of ",
                     limits.max_value_bytes, " (max_value_bytes)"));
  }
  return absl::OkStatus();
}

absl::Status ValidateRange(std::string_view start, std::string_view end,
                           const Limits& limits) {
  if (start.size() > limits.max_key_bytes ||
      end.size() > limits.max_key_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "scan bound is ", std::max(start.size(), end.size()),
        " bytes, over the key limit of ", limits.max_key_bytes,
        " (max_key_bytes)"));
  }
  if (!end.empty() && end <= start) {
    return absl::InvalidArgumentError(
        "malformed range: end must be empty (to the last key) or greater "
        "than start");
  }
  return absl::OkStatus();
}

std::string SingleKeyEnd(std::string_view key) {
  std::string end(key);
  end.push_back('\0');  // the smallest key greater than `key`
  return end;
}

}  // namespace mvkv
