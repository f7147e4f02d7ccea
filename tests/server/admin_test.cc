// mvkv.v1.Admin against a real mvkv_server: fault calls are refused with
// PERMISSION_DENIED unless the server runs with --allow_fault_injection,
// every Admin call needs the bearer token like the KV calls, and a reclaim
// stall parks server threads (named "mvkv-parked") that hold back the
// engine's reclamation until ReleaseReclaimStall or the server's shutdown.
#include <dirent.h>
#include <signal.h>

#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"
#include "tests/server/server_process.h"

namespace mvkv {
namespace {

// Threads of `pid` whose /proc comm is `name`.
int ThreadsNamed(pid_t pid, const std::string& name) {
  const std::string dir = absl::StrCat("/proc/", pid, "/task");
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return -1;
  int n = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream in(dir + "/" + e->d_name + "/comm");
    std::string comm;
    std::getline(in, comm);
    n += comm == name;
  }
  closedir(d);
  return n;
}

class AdminClient {
 public:
  AdminClient(const std::string& address, std::string token)
      : stub_(v1::Admin::NewStub(grpc::CreateChannel(
            address, grpc::InsecureChannelCredentials()))),
        token_(std::move(token)) {}

  grpc::Status Status(v1::FaultInjectionStatusResponse* r) {
    auto c = Context();
    return stub_->FaultInjectionStatus(c.get(), {}, r);
  }
  grpc::Status Stall(int threads, v1::StallReclaimResponse* r) {
    auto c = Context();
    v1::StallReclaimRequest req;
    req.set_threads(threads);
    return stub_->StallReclaim(c.get(), req, r);
  }
  grpc::Status Release(v1::ReleaseReclaimStallResponse* r) {
    auto c = Context();
    return stub_->ReleaseReclaimStall(c.get(), {}, r);
  }

 private:
  std::unique_ptr<grpc::ClientContext> Context() {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!token_.empty()) c->AddMetadata("authorization", "Bearer " + token_);
    return c;
  }
  std::unique_ptr<v1::Admin::Stub> stub_;
  std::string token_;
};

TEST(AdminTest, FaultCallsAreRefusedWithoutTheFlag) {
  auto server = testing::ServerProcess::Start({}).value();
  AdminClient admin(server->address(), "");
  v1::FaultInjectionStatusResponse status;
  ASSERT_TRUE(admin.Status(&status).ok());
  EXPECT_FALSE(status.allowed());
  v1::StallReclaimResponse stall;
  const grpc::Status refused = admin.Stall(1, &stall);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(refused.error_message().find("--allow_fault_injection"), std::string::npos)
      << refused.error_message();
  v1::ReleaseReclaimStallResponse release;
  EXPECT_EQ(admin.Release(&release).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(ThreadsNamed(server->pid(), "mvkv-parked"), 0);
  EXPECT_EQ(server->Stop(SIGTERM), 0);
}

TEST(AdminTest, AdminCallsNeedTheBearerToken) {
  client::ClientOptions probe;
  auto server = testing::ServerProcess::Start(
                    {"--auth_token=s3cret", "--allow_fault_injection"}, probe)
                    .value();
  AdminClient none(server->address(), ""), wrong(server->address(), "guess"),
      right(server->address(), "s3cret");
  v1::FaultInjectionStatusResponse status;
  EXPECT_EQ(none.Status(&status).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  v1::StallReclaimResponse stall;
  EXPECT_EQ(none.Stall(1, &stall).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(wrong.Stall(1, &stall).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  v1::ReleaseReclaimStallResponse release;
  EXPECT_EQ(none.Release(&release).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ThreadsNamed(server->pid(), "mvkv-parked"), 0);
  ASSERT_TRUE(right.Status(&status).ok());
  EXPECT_TRUE(status.allowed());
  ASSERT_TRUE(right.Stall(1, &stall).ok());
  EXPECT_EQ(stall.stalled_threads(), 1);
  EXPECT_EQ(server->Stop(SIGTERM), 0);
}

TEST(AdminTest, ReclaimStallHoldsBackReclamationUntilReleased) {
  auto server = testing::ServerProcess::Start({"--allow_fault_injection"}).value();
  auto kv = server->NewClient();
  AdminClient admin(server->address(), "");
  constexpr int kKeys = 300;
  // A key's first small value lives inside its record and is never retired
  // on its own: overwrite once, so the versions alive at the stall are
  // separate objects the overwrites below retire.
  for (int k = 0; k < kKeys; ++k) ASSERT_TRUE(kv->Put(absl::StrCat("k", k), "v0").ok());
  for (int k = 0; k < kKeys; ++k) ASSERT_TRUE(kv->Put(absl::StrCat("k", k), "v0b").ok());

  v1::StallReclaimResponse stall;
  EXPECT_EQ(admin.Stall(0, &stall).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(admin.Stall(65, &stall).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(admin.Stall(2, &stall).ok());
  EXPECT_EQ(stall.stalled_threads(), 2);
  EXPECT_EQ(ThreadsNamed(server->pid(), "mvkv-parked"), 2);
  EXPECT_EQ(admin.Stall(1, &stall).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  v1::FaultInjectionStatusResponse status;
  ASSERT_TRUE(admin.Status(&status).ok());
  EXPECT_EQ(status.reclaim_stalled_threads(), 2);
  EXPECT_FALSE(status.reclaim_scheme().empty());

  // Every version written before the stall is retired by the overwrites
  // (the chain is pruned as it is touched) and stays unreclaimed: the parked
  // reservations may still see it.
  for (int round = 1; round <= 3; ++round) {
    for (int k = 0; k < kKeys; ++k) {
      ASSERT_TRUE(kv->Put(absl::StrCat("k", k), absl::StrCat("v", round)).ok());
    }
  }
  const uint64_t pinned = kv->GetStats()->Number("reclaim_unreclaimed_objects");
  EXPECT_GE(pinned, static_cast<uint64_t>(kKeys));

  v1::ReleaseReclaimStallResponse release;
  ASSERT_TRUE(admin.Release(&release).ok());
  EXPECT_EQ(release.released_threads(), 2);
  EXPECT_EQ(ThreadsNamed(server->pid(), "mvkv-parked"), 0);
  uint64_t now = pinned;
  for (int round = 4; round < 200 && now >= pinned / 2; ++round) {
    for (int k = 0; k < kKeys; ++k) {
      ASSERT_TRUE(kv->Put(absl::StrCat("k", k), absl::StrCat("v", round)).ok());
    }
    now = kv->GetStats()->Number("reclaim_unreclaimed_objects");
  }
  EXPECT_LT(now, pinned / 2) << "pinned " << pinned;
}

TEST(AdminTest, ShutdownReleasesAStallLeftInPlace) {
  auto server = testing::ServerProcess::Start({"--allow_fault_injection"}).value();
  AdminClient admin(server->address(), "");
  v1::StallReclaimResponse stall;
  ASSERT_TRUE(admin.Stall(3, &stall).ok());
  EXPECT_EQ(ThreadsNamed(server->pid(), "mvkv-parked"), 3);
  EXPECT_EQ(server->Stop(SIGTERM), 0);  // -1 (hung) if the parked threads held it
  EXPECT_NE(server->Log().find("reclaim stall released at shutdown"), std::string::npos)
      << server->Log();
}

}  // namespace
}  // namespace mvkv
