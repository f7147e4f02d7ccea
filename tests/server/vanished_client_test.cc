// A client that vanishes mid-transaction pins nothing: its Session
// transaction is rolled back as soon as the server sees the stream end
// (process SIGKILLed, or the stream cancelled), and its handle when the
// lease runs out. Checked through Stats: no open transaction and no
// registered snapshot remain.
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/kv.grpc.pb.h"
#include "tests/server/server_process.h"

namespace mvkv {
namespace {

// Polls Stats until pred holds or 15 s pass.
template <class Pred>
client::Stats WaitFor(client::Client& c, Pred pred) {
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  client::Stats s = c.GetStats().value();
  while (!pred(s) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
    s = c.GetStats().value();
  }
  return s;
}

TEST(VanishedClientTest, AKilledClientLeavesNoTransactionAndNoSnapshot) {
  auto server = testing::ServerProcess::Start({"--txn_lease=1s"}).value();
  auto client = server->NewClient();
  const std::string out = testing::NewTempDir("holder") + "/out";
  const pid_t child = testing::SpawnProcess(
      {testing::Runfile("tests/server/txn_holder"), server->address()}, out);
  ASSERT_GT(child, 0);
  auto ready = [&] {
    std::ifstream in(out);
    std::stringstream s;
    s << in.rdbuf();
    return s.str().find("ready") != std::string::npos;
  };
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (!ready() && absl::Now() < deadline)
    absl::SleepFor(absl::Milliseconds(20));
  ASSERT_TRUE(ready());
  auto s = client->GetStats().value();
  EXPECT_EQ(s.Number("open_session_txns"), 1u);
  EXPECT_EQ(s.Number("open_handles"), 1u);
  EXPECT_EQ(s.Number("active_snapshots"), 2u);

  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  s = WaitFor(*client, [](const client::Stats& s) {
    return s.Number("open_session_txns") == 0;
  });
  EXPECT_EQ(s.Number("open_session_txns"), 0u);
  s = WaitFor(*client, [](const client::Stats& s) {
    return s.Number("open_handles") == 0 && s.Number("active_snapshots") == 0;
  });
  EXPECT_EQ(s.Number("open_handles"), 0u);
  EXPECT_EQ(s.Number("active_snapshots"), 0u);
  EXPECT_EQ(s.Number("expired_leases"), 1u);
  EXPECT_EQ(client->Get("held/k").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(server->Stop(SIGTERM), 0);
}

TEST(VanishedClientTest, ACancelledStreamRollsItsTransactionBack) {
  auto server = testing::ServerProcess::Start({}).value();
  auto client = server->NewClient();
  auto stub = v1::KV::NewStub(grpc::CreateChannel(
      server->address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  auto rw = stub->Session(&context);
  v1::SessionRequest request;
  request.mutable_begin();
  v1::SessionResponse response;
  ASSERT_TRUE(rw->Write(request) && rw->Read(&response));
  request.mutable_put()->set_key("cancel/k");
  ASSERT_TRUE(rw->Write(request) && rw->Read(&response));
  ASSERT_EQ(response.code(), 0);
  EXPECT_EQ(client->GetStats()->Number("active_snapshots"), 1u);
  context.TryCancel();
  EXPECT_EQ(rw->Finish().error_code(), grpc::StatusCode::CANCELLED);
  auto s = WaitFor(*client, [](const client::Stats& s) {
    return s.Number("open_session_txns") == 0 && s.Number("active_snapshots") == 0;
  });
  EXPECT_EQ(s.Number("open_session_txns"), 0u);
  EXPECT_EQ(s.Number("active_snapshots"), 0u);
  EXPECT_EQ(client->Get("cancel/k").status().code(),
            absl::StatusCode::kNotFound);
  rw.reset();
  client.reset();
  EXPECT_EQ(server->Stop(SIGTERM), 0);
}

TEST(VanishedClientTest, MaxTxnAgeRollsBackAStalledSession) {
  auto server = testing::ServerProcess::Start({"--max_txn_age=300ms"}).value();
  auto client = server->NewClient();
  auto txn = client->Begin().value();
  auto s = WaitFor(*client, [](const client::Stats& s) {
    return s.Number("open_session_txns") == 0;
  });
  EXPECT_EQ(s.Number("expired_max_age"), 1u);
  EXPECT_EQ(s.Number("active_snapshots"), 0u);
  auto get = txn->Get("k");
  EXPECT_EQ(get.status().code(), absl::StatusCode::kAborted);
  // The message names the id the client holds (BeginResponse.txn_id).
  EXPECT_NE(get.status().message().find(
                absl::StrCat("transaction ", txn->id(), " was rolled back")),
            std::string::npos)
      << get.status();
  EXPECT_EQ(server->Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace mvkv
