// Core: starting and stopping libraft on the loop thread, and the periodic
// report. The state machine is in core_fsm.cc, leadership and proposals in
// core_leader.cc, configuration changes in core_membership.cc.
#include "replication/internal/core.h"

#include <pthread.h>

#include <future>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "replication/internal/raft_status.h"

namespace mvkv::replication_internal {
namespace {

constexpr uint64_t kInfoRefreshMs = 50;
// How long closing waits for the leader's log writes in flight.
constexpr absl::Duration kCloseDrain = absl::Seconds(2);

unsigned Millis(absl::Duration d) {
  return static_cast<unsigned>(absl::ToInt64Milliseconds(d));
}

// libraft's clock (raft_io.time), read at the call. raft_uv's own is
// uv_now(), the loop's time cached when it last polled: a message read after
// the loop was held up (descheduled) would restart a follower's election
// timer as if it had arrived that much earlier, and shorten the time in
// which no other node can lead (read_lease.h (a)). The same clock as uv_now
// (CLOCK_MONOTONIC, ms); libraft only compares its readings with each other.
raft_time FreshTime(struct raft_io* /*io*/) { return uv_hrtime() / 1000000; }

replication::MemberRole RoleOf(int raft_role) {
  switch (raft_role) {
    case RAFT_STANDBY:
      return replication::MemberRole::kStandby;
    case RAFT_SPARE:
      return replication::MemberRole::kSpare;
    default:
      return replication::MemberRole::kVoter;
  }
}

}  // namespace

Core::Core(const replication::NodeOptions& options, std::string raft_dir,
           bool fresh, Replica* replica)
    : options_(options),
      raft_dir_(std::move(raft_dir)),
      fresh_(fresh),
      replica_(replica),
      budget_(options.snapshot_trailing, options.max_log_bytes),
      // libraft takes whole milliseconds (Millis): the same T.
      lease_(absl::Milliseconds(absl::ToInt64Milliseconds(
                 options.election_timeout)),
             options.read_lease && !options.data_dir.empty()) {
  info_.cluster_id = options.cluster_id;
  info_.node_id = options.node_id;
  info_.role = replication::Role::kStopped;
}

Core::~Core() { Stop(); }

absl::Status Core::Start() {
  std::promise<absl::Status> started;
  std::future<absl::Status> result = started.get_future();
  thread_ = std::thread([this, &started] { RunLoop(&started); });
  absl::Status s = result.get();
  if (!s.ok()) {
    thread_.join();  // the loop closed what it had opened
    return s;
  }
  started_ = true;
  return s;
}

void Core::RunLoop(std::promise<absl::Status>* started) {
  // Named for tools and the stall harness (name=mvkv-raft); libuv's
  // worker threads, started from here, inherit the name.
  pthread_setname_np(pthread_self(), "mvkv-raft");
  if (const int rv = uv_loop_init(&loop_); rv != 0) {
    started->set_value(absl::UnavailableError(
        absl::StrCat("cannot start the replication loop: ", uv_strerror(rv))));
    return;
  }
  absl::Status s = StartOnLoop();
  const bool ok = s.ok();
  // `started` lives in Start's frame, which may end right after this.
  started->set_value(std::move(s));
  if (!ok) StopOnLoop();
  uv_run(&loop_, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop_) == UV_EBUSY) {
    // A handle left open (none should be): close it before the loop's
    // memory goes with this object.
    uv_walk(
        &loop_,
        [](uv_handle_t* h, void*) {
          if (!uv_is_closing(h)) uv_close(h, nullptr);
        },
        nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }
}

absl::Status Core::StartOnLoop() {
  if (inbox_.Init(&loop_) != 0 || uv_check_init(&loop_, &check_) != 0 ||
      uv_timer_init(&loop_, &timer_) != 0) {
    return absl::UnavailableError("cannot create the replication loop handles");
  }
  check_.data = this;
  timer_.data = this;
  if (const int rv = raft_uv_tcp_init(&tcp_, &loop_); rv != 0) {
    return RaftStatus(rv, "raft TCP transport", tcp_.errmsg);
  }
  transport_ = std::make_unique<TunedTransport>(
      &tcp_, Millis(options_.peer_send_timeout));
  if (const int rv = raft_uv_init(&io_, &loop_, raft_dir_.c_str(),
                                  transport_->transport());
      rv != 0) {
    absl::Status s = RaftStatus(rv, absl::StrCat("raft storage in ", raft_dir_),
                                io_.errmsg);
    raft_uv_tcp_close(&tcp_);
    transport_.reset();
    return s;
  }
  // libraft 0.15's raft_uv_init fills in async_work (a v2 field) but says
  // version 1, and raft_init refuses an FSM with snapshot_async on a v1 io.
  io_.version = 2;
  io_.time = &FreshTime;
  fsm_.version = 3;
  fsm_.data = this;
  fsm_.apply = &FsmApply;
  fsm_.snapshot = &FsmSnapshot;
  fsm_.snapshot_async = &FsmSnapshotAsync;
  fsm_.snapshot_finalize = &FsmSnapshotFinalize;
  fsm_.restore = &FsmRestore;
  if (const int rv = raft_init(&raft_, &io_, &fsm_, options_.node_id,
                               options_.raft_address.c_str());
      rv != 0) {
    absl::Status s = RaftStatus(rv, "raft_init", raft_.errmsg);
    raft_uv_close(&io_);
    raft_uv_tcp_close(&tcp_);
    transport_.reset();
    return s;
  }
  raft_.data = this;
  raft_open_ = true;
  if (fresh_ && !options_.bootstrap.empty()) {
    raft_configuration conf;
    raft_configuration_init(&conf);
    int rv = 0;
    for (const replication::Member& m : options_.bootstrap) {
      rv = raft_configuration_add(&conf, m.id, m.raft_address.c_str(),
                                  RAFT_VOTER);
      if (rv != 0) break;
    }
    if (rv == 0) rv = raft_bootstrap(&raft_, &conf);
    raft_configuration_close(&conf);
    if (rv != 0) return RaftStatus(rv, "raft_bootstrap", raft_errmsg(&raft_));
  }
  for (const replication::Member& m : options_.bootstrap) {
    told_addresses_[m.id] = m.client_address;
  }
  told_addresses_[options_.node_id] = options_.client_address;
  raft_set_election_timeout(&raft_, Millis(options_.election_timeout));
  raft_set_heartbeat_timeout(&raft_, Millis(options_.heartbeat_interval));
  raft_set_install_snapshot_timeout(&raft_,
                                    Millis(options_.install_snapshot_timeout));
  raft_set_snapshot_threshold(&raft_, options_.snapshot_threshold);
  raft_set_snapshot_trailing(&raft_, options_.snapshot_trailing);
  // A node that was cut off asks before it bumps its term: it cannot make a
  // healthy leader step down when it comes back.
  raft_set_pre_vote(&raft_, true);
  if (const int rv = raft_start(&raft_); rv != 0) {
    if (!failure_.ok()) return failure_;  // our own reason (a bad snapshot)
    // A failed listen (the Raft address in use) leaves libraft's message at
    // "I/O error"; the transport's says what failed.
    const char* transport_error = transport_->transport()->errmsg;
    return RaftStatus(rv, absl::StrCat("raft_start (", raft_dir_, ", ",
                                       options_.raft_address, ")"),
                      transport_error[0] != '\0' ? transport_error
                                                  : raft_errmsg(&raft_));
  }
  running_ = true;
  uv_check_start(&check_, &OnCheck);
  uv_timer_start(&timer_, &OnTimer, 0, kInfoRefreshMs);
  RefreshInfo();
  return absl::OkStatus();
}

void Core::Stop() {
  if (!started_) return;
  started_ = false;
  stopping_.store(true, std::memory_order_release);
  // If the inbox is already closed the loop is ending by itself.
  Post([this](bool on_loop) {
    if (on_loop) StopOnLoop();
  });
  thread_.join();
}

void Core::StopOnLoop() {
  if (stop_started_) return;
  stop_started_ = true;
  const bool was_running = running_;
  running_ = false;
  lease_.Invalidate();
  stopping_.store(true, std::memory_order_release);
  FailReads(absl::UnavailableError("the node is shutting down"));
  if (was_running) {
    std::lock_guard<std::mutex> lock(info_mu_);
    info_.role = replication::Role::kStopped;
    info_.ready = false;
  }
  close_deadline_ = absl::Now() + kCloseDrain;
  if (timer_.loop == &loop_) uv_timer_start(&timer_, &OnCloseTimer, 1, 1);
  MaybeCloseRaft();
}

void Core::OnCloseTimer(uv_timer_t* handle) {
  static_cast<Core*>(handle->data)->MaybeCloseRaft();
}

void Core::MaybeCloseRaft() {
  // libraft 0.15 can crash in raft_close while log writes are in flight
  // (seen under ASan: its entry reference table walked off a NULL link in
  // refsDecr, in 2 of 8 runs; none in 20 with this wait). The likely path:
  // close cancels every pending leader append and each cancelled one
  // truncates the log from its first index, so a later one can start past
  // the new end. New entries are refused now (running_ is false): let the
  // writes in flight finish first, for at most kCloseDrain.
  if (raft_open_ && raft_.last_stored < raft_last_index(&raft_) &&
      absl::Now() < close_deadline_) {
    return;
  }
  for (uv_handle_t* h : {reinterpret_cast<uv_handle_t*>(&check_),
                         reinterpret_cast<uv_handle_t*>(&timer_)}) {
    if (h->loop == &loop_ && !uv_is_closing(h)) uv_close(h, nullptr);
  }
  if (raft_open_) {
    raft_open_ = false;
    // Fails the proposal, barriers and changes in flight (their callbacks
    // run inside), then closes the I/O; OnRaftClosed finishes.
    raft_close(&raft_, &OnRaftClosed);
  } else {
    inbox_.Close();
  }
}

void Core::OnRaftClosed(raft* r) {
  Core* self = static_cast<Core*>(r->data);
  raft_uv_close(&self->io_);
  raft_uv_tcp_close(&self->tcp_);
  // Proposals still queued fail now (running_ is false).
  self->inbox_.Close();
}

void Core::OnCheck(uv_check_t* handle) {
  static_cast<Core*>(handle->data)->CheckRole();
}

void Core::OnTimer(uv_timer_t* handle) {
  static_cast<Core*>(handle->data)->RefreshInfo();
}

void Core::StallForTesting(absl::Duration d,
                           const std::atomic<bool>* release) {
  const absl::Time end = absl::Now() + d;
  // Bound: `d`.
  while (absl::Now() < end &&
         (release == nullptr || !release->load(std::memory_order_acquire))) {
    absl::SleepFor(absl::Milliseconds(5));
  }
}

void Core::Fatal(absl::Status status) {
  if (!failure_.ok()) return;
  failure_ = status;
  if (!running_) return;  // during raft_start: StartOnLoop returns it
  FinishProposal(BatchNotCommittedError(absl::StrCat(
      "replication stopped on this node: ", status.ToString())));
  StepDown();
  // The engine refuses commits for good; reads go on at the last state.
  applier_->Push(ApplierItem{.kind = ApplierItem::Kind::kRefuse,
                             .refusal = absl::UnavailableError(absl::StrCat(
                                 "replication stopped on this node: ",
                                 status.ToString()))});
  // Leave the group's traffic: closing raft lets the others elect and
  // replace this node. Not from inside libraft's callback: next iteration.
  Post([this](bool on_loop) {
    if (on_loop) StopOnLoop();
  });
  RefreshInfo();
}

void Core::OnApplierFailed(absl::Status status) {
  Fatal(absl::DataLossError(absl::StrCat(
      "the engine refused what the log applied: ", status.ToString())));
}

replication::ClusterInfo Core::Info() const {
  std::lock_guard<std::mutex> lock(info_mu_);
  return info_;
}

void Core::RefreshInfo() {
  if (!running_) return;
  replication::ClusterInfo info;
  info.cluster_id = options_.cluster_id;
  info.node_id = options_.node_id;
  switch (raft_state(&raft_)) {
    case RAFT_LEADER:
      info.role = replication::Role::kLeader;
      break;
    case RAFT_CANDIDATE:
      info.role = replication::Role::kCandidate;
      break;
    case RAFT_FOLLOWER:
      info.role = replication::Role::kFollower;
      break;
    default:
      info.role = replication::Role::kStopped;
  }
  info.ready = leader_state_ == LeaderState::kReady;
  info.term = raft_.current_term;
  raft_id leader = 0;
  const char* leader_address = nullptr;
  raft_leader(&raft_, &leader, &leader_address);
  info.leader_id = leader;
  if (leader_address != nullptr) info.leader_raft_address = leader_address;
  info.leader_client_address = ClientAddressOf(leader);
  info.last_leader_change = last_leader_change_;
  info.leader_changes = leader_changes_;
  info.last_log_index = raft_last_index(&raft_);
  info.commit_index = raft_.commit_index;
  info.applied_index = raft_last_applied(&raft_);
  info.snapshot_index = raft_.log.snapshot.last_index;
  info.applied_ts = applied_ts_;
  const raft_log& log = raft_.log;
  for (std::size_t i = log.front; i != log.back; i = (i + 1) % log.size) {
    ++info.log_entries;
    info.log_bytes += log.entries[i].buf.len;
  }
  info.applier_queue = applier_->queued();
  info.snapshots_taken = snapshots_taken_.load(std::memory_order_relaxed);
  info.snapshots_installed =
      snapshots_installed_.load(std::memory_order_relaxed);
  info.snapshot_failures = snapshot_failures_.load(std::memory_order_relaxed);
  info.failure = failure_;
  const bool leading = raft_state(&raft_) == RAFT_LEADER;
  for (unsigned i = 0; i < raft_.configuration.n; ++i) {
    const raft_server& s = raft_.configuration.servers[i];
    replication::MemberInfo m;
    m.id = s.id;
    m.raft_address = s.address;
    m.client_address = ClientAddressOf(s.id);
    m.role = RoleOf(s.role);
    if (leading) {
      m.match_index = raft_.leader_state.progress[i].match_index;
      m.lag = info.last_log_index > m.match_index
                  ? info.last_log_index - m.match_index
                  : 0;
    }
    info.members.push_back(std::move(m));
  }
  std::lock_guard<std::mutex> lock(info_mu_);
  info_ = std::move(info);
}

}  // namespace mvkv::replication_internal
