#include "replication/node.h"

#include <signal.h>

#include <future>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "mvcc/replica.h"
#include "replication/internal/applier.h"
#include "replication/internal/core.h"
#include "replication/internal/not_leader.h"
#include "replication/internal/node_dir.h"
#include "replication/internal/raft_durability.h"

namespace mvkv::replication {

using replication_internal::Applier;
using replication_internal::Core;
using replication_internal::NodeDir;
using replication_internal::NotLeaderError;
using replication_internal::RaftDurability;

Node::Node() = default;

namespace {

// libuv writes to peer sockets with write(2): a peer that closed its end
// would kill the process with SIGPIPE. Ignore it, unless the program chose
// a disposition of its own.
void IgnoreSigpipe() {
  struct sigaction current;
  if (::sigaction(SIGPIPE, nullptr, &current) == 0 &&
      current.sa_handler == SIG_DFL) {
    ::signal(SIGPIPE, SIG_IGN);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<Node>> Node::Open(const NodeOptions& options,
                                                 Options db_options) {
  if (absl::Status s = ValidateNodeOptions(options); !s.ok()) return s;
  IgnoreSigpipe();
  if (db_options.durability != nullptr || db_options.staged_pipeline) {
    return absl::InvalidArgumentError(
        "a replicated Database brings its own durability (the Raft log) and "
        "needs the fused pipeline: leave Options::durability unset and "
        "staged_pipeline false");
  }
  std::unique_ptr<Node> node(new Node());
  absl::StatusOr<std::unique_ptr<NodeDir>> dir = NodeDir::Open(options);
  if (!dir.ok()) return dir.status();
  node->dir_ = std::move(*dir);
  node->durability_ = std::make_unique<RaftDurability>();
  db_options.durability = node->durability_.get();
  absl::StatusOr<std::unique_ptr<Database>> db = Database::Open(db_options);
  if (!db.ok()) {
    node->dir_->Abandon();
    return db.status();
  }
  node->db_ = std::move(*db);
  absl::StatusOr<std::unique_ptr<Replica>> replica = Replica::Attach(
      *node->db_,
      // A refusal (IsNotLeader) until this node learns of a leader.
      NotLeaderError(options.node_id, /*leader_id=*/0, ""));
  if (!replica.ok()) {
    node->dir_->Abandon();
    return replica.status();
  }
  node->replica_ = std::move(*replica);
  node->core_ = std::make_unique<Core>(options, node->dir_->raft_dir(),
                                       node->dir_->fresh(),
                                       node->replica_.get());
  Core* core = node->core_.get();
  node->applier_ = std::make_unique<Applier>(
      node->replica_.get(),
      [self = node.get(), core](uint64_t term, uint64_t last_ts) {
        std::function<void()> hook;
        {
          std::lock_guard<std::mutex> lock(self->accept_hook_mu_);
          hook.swap(self->accept_hook_);
        }
        if (hook) hook();
        core->Post([core, term, last_ts](bool on_loop) {
          if (on_loop) core->OnAccepted(term, last_ts);
        });
      },
      [core](absl::Status s) {
        core->Post([core, s](bool on_loop) {
          if (on_loop) core->OnApplierFailed(s);
        });
      });
  core->SetApplier(node->applier_.get());
  node->durability_->SetCore(core);
  if (absl::Status s = core->Start(); !s.ok()) {
    node->Close();
    if (node->dir_->fresh()) node->dir_->Abandon();
    return s;
  }
  return node;
}

Node::~Node() { Close(); }

void Node::Close() {
  if (closed_) return;
  closed_ = true;
  // Raft first: the leader's batch in flight fails (the engine takes it
  // back) and later ones fail at once; then the applier; then the engine,
  // whose drain can no longer wait on anything.
  if (core_ != nullptr) core_->Stop();
  if (applier_ != nullptr) applier_->Stop();
  replica_.reset();
  db_.reset();
}

ClusterInfo Node::Info() const { return core_->Info(); }

namespace {

// Runs `call(done)` on the loop thread, or fails `done` if it has stopped.
template <class Call>
void OnLoop(Core* core, StatusCallback done, Call call) {
  core->Post([core, done = std::move(done), call](bool on_loop) mutable {
    if (!on_loop) {
      return std::move(done)(absl::UnavailableError("the node is shut down"));
    }
    call(core, std::move(done));
  });
}

}  // namespace

bool Node::HoldsReadLease() { return core_->HoldsReadLease(); }

void Node::ConfirmLeadership(StatusCallback done) {
  if (core_->HoldsReadLease()) return std::move(done)(absl::OkStatus());
  OnLoop(core_.get(), std::move(done),
         [](Core* c, StatusCallback d) { c->ConfirmLeadership(std::move(d)); });
}

void Node::AddMember(Member member, StatusCallback done) {
  OnLoop(core_.get(), std::move(done),
         [member](Core* c, StatusCallback d) { c->AddMember(member, std::move(d)); });
}

void Node::RemoveMember(uint64_t id, StatusCallback done) {
  OnLoop(core_.get(), std::move(done),
         [id](Core* c, StatusCallback d) { c->RemoveMember(id, std::move(d)); });
}

void Node::TransferLeadership(uint64_t id, StatusCallback done) {
  OnLoop(core_.get(), std::move(done), [id](Core* c, StatusCallback d) {
    c->TransferLeadership(id, std::move(d));
  });
}

void Node::OnNextAcceptForTesting(std::function<void()> hook) {
  std::lock_guard<std::mutex> lock(accept_hook_mu_);
  accept_hook_ = std::move(hook);
}

void Node::StallForTesting(absl::Duration d, const std::atomic<bool>* release) {
  auto stalled = std::make_shared<std::promise<void>>();
  std::future<void> started = stalled->get_future();
  core_->Post([core = core_.get(), d, release, stalled](bool on_loop) {
    stalled->set_value();
    if (on_loop) core->StallForTesting(d, release);
  });
  started.wait();
}

}  // namespace mvkv::replication
