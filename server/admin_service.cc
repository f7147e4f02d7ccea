#include "server/admin_service.h"

#include <string>
#include <utility>

#include "mvcc/reclaim_scheme.h"
#include "server/log.h"

namespace mvkv::server {
namespace {

grpc::ServerUnaryReactor* Reply(grpc::CallbackServerContext* context,
                                const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

}  // namespace

AdminService::AdminService(bool allow_fault_injection, AuthCheck check_auth)
    : check_auth_(std::move(check_auth)),
      parked_(allow_fault_injection ? std::make_unique<ParkedReaders>()
                                    : nullptr) {}

AdminService::~AdminService() {
  if (parked_ == nullptr) return;
  std::lock_guard<std::mutex> l(mu_);
  const int released = parked_->Release();
  if (released > 0) {
    Log("warn", "fault injection: reclaim stall released at shutdown",
        {{"threads", std::to_string(released)}});
  }
}

grpc::Status AdminService::Admit(grpc::CallbackServerContext* context,
                                 bool fault) const {
  if (grpc::Status s = check_auth_(context); !s.ok()) return s;
  if (fault && parked_ == nullptr) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        "fault injection is off: start mvkv_server with "
                        "--allow_fault_injection to use mvkv.v1.Admin's faults");
  }
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* AdminService::FaultInjectionStatus(
    grpc::CallbackServerContext* context,
    const v1::FaultInjectionStatusRequest* /*request*/,
    v1::FaultInjectionStatusResponse* response) {
  if (grpc::Status s = Admit(context, false); !s.ok()) return Reply(context, s);
  response->set_allowed(parked_ != nullptr);
  response->set_reclaim_stalled_threads(parked_ == nullptr ? 0 : parked_->parked());
  response->set_reclaim_scheme(std::string(kEngineReclaimScheme));
  return Reply(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* AdminService::StallReclaim(
    grpc::CallbackServerContext* context, const v1::StallReclaimRequest* request,
    v1::StallReclaimResponse* response) {
  if (grpc::Status s = Admit(context, true); !s.ok()) return Reply(context, s);
  const int threads = request->threads();
  if (threads < 1 || threads > kMaxStalledThreads) {
    return Reply(context, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                       "threads must be in [1, " +
                                           std::to_string(kMaxStalledThreads) +
                                           "], got " + std::to_string(threads)));
  }
  std::lock_guard<std::mutex> l(mu_);
  if (const int already = parked_->parked(); already > 0) {
    return Reply(context,
                 grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                              std::to_string(already) +
                                  " threads are already stalled; call "
                                  "ReleaseReclaimStall first"));
  }
  parked_->Park(threads);
  Log("warn", "fault injection: reclaim stall",
      {{"threads", std::to_string(threads)},
       {"scheme", std::string(kEngineReclaimScheme)}});
  response->set_stalled_threads(parked_->parked());
  return Reply(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* AdminService::ReleaseReclaimStall(
    grpc::CallbackServerContext* context,
    const v1::ReleaseReclaimStallRequest* /*request*/,
    v1::ReleaseReclaimStallResponse* response) {
  if (grpc::Status s = Admit(context, true); !s.ok()) return Reply(context, s);
  std::lock_guard<std::mutex> l(mu_);
  const int released = parked_->Release();
  Log("warn", "fault injection: reclaim stall released",
      {{"threads", std::to_string(released)}});
  response->set_released_threads(released);
  return Reply(context, grpc::Status::OK);
}

}  // namespace mvkv::server
