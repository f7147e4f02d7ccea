#include "server/server.h"

#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "proto/health.grpc.pb.h"

namespace mvkv::server {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

std::unique_ptr<Health::Stub> HealthStub(int port) {
  return Health::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
}

TEST(ServerTest, AnswersHealthChecksWhileServing) {
  auto server = Server::Start({.listen = "127.0.0.1:0"});
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->port(), 0);

  grpc::ClientContext context;
  HealthCheckResponse response;
  grpc::Status status = HealthStub((*server)->port())
                            ->Check(&context, HealthCheckRequest(), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
}

HealthCheckRequest ForService(const std::string& service) {
  HealthCheckRequest request;
  request.set_service(service);
  return request;
}

// Load balancers and Kubernetes probes ask for the service by name.
TEST(ServerTest, AnswersHealthChecksForTheKvServiceByName) {
  auto server = Server::Start({.listen = "127.0.0.1:0"});
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = HealthStub((*server)->port());
  {
    grpc::ClientContext context;
    HealthCheckResponse response;
    grpc::Status status =
        stub->Check(&context, ForService("mvkv.v1.KV"), &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
  }
  grpc::ClientContext context;
  HealthCheckResponse response;
  grpc::Status status =
      stub->Check(&context, ForService("mvkv.v1.NoSuchService"), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
}

// While it drains (Shutdown called, calls in flight still finishing) the
// server reports the KV service NOT_SERVING to a health watcher.
TEST(ServerTest, KvServiceTurnsNotServingWhenShutdownStarts) {
  auto server = Server::Start({.listen = "127.0.0.1:0"});
  ASSERT_TRUE(server.ok()) << server.status();
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(30));
  auto watch =
      HealthStub((*server)->port())->Watch(&context, ForService("mvkv.v1.KV"));
  HealthCheckResponse response;
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);

  std::thread shutdown([&] { (*server)->Shutdown(absl::Seconds(5)); });
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);
  context.TryCancel();
  shutdown.join();
}

TEST(ServerTest, RejectsMalformedListenAddress) {
  for (const char* bad : {"", "localhost", ":7070", "127.0.0.1:x",
                          "127.0.0.1:70000", "127.0.0.1:-1"}) {
    auto server = Server::Start({.listen = bad});
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(ServerTest, RejectsACommitRingSizeOutOfRange) {
  for (std::size_t bad : {std::size_t{0}, (std::size_t{1} << 24) + 1}) {
    ServerOptions options{.listen = "127.0.0.1:0"};
    options.commit_ring_size = bad;
    auto server = Server::Start(options);
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(server.status().message().find("commit_ring_size"),
              std::string::npos)
        << server.status();
  }
  ServerOptions options{.listen = "127.0.0.1:0"};
  options.commit_ring_size = 3;  // rounded up to 4 by the engine
  auto server = Server::Start(options);
  EXPECT_TRUE(server.ok()) << server.status();
}

TEST(ServerTest, ReportsAnAddressThatCannotBeBound) {
  auto first = Server::Start({.listen = "127.0.0.1:0"});
  ASSERT_TRUE(first.ok()) << first.status();
  auto second =
      Server::Start({.listen = absl::StrCat("127.0.0.1:", (*first)->port())});
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
}

TEST(ServerTest, StopsServingAfterShutdown) {
  auto server = Server::Start({.listen = "127.0.0.1:0"});
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  (*server)->Shutdown(absl::ZeroDuration());
  (*server)->Wait();

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(2));
  HealthCheckResponse response;
  grpc::Status status =
      HealthStub(port)->Check(&context, HealthCheckRequest(), &response);
  EXPECT_FALSE(status.ok());
}

}  // namespace
}  // namespace mvkv::server
