// The mvkv client library: a synchronous C++ API over the mvkv.v1.KV gRPC
// stubs (proto/kv.proto is the contract; every status code below is the
// server's, mapped one to one from grpc::Status to absl::Status).
//
//   mvkv::client::ClientOptions options;
//   options.server = "127.0.0.1:7070";
//   auto client = mvkv::client::Client::Connect(options).value();
//   client->Put("alice", "100");
//   absl::Status s = client->Transact([](mvkv::client::Transaction& txn) {
//     auto a = txn.Get("alice");
//     if (!a.ok()) return a.status();
//     return txn.Put("bob", a->value);
//   });
//
// Every unary call carries a deadline (ClientOptions::timeout); connection
// problems and a server that is shutting down are UNAVAILABLE, a passed
// deadline DEADLINE_EXCEEDED.
//
// Thread safety: Client is thread-safe (calls may run concurrently; they
// share one channel). A Transaction is used by one thread at a time.
#ifndef MVKV_CLIENT_CLIENT_H_
#define MVKV_CLIENT_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/kv.grpc.pb.h"
#include "proto/kv.pb.h"

namespace grpc {
class Channel;
class ClientContext;
}  // namespace grpc

namespace mvkv::client {

struct ClientOptions {
  // HOST:PORT of mvkv_server.
  std::string server = "127.0.0.1:7070";
  // Bearer token sent as "authorization: Bearer <token>"; empty = none.
  std::string token;
  // PEM file of the CA that signed the server's certificate; non-empty turns
  // TLS on. tls_server_name overrides the name checked against the
  // certificate (default: the host of `server`).
  std::string tls_ca_file;
  std::string tls_server_name;
  // Deadline of each unary call and of each Transaction as a whole.
  absl::Duration timeout = absl::Seconds(10);
  absl::Duration txn_timeout = absl::Seconds(60);
};

struct Kv {
  std::string key;
  std::string value;
  uint64_t commit_ts = 0;  // 0 for a transaction's own uncommitted write
};

struct ScanResult {
  std::vector<Kv> kvs;
  uint64_t snapshot_ts = 0;
  bool more = false;  // the limit cut the range short
};

struct DeleteResult {
  bool existed = false;
  uint64_t commit_ts = 0;  // 0 when nothing existed
};

// absl::Status <-> grpc::Status, code for code.
absl::Status FromGrpc(const grpc::Status& status);

// An interactive transaction on one Session stream: lives as long as this
// object. Destroying it (or a lost connection) rolls it back on the server.
// Codes: those of SessionRequest in proto/kv.proto; a broken stream is
// UNAVAILABLE (or the stream's final status).
class Transaction final {
 public:
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  // NOT_FOUND for a missing key.
  absl::StatusOr<Kv> Get(const std::string& key);
  absl::Status Put(const std::string& key, const std::string& value);
  absl::Status Delete(const std::string& key);
  absl::StatusOr<ScanResult> Scan(const std::string& start,
                                  const std::string& end, uint32_t limit = 0);
  // Returns the commit timestamp (0 if nothing was written). ABORTED on a
  // conflict. Ends the transaction either way.
  absl::StatusOr<uint64_t> Commit();
  absl::Status Rollback();

  uint64_t id() const { return id_; }
  uint64_t snapshot_ts() const { return snapshot_ts_; }

 private:
  friend class Client;
  struct Stream;
  explicit Transaction(std::unique_ptr<Stream> stream);
  // Sends one request, reads its response, maps its code.
  absl::StatusOr<v1::SessionResponse> Call(const v1::SessionRequest& request);

  std::unique_ptr<Stream> stream_;
  uint64_t id_ = 0;
  uint64_t snapshot_ts_ = 0;
};

class Client final {
 public:
  // Creates the channel (no I/O yet: errors show on the first call).
  // InvalidArgument for an unreadable tls_ca_file or an empty server.
  static absl::StatusOr<std::unique_ptr<Client>> Connect(
      const ClientOptions& options);

  // Autocommit calls. NOT_FOUND for a missing key (Get).
  absl::StatusOr<Kv> Get(const std::string& key);
  // Returns the commit timestamp.
  absl::StatusOr<uint64_t> Put(const std::string& key,
                               const std::string& value);
  absl::StatusOr<DeleteResult> Delete(const std::string& key);
  // Collects the whole streamed scan (limit 0 = no limit).
  absl::StatusOr<ScanResult> Scan(const std::string& start,
                                  const std::string& end, uint32_t limit = 0);
  absl::StatusOr<v1::TxnResponse> Txn(const v1::TxnRequest& request);
  absl::StatusOr<v1::StatsResponse> Stats();
  // OK if the server answers the standard health check with SERVING;
  // UNAVAILABLE with the state otherwise.
  absl::Status Health();

  // Opens an interactive transaction (a Session stream plus Begin).
  absl::StatusOr<std::unique_ptr<Transaction>> Begin(
      v1::Isolation isolation = v1::SNAPSHOT);

  struct TransactOptions {
    v1::Isolation isolation = v1::SNAPSHOT;
    int max_attempts = 10;  // >= 1
    absl::Duration initial_backoff = absl::Milliseconds(1);
    absl::Duration max_backoff = absl::Milliseconds(100);
  };
  // Runs fn in a new interactive transaction and commits it; on ABORTED
  // (from fn or from Commit) starts over, up to max_attempts times with
  // jittered exponential back-off. Any other error from fn rolls back and
  // is returned. Returns the last ABORTED when attempts run out.
  absl::Status Transact(const std::function<absl::Status(Transaction&)>& fn,
                        const TransactOptions& options);
  absl::Status Transact(const std::function<absl::Status(Transaction&)>& fn) {
    return Transact(fn, TransactOptions());
  }

  // The raw stub, for calls without a wrapper (the handle RPCs). Use
  // PrepareContext() to give them the token and deadline.
  v1::KV::Stub* stub() { return stub_.get(); }
  void PrepareContext(grpc::ClientContext* context,
                      absl::Duration timeout) const;

 private:
  explicit Client(const ClientOptions& options,
                  std::shared_ptr<grpc::Channel> channel);

  const ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::KV::Stub> stub_;
};

}  // namespace mvkv::client

#endif  // MVKV_CLIENT_CLIENT_H_
