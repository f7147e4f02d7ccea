#include "client/router.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace mvkv::client {

absl::StatusOr<std::unique_ptr<Router>> Router::Create(
    const std::string& servers,
    std::shared_ptr<grpc::ChannelCredentials> credentials,
    grpc::ChannelArguments args) {
  std::unique_ptr<Router> router(
      new Router(std::move(credentials), std::move(args)));
  std::lock_guard<std::mutex> lock(router->mu_);
  for (absl::string_view part : absl::StrSplit(servers, ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (part.empty()) continue;
    router->IndexOf(std::string(part));
  }
  if (router->endpoints_.empty()) {
    return absl::InvalidArgumentError("no server address");
  }
  return router;
}

std::size_t Router::IndexOf(const std::string& address) {
  for (std::size_t i = 0; i < endpoints_.size(); ++i) {
    if (endpoints_[i]->address == address) return i;
  }
  auto e = std::make_unique<Endpoint>();
  e->address = address;
  e->channel = grpc::CreateCustomChannel(address, credentials_, args_);
  e->kv = v1::KV::NewStub(e->channel);
  endpoints_.push_back(std::move(e));
  return endpoints_.size() - 1;
}

Endpoint* Router::Current() {
  std::lock_guard<std::mutex> lock(mu_);
  return endpoints_[current_].get();
}

std::size_t Router::size() {
  std::lock_guard<std::mutex> lock(mu_);
  return endpoints_.size();
}

bool Router::Reachable(Endpoint* endpoint, absl::Time deadline) {
  const grpc_connectivity_state state =
      endpoint->channel->GetState(/*try_to_connect=*/true);
  if (state == GRPC_CHANNEL_READY) return true;
  if (state == GRPC_CHANNEL_TRANSIENT_FAILURE) return false;
  // A fresh channel may pass through a transient failure on its way to
  // READY: wait a little through it (a dead server on a LAN refuses
  // within this).
  return endpoint->channel->WaitForConnected(absl::ToChronoTime(
      std::min(deadline, absl::Now() + absl::Milliseconds(250))));
}

bool Router::After(Endpoint* endpoint, const absl::Status& status,
                   const std::optional<std::string>& leader, bool sent,
                   bool idempotent, int attempt, int max_attempts,
                   absl::Time deadline) {
  if (absl::IsDeadlineExceeded(status) && sent) {
    // A server that accepts connections but does not answer (stopped,
    // overloaded): the call's time is spent; the next call goes elsewhere.
    std::lock_guard<std::mutex> lock(mu_);
    const std::size_t at = IndexOf(endpoint->address);
    if (current_ == at) current_ = (at + 1) % endpoints_.size();
    return false;
  }
  if (!absl::IsUnavailable(status)) return false;
  bool retry = idempotent || !sent;
  bool back_off = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const std::size_t at = IndexOf(endpoint->address);
    if (leader.has_value() && !leader->empty()) {
      // A refusal: nothing was done; go where it points.
      current_ = IndexOf(*leader);
      retry = true;
      back_off = current_ == at;  // a leader still applying its log
    } else {
      if (leader.has_value()) retry = true;  // refused, no leader known
      // One server that cannot be reached: say so at once.
      if (!sent && endpoints_.size() == 1) retry = false;
      if (current_ == at) current_ = (at + 1) % endpoints_.size();
    }
  }
  if (!retry || attempt >= max_attempts) return false;
  if (back_off) {
    const absl::Duration pause = BackOff(attempt);
    if (absl::Now() + pause >= deadline) return false;
    absl::SleepFor(pause);
  }
  return absl::Now() < deadline;
}

absl::Duration Router::BackOff(int attempt) {
  return std::min(absl::Milliseconds(25) * (1 << std::min(std::max(attempt, 1) - 1, 5)),
                  absl::Milliseconds(100));
}

std::optional<std::string> LeaderOf(const grpc::ClientContext& context) {
  const auto& trailers = context.GetServerTrailingMetadata();
  auto it = trailers.find(kLeaderMetadata);
  if (it == trailers.end()) return std::nullopt;
  return std::string(it->second.data(), it->second.size());
}

}  // namespace mvkv::client
