#include "flags/usage.h"

#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"

namespace mvkv::flags {

bool IsProgramFlagFile(absl::string_view filename) {
  return !absl::StartsWith(filename, "absl/") &&
         !absl::StartsWith(filename, "./absl/") &&
         !absl::StrContains(filename, "/absl/");
}

void SetUsage(absl::string_view usage) {
  absl::SetProgramUsageMessage(usage);
  absl::FlagsUsageConfig config;
  config.contains_helpshort_flags = &IsProgramFlagFile;
  config.contains_help_flags = &IsProgramFlagFile;
  config.contains_helppackage_flags = &IsProgramFlagFile;
  absl::SetFlagsUsageConfig(config);
}

}  // namespace mvkv::flags
