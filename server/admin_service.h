// The gRPC face of fault injection: mvkv.v1.Admin (proto/admin.proto) on
// gRPC's callback API. Its one fault parks server threads inside a guard of
// the engine's reclaim domain (mvkv::ParkedReaders), the deterministic
// "server thread stalled in the middle of a read" that load tests (the YCSB
// harness's --stall=server-reclaim) measure the engine's memory bound with.
//
// Off unless mvkv_server runs with --allow_fault_injection: then the fault
// calls answer PERMISSION_DENIED and the parking code is never reached (no
// ParkedReaders even exists). Every call first checks the bearer token with
// the same check as the KV service (UNAUTHENTICATED otherwise). Parked
// threads are released by ReleaseReclaimStall, or when the service is
// destroyed (the server's shutdown).
//
// Thread safety: thread-safe; gRPC calls it from its own threads. Calls run
// inline on gRPC's thread: parking and releasing start or join at most 64
// threads and take milliseconds.
#ifndef MVKV_SERVER_ADMIN_SERVICE_H_
#define MVKV_SERVER_ADMIN_SERVICE_H_

#include <memory>
#include <mutex>

#include "grpcpp/grpcpp.h"
#include "mvcc/parked_readers.h"
#include "proto/admin.grpc.pb.h"
#include "server/auth_check.h"

namespace mvkv::server {

class AdminService final : public v1::Admin::CallbackService {
 public:
  static constexpr int kMaxStalledThreads = 64;

  AdminService(bool allow_fault_injection, AuthCheck check_auth);
  ~AdminService() override;  // releases parked threads
  AdminService(const AdminService&) = delete;
  AdminService& operator=(const AdminService&) = delete;

  grpc::ServerUnaryReactor* FaultInjectionStatus(
      grpc::CallbackServerContext* context,
      const v1::FaultInjectionStatusRequest* request,
      v1::FaultInjectionStatusResponse* response) override;
  grpc::ServerUnaryReactor* StallReclaim(
      grpc::CallbackServerContext* context,
      const v1::StallReclaimRequest* request,
      v1::StallReclaimResponse* response) override;
  grpc::ServerUnaryReactor* ReleaseReclaimStall(
      grpc::CallbackServerContext* context,
      const v1::ReleaseReclaimStallRequest* request,
      v1::ReleaseReclaimStallResponse* response) override;

 private:
  // Auth, then (for a fault call) the flag: the status to refuse with.
  grpc::Status Admit(grpc::CallbackServerContext* context, bool fault) const;

  const AuthCheck check_auth_;
  std::mutex mu_;  // serializes stall and release
  // Null unless fault injection is allowed: without the flag nothing here
  // can park a thread.
  const std::unique_ptr<ParkedReaders> parked_;
};

}  // namespace mvkv::server

#endif  // MVKV_SERVER_ADMIN_SERVICE_H_
