// The `mvkv batch` command (client/mvkv.cc): a file of autocommit
// operations, one per line (get KEY | put KEY VALUE | del KEY; blank lines
// and lines starting with # skipped), sent in Batch calls of up to
// `batch_ops` operations or on one Pipeline stream, with one result per
// operation printed in file order.
//
// Thread safety: plain functions; RunBatch uses `client` from the calling
// thread (and the Pipeline's callbacks).
#ifndef MVKV_CLIENT_CLI_BATCH_H_
#define MVKV_CLIENT_CLI_BATCH_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/client.h"

namespace mvkv::client {

// InvalidArgument naming the line for an unknown verb (scans and commits
// are not autocommit operations) or a wrong number of arguments.
absl::StatusOr<std::vector<Op>> ParseBatch(const std::string& text);

struct BatchRun {
  bool pipeline = false;  // one Pipeline stream instead of Batch calls
  int batch_ops = 256;    // operations per Batch call
  bool json = false;
};

// Runs `ops` and appends what to print to `out`: per operation, in order,
// the value ("(not found)" for a missing key), "OK commit_ts=N",
// "deleted commit_ts=N" / "not found", or "ERROR CODE: message"; with json
// one line {"results":[...]}. Returns a failure of the calls themselves
// (connection, a batch refused as a whole); *first_error gets the first
// failed operation's status (OK if none; a missing key is no failure).
absl::Status RunBatch(Client& client, const std::vector<Op>& ops,
                      const BatchRun& run, std::vector<std::string>* out,
                      absl::Status* first_error);

}  // namespace mvkv::client

#endif  // MVKV_CLIENT_CLI_BATCH_H_
