// Bearer-token authentication and TLS against a real mvkv_server. The
// certificate is self-signed, made at test time with the openssl CLI.
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/server/server_process.h"

namespace mvkv {
namespace {

TEST(AuthTest, KvCallsNeedTheBearerTokenHealthDoesNot) {
  client::ClientOptions probe;  // health needs no token
  auto server =
      testing::ServerProcess::Start({"--auth_token=s3cret"}, probe).value();
  auto none = server->NewClient();
  client::ClientOptions wrong_options;
  wrong_options.token = "guess";
  auto wrong = server->NewClient(wrong_options);
  client::ClientOptions right_options;
  right_options.token = "s3cret";
  auto right = server->NewClient(right_options);

  EXPECT_EQ(none->Put("k", "v").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(wrong->Put("k", "v").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(none->Scan("", "").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(none->Begin().status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(wrong->GetStats().status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(none->Health().ok());
  ASSERT_TRUE(right->Put("k", "v").ok());
  EXPECT_EQ(right->Get("k")->value, "v");
  EXPECT_TRUE(right->Begin().ok());
  EXPECT_EQ(right->GetStats()->Number("commits"), 1u);  // the refused Puts wrote nothing
  EXPECT_EQ(server->Stop(SIGTERM), 0);
}

TEST(TlsTest, ServesOverTlsToAClientTrustingTheCertificate) {
  const std::string dir = testing::NewTempDir("tls");
  const std::string cmd = absl::StrCat(
      "/usr/bin/openssl req -x509 -newkey rsa:2048 -nodes -days 1 "
      "-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 "
      "-keyout ",
      dir, "/key.pem -out ", dir, "/cert.pem 2>", dir, "/openssl.log");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "openssl failed";
  client::ClientOptions tls;
  tls.tls_ca_file = dir + "/cert.pem";
  tls.tls_server_name = "localhost";
  tls.token = "t";
  auto server =
      testing::ServerProcess::Start(
          {absl::StrCat("--tls_cert=", dir, "/cert.pem"),
           absl::StrCat("--tls_key=", dir, "/key.pem"), "--auth_token=t"},
          tls)
          .value();
  auto secure = server->NewClient(tls);
  ASSERT_TRUE(secure->Put("k", "v").ok());
  EXPECT_EQ(secure->Get("k")->value, "v");
  // A plaintext client cannot talk to the TLS port.
  client::ClientOptions plain;
  plain.token = "t";
  plain.timeout = absl::Seconds(3);
  EXPECT_EQ(server->NewClient(plain)->Get("k").status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(server->Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace mvkv
