#include "bench/ycsb/stall_spec.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace mvkv::ycsb {
namespace {

constexpr const char* kGrammar =
    "want reclaim:K@T, txn:K@T, thread:K@T[+D][:busy|name=GLOB|random[=SEED]] "
    "or server-reclaim:K@T[+D]; T and D in s or ms";

absl::Status Bad(const std::string& text, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("bad --stall '", text, "': ", why, " (", kGrammar, ")"));
}

// "2", "2s", "0.3s", "300ms" -> seconds; false if malformed or negative.
bool ParseSeconds(absl::string_view t, double* out) {
  double scale = 1;
  if (absl::ConsumeSuffix(&t, "ms")) scale = 1e-3;
  else absl::ConsumeSuffix(&t, "s");
  if (t.empty() || !absl::SimpleAtod(t, out) || !(*out >= 0)) return false;
  *out *= scale;
  return true;
}

absl::Status ParseSelector(const std::string& text, absl::string_view v,
                           ThreadSelector* s) {
  if (v == "busy") {
    s->kind = ThreadSelector::kBusiest;
  } else if (absl::ConsumePrefix(&v, "name=")) {
    if (v.empty()) return Bad(text, "name= needs a pattern");
    s->kind = ThreadSelector::kName;
    s->pattern = std::string(v);
  } else if (v == "random") {
    s->kind = ThreadSelector::kRandom;
  } else if (absl::ConsumePrefix(&v, "random=")) {
    s->kind = ThreadSelector::kRandom;
    s->seed_given = true;
    if (!absl::SimpleAtoi(v, &s->seed)) return Bad(text, "random= needs an integer seed");
  } else {
    return Bad(text, absl::StrCat("unknown thread selector '", v, "'"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Stall> ParseStall(const std::string& text) {
  Stall s;
  s.text = text;
  absl::string_view v(text);
  if (absl::ConsumePrefix(&v, "reclaim:")) s.kind = Stall::kReclaim;
  else if (absl::ConsumePrefix(&v, "txn:")) s.kind = Stall::kTxn;
  else if (absl::ConsumePrefix(&v, "thread:")) s.kind = Stall::kThread;
  else if (absl::ConsumePrefix(&v, "server-reclaim:")) s.kind = Stall::kServerReclaim;
  else return Bad(text, "unknown kind");
  absl::string_view select;
  if (const size_t colon = v.find(':'); colon != absl::string_view::npos) {
    select = v.substr(colon + 1);
    v = v.substr(0, colon);
    if (s.kind != Stall::kThread) return Bad(text, "only thread: takes a selector");
    if (absl::Status st = ParseSelector(text, select, &s.select); !st.ok()) return st;
  }
  absl::string_view count = v, at = "0", duration;
  if (const size_t a = v.find('@'); a != absl::string_view::npos) {
    count = v.substr(0, a);
    at = v.substr(a + 1);
    if (const size_t plus = at.find('+'); plus != absl::string_view::npos) {
      duration = at.substr(plus + 1);
      at = at.substr(0, plus);
      if (!ParseSeconds(duration, &s.duration_s) || s.duration_s <= 0) {
        return Bad(text, absl::StrCat("D must be a positive duration, got '", duration, "'"));
      }
    }
  }
  if (!absl::SimpleAtoi(count, &s.count) || s.count < 1) {
    return Bad(text, absl::StrCat("K must be a whole number >= 1, got '", count, "'"));
  }
  if (!ParseSeconds(at, &s.at_s)) {
    return Bad(text, absl::StrCat("T must be a duration >= 0, got '", at, "'"));
  }
  return s;
}

}  // namespace mvkv::ycsb
