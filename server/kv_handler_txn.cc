// KvHandler's operations on open transactions: the shared entry
// operations, transaction handles (unary, with a lease) and interactive
// sessions (one per stream). See kv_handler.h.
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/kv_handler.h"
#include "server/kv_handler_internal.h"

namespace mvkv::server {

using handler_internal::Await;
using handler_internal::AwaitReply;
using handler_internal::ReadOne;

namespace {

absl::Status FinishedStatus(const char* verb, uint64_t id) {
  return absl::FailedPreconditionError(
      absl::StrCat("transaction ", id, " already ", verb));
}

// REQUIRES: entry locked. OK if its transaction may be used now; else why
// not: its fate once finished, or FailedPrecondition while it commits.
absl::Status Usable(TxnTable::Entry& entry) {
  if (entry.txn() == nullptr) return entry.fate();
  if (entry.committing()) {
    return absl::FailedPreconditionError(
        absl::StrCat("transaction ", entry.id(), ": commit in progress"));
  }
  return absl::OkStatus();
}

// `status` if it is an error, else an empty Response.
template <class Response>
absl::StatusOr<Response> WithEmptyResponse(const absl::Status& status) {
  if (!status.ok()) return status;
  return Response();
}

uint32_t LeaseMs(const TxnTable& txns) {
  return static_cast<uint32_t>(absl::ToInt64Milliseconds(txns.lease()));
}

// A session reply for `status` (an error) with no payload.
v1::SessionResponse ErrorResponse(const absl::Status& status) {
  v1::SessionResponse response;
  response.set_code(static_cast<int32_t>(status.code()));
  response.set_message(std::string(status.message()));
  return response;
}

}  // namespace

// ---- Operations on an open transaction (sessions and handles). ----

absl::StatusOr<v1::GetResponse> KvHandler::EntryGet(TxnTable::Entry& entry,
                                                    const std::string& key) {
  if (absl::Status s = ValidateKey(key); !s.ok()) return s;
  auto lock = entry.Lock();
  if (absl::Status s = Usable(entry); !s.ok()) return s;
  auto kv = ReadOne(*entry.txn(), key);
  if (!kv.ok()) return kv.status();
  v1::GetResponse response;
  *response.mutable_kv() = std::move(*kv);
  response.set_snapshot_ts(entry.txn()->snapshot_ts());
  return response;
}

absl::Status KvHandler::EntryPut(TxnTable::Entry& entry, const std::string& key,
                                 const std::string& value) {
  if (absl::Status s = ValidateKey(key); !s.ok()) return s;
  if (absl::Status s = ValidateValue(value); !s.ok()) return s;
  auto lock = entry.Lock();
  if (absl::Status s = Usable(entry); !s.ok()) return s;
  return entry.txn()->Put(key, value);
}

absl::Status KvHandler::EntryDelete(TxnTable::Entry& entry,
                                    const std::string& key) {
  if (absl::Status s = ValidateKey(key); !s.ok()) return s;
  auto lock = entry.Lock();
  if (absl::Status s = Usable(entry); !s.ok()) return s;
  return entry.txn()->Delete(key);
}

absl::StatusOr<v1::ScanResponse> KvHandler::EntryScan(TxnTable::Entry& entry,
                                                      const std::string& start,
                                                      const std::string& end,
                                                      uint32_t limit) {
  if (absl::Status s = ValidateRange(start, end); !s.ok()) return s;
  auto lock = entry.Lock();
  if (absl::Status s = Usable(entry); !s.ok()) return s;
  return ScanPage(*entry.txn(), start, end, limit);
}

void KvHandler::EntryCommitAsync(std::shared_ptr<TxnTable::Entry> entry,
                                 Reply<v1::CommitResponse> reply) {
  mvkv::Txn* txn = nullptr;
  {
    auto lock = entry->Lock();
    if (absl::Status s = Usable(*entry); !s.ok()) {
      lock.unlock();
      return std::move(reply)(s);
    }
    entry->BeginCommit();
    txn = entry->txn();
  }
  // Outside the lock: `reply` may run inline, and takes it. Marked
  // committing, the transaction is ours alone until EndCommit.
  const uint64_t id = txn->id();
  txn->CommitAsync([entry = std::move(entry), id,
                    reply = std::move(reply)](absl::Status s) mutable {
    v1::CommitResponse response;
    {
      auto lock = entry->Lock();
      response.set_commit_ts(entry->txn()->commit_ts());
      entry->EndCommit(s.ok() ? FinishedStatus("committed", id)
                              : absl::FailedPreconditionError(absl::StrCat(
                                    "transaction ", id,
                                    " already finished: its commit failed: ",
                                    s.message())));
    }
    if (!s.ok()) return std::move(reply)(s);
    std::move(reply)(std::move(response));
  });
}

absl::Status KvHandler::EntryRollback(TxnTable::Entry& entry) {
  auto lock = entry.Lock();
  if (absl::Status s = Usable(entry); !s.ok()) return s;
  entry.Finish(FinishedStatus("rolled back", entry.txn()->id()));
  return absl::OkStatus();
}

// ---- Handles. ----

absl::StatusOr<v1::BeginTxnResponse> KvHandler::BeginTxn(
    const v1::BeginTxnRequest& request, std::string peer) {
  auto isolation = ToIsolation(request.isolation());
  if (!isolation.ok()) return isolation.status();
  auto entry = txns_.Open(*isolation, /*is_handle=*/true, std::move(peer));
  if (!entry.ok()) return entry.status();
  v1::BeginTxnResponse response;
  response.set_txn_id((*entry)->id());
  auto lock = (*entry)->Lock();
  if ((*entry)->txn() != nullptr) {
    response.set_snapshot_ts((*entry)->txn()->snapshot_ts());
  }
  response.set_lease_ms(LeaseMs(txns_));
  return response;
}

absl::StatusOr<v1::KeepAliveResponse> KvHandler::KeepAlive(
    const v1::KeepAliveRequest& request) {
  auto entry = txns_.Find(request.txn_id());
  if (!entry.ok()) return entry.status();
  auto lock = (*entry)->Lock();
  if (absl::Status s = Usable(**entry); !s.ok()) return s;
  v1::KeepAliveResponse response;
  response.set_lease_ms(LeaseMs(txns_));
  return response;
}

absl::StatusOr<v1::GetResponse> KvHandler::TxnGet(
    const v1::TxnGetRequest& request) {
  auto entry = txns_.Find(request.txn_id());
  if (!entry.ok()) return entry.status();
  return EntryGet(**entry, request.key());
}

absl::StatusOr<v1::TxnPutResponse> KvHandler::TxnPut(
    const v1::TxnPutRequest& request) {
  auto entry = txns_.Find(request.txn_id());
  if (!entry.ok()) return entry.status();
  return WithEmptyResponse<v1::TxnPutResponse>(
      EntryPut(**entry, request.key(), request.value()));
}

absl::StatusOr<v1::TxnDeleteResponse> KvHandler::TxnDelete(
    const v1::TxnDeleteRequest& request) {
  auto entry = txns_.Find(request.txn_id());
  if (!entry.ok()) return entry.status();
  return WithEmptyResponse<v1::TxnDeleteResponse>(
      EntryDelete(**entry, request.key()));
}

absl::StatusOr<v1::ScanResponse> KvHandler::TxnScan(
    const v1::TxnScanRequest& request) {
  auto entry = txns_.Find(request.txn_id());
  if (!entry.ok()) return entry.status();
  return EntryScan(**entry, request.start(), request.end(), request.limit());
}

absl::StatusOr<v1::CommitResponse> KvHandler::CommitTxn(
    const v1::CommitTxnRequest& request) {
  return AwaitReply(this, &KvHandler::CommitTxnAsync, request);
}

void KvHandler::CommitTxnAsync(const v1::CommitTxnRequest& request,
                               Reply<v1::CommitResponse> reply) {
  auto entry = txns_.Find(request.txn_id());
  if (!entry.ok()) return std::move(reply)(entry.status());
  EntryCommitAsync(*std::move(entry), std::move(reply));
}

absl::StatusOr<v1::RollbackResponse> KvHandler::RollbackTxn(
    const v1::RollbackTxnRequest& request) {
  auto entry = txns_.Find(request.txn_id());
  if (!entry.ok()) return entry.status();
  return WithEmptyResponse<v1::RollbackResponse>(EntryRollback(**entry));
}

// ---- Sessions. ----

std::unique_ptr<Session> KvHandler::NewSession(std::string peer) {
  return std::make_unique<Session>(this, std::move(peer));
}

Session::~Session() {
  if (entry_ != nullptr) handler_->txns_.Remove(entry_);
}

v1::SessionResponse Session::Handle(const v1::SessionRequest& request) {
  return Await<v1::SessionResponse>(
      [&](absl::AnyInvocable<void(v1::SessionResponse) &&> reply) {
        HandleAsync(request, std::move(reply));
      });
}

void Session::HandleAsync(
    const v1::SessionRequest& request,
    absl::AnyInvocable<void(v1::SessionResponse) &&> reply) {
  if (request.op_case() == v1::SessionRequest::kCommit && entry_ != nullptr) {
    handler_->EntryCommitAsync(
        entry_, [reply = std::move(reply)](
                    absl::StatusOr<v1::CommitResponse> r) mutable {
          if (!r.ok()) return std::move(reply)(ErrorResponse(r.status()));
          v1::SessionResponse response;
          *response.mutable_commit() = *std::move(r);
          std::move(reply)(std::move(response));
        });
    return;
  }
  v1::SessionResponse response;
  absl::Status s = Dispatch(request, &response);
  std::move(reply)(s.ok() ? std::move(response) : ErrorResponse(s));
}

absl::Status Session::Dispatch(const v1::SessionRequest& request,
                               v1::SessionResponse* response) {
  if (request.op_case() == v1::SessionRequest::OP_NOT_SET) {
    return absl::InvalidArgumentError("session request with no op set");
  }
  if (request.op_case() == v1::SessionRequest::kBegin) {
    if (entry_ != nullptr) {
      auto lock = entry_->Lock();
      if (entry_->txn() != nullptr) {  // open (a commit has replied by now)
        return absl::FailedPreconditionError(
            "a transaction is already open on this session: commit or roll "
            "it back first");
      }
    }
    auto isolation = ToIsolation(request.begin().isolation());
    if (!isolation.ok()) return isolation.status();
    if (entry_ != nullptr) handler_->txns_.Remove(entry_);
    entry_.reset();
    auto entry = handler_->txns_.Open(*isolation, /*is_handle=*/false, peer_);
    if (!entry.ok()) return entry.status();
    entry_ = *std::move(entry);
    auto lock = entry_->Lock();
    if (entry_->txn() == nullptr) return entry_->fate();
    response->mutable_begin()->set_txn_id(entry_->id());
    response->mutable_begin()->set_snapshot_ts(entry_->txn()->snapshot_ts());
    return absl::OkStatus();
  }
  if (entry_ == nullptr) {
    return absl::FailedPreconditionError(
        "no transaction is open on this session: send begin first");
  }
  switch (request.op_case()) {
    case v1::SessionRequest::kGet: {
      if (request.get().snapshot_ts() != 0) {
        return absl::InvalidArgumentError(
            "snapshot_ts must be 0 inside a transaction");
      }
      auto r = handler_->EntryGet(*entry_, request.get().key());
      if (!r.ok()) return r.status();
      *response->mutable_get() = *std::move(r);
      return absl::OkStatus();
    }
    case v1::SessionRequest::kPut: {
      absl::Status s = handler_->EntryPut(*entry_, request.put().key(),
                                          request.put().value());
      if (s.ok()) response->mutable_put();
      return s;
    }
    case v1::SessionRequest::kDelete: {
      absl::Status s = handler_->EntryDelete(*entry_, request.delete_().key());
      if (s.ok()) response->mutable_delete_();
      return s;
    }
    case v1::SessionRequest::kScan: {
      if (request.scan().snapshot_ts() != 0) {
        return absl::InvalidArgumentError(
            "snapshot_ts must be 0 inside a transaction");
      }
      auto r =
          handler_->EntryScan(*entry_, request.scan().start(),
                              request.scan().end(), request.scan().limit());
      if (!r.ok()) return r.status();
      *response->mutable_scan() = *std::move(r);
      return absl::OkStatus();
    }
    case v1::SessionRequest::kRollback: {
      absl::Status s = handler_->EntryRollback(*entry_);
      if (s.ok()) response->mutable_rollback();
      return s;
    }
    default:
      return absl::InvalidArgumentError("unknown session op");
  }
}

}  // namespace mvkv::server
