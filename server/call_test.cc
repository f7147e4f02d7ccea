// Every RPC of mvkv.v1.KV goes through a Call (server/call.h), so none can
// skip the token check. Table-driven from the service descriptor itself: an
// RPC added to kv.proto without a Method row, or whose reactor does not
// refuse a call without the token, fails here.
#include <memory>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/kv.grpc.pb.h"
#include "server/call.h"
#include "server/testing/in_process_server.h"

namespace mvkv::server {
namespace {

const google::protobuf::ServiceDescriptor& KvDescriptor() {
  const auto* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          v1::KV::service_full_name());
  EXPECT_NE(service, nullptr);
  return *service;
}

TEST(CallTest, EveryMethodOfTheServiceHasARow) {
  std::set<std::string> rows;
  for (int i = 0; i < kMethodCount; ++i) {
    rows.insert(MethodName(static_cast<Method>(i)));
  }
  const auto& service = KvDescriptor();
  EXPECT_EQ(rows.size(), static_cast<std::size_t>(kMethodCount));
  EXPECT_EQ(service.method_count(), kMethodCount);
  for (int i = 0; i < service.method_count(); ++i) {
    EXPECT_TRUE(rows.contains(service.method(i)->name()))
        << service.method(i)->name() << " has no Method row in server/call.h";
  }
}

class CallAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<testing::InProcessServer>(
        testing::InProcessOptions{.auth_token = "s3cret"});
    ASSERT_TRUE(server_->ok());
    channel_ = server_->channel();
  }

  // Calls `method` with one empty request message and no token, as raw
  // bytes (works for unary, streaming and bidirectional methods alike).
  grpc::Status CallWithoutToken(const std::string& method) {
    grpc::GenericStub stub(channel_);
    grpc::CompletionQueue cq;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    auto call = stub.PrepareCall(&context, method, &cq);
    void* tag = nullptr;
    bool ok = false;
    auto step = [&](void* expected) {
      EXPECT_TRUE(cq.Next(&tag, &ok));
      EXPECT_EQ(tag, expected);
    };
    call->StartCall(reinterpret_cast<void*>(1));
    step(reinterpret_cast<void*>(1));
    grpc::ByteBuffer empty;
    grpc::Slice none;
    empty = grpc::ByteBuffer(&none, 1);
    call->Write(empty, reinterpret_cast<void*>(2));
    step(reinterpret_cast<void*>(2));
    call->WritesDone(reinterpret_cast<void*>(3));
    step(reinterpret_cast<void*>(3));
    grpc::Status status;
    call->Finish(&status, reinterpret_cast<void*>(4));
    step(reinterpret_cast<void*>(4));
    cq.Shutdown();
    while (cq.Next(&tag, &ok)) {
    }
    return status;
  }

  std::unique_ptr<testing::InProcessServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(CallAuthTest, EveryMethodRefusesACallWithoutTheToken) {
  const auto& service = KvDescriptor();
  for (int i = 0; i < service.method_count(); ++i) {
    const std::string method =
        absl::StrCat("/", service.full_name(), "/", service.method(i)->name());
    const grpc::Status status = CallWithoutToken(method);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << method << ": " << status.error_message();
  }
  EXPECT_EQ(server_->db().GetStats().commits, 0u);
}

}  // namespace
}  // namespace mvkv::server
