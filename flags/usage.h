// Usage text for the project's absl-flags binaries (mvkv_server, mvkv_load,
// ycsb and the benchmarks).
//
// Abseil's --help lists only the flags of a file named after the binary
// (`<program>.cc`, `<program>_main.cc`); a binary whose flags live in
// `main.cc`, `load_tool.cc` or a second file printed "No flags matched".
// SetUsage() makes --help, --helpshort and --helppackage list every flag the
// program itself defines, wherever it is defined, and leaves out Abseil's own
// (--flagfile, --fromenv, ...; --helpfull still shows those).
//
// Thread safety: call SetUsage() once from main(), before
// absl::ParseCommandLine() and before any other thread starts.
#ifndef MVKV_FLAGS_USAGE_H_
#define MVKV_FLAGS_USAGE_H_

#include "absl/strings/string_view.h"

namespace mvkv::flags {

// Sets `usage` as the program usage message (absl::SetProgramUsageMessage)
// and the help filters described above.
// REQUIRES: called at most once per process (Abseil's rule for the usage
// message).
void SetUsage(absl::string_view usage);

// True if a flag defined in `filename` (the path Abseil records for it, e.g.
// "server/main.cc" or "./absl/flags/parse.cc") belongs to the program, that
// is, is not defined inside Abseil.
bool IsProgramFlagFile(absl::string_view filename);

}  // namespace mvkv::flags

#endif  // MVKV_FLAGS_USAGE_H_
