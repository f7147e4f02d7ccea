#include "bench/ycsb/process.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/ycsb/exit_guard.h"
#include "common/ports.h"
#include "grpcpp/grpcpp.h"
#include "proto/kv.grpc.pb.h"

namespace mvkv::ycsb {

namespace {

std::string TmpRoot() {
  const char* t = std::getenv("TEST_TMPDIR");
  return t != nullptr ? t : "/tmp";
}

std::string MakeTempDir(const std::string& prefix,
                        const std::string& root = TmpRoot()) {
  std::string tmpl = root + "/" + prefix + "-XXXXXX";
  return mkdtemp(tmpl.data()) != nullptr ? tmpl : "";
}

pid_t Spawn(const std::vector<std::string>& argv, const std::string& log) {
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid != 0) return pid;
  // The harness blocks its stop signals (exit_guard.h); the server must not
  // inherit that. If the harness dies, even by SIGKILL, the server is told
  // to stop (the harness's main thread forks, and lives as long as it).
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != parent) _exit(127);  // it died before prctl
  const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const int null = open("/dev/null", O_RDWR);
  dup2(null, 0);
  dup2(fd, 1);
  dup2(fd, 2);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execv(args[0], args.data());
  _exit(127);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// REQUIRES: pid > 0 and the caller owns it (process.h, invariant 1).
// True once it is reaped; ECHILD means nobody is left to wait for.
bool Exited(pid_t pid) {
  int status = 0;
  const pid_t r = waitpid(pid, &status, WNOHANG);
  return r == pid || (r < 0 && errno == ECHILD);
}

// kill() for one child only (process.h, invariant 2).
void SignalChild(pid_t pid, int sig) {
  if (pid > 0) kill(pid, sig);
}

bool Accepts(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool ok =
      connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::StartMvkvServer(
    const std::string& binary, const std::vector<std::string>& args) {
  std::unique_ptr<ChildProcess> p(new ChildProcess());
  std::vector<std::string> argv = {binary, "--listen=127.0.0.1:0"};
  argv.insert(argv.end(), args.begin(), args.end());
  // Numbered: servers one harness starts (several targets of one run, or
  // one after another) never share, or truncate, a live log.
  static std::atomic<int> started{0};
  p->SpawnLogged(
      argv, absl::StrCat(std::filesystem::path(binary).filename().string(), "-",
                         started.fetch_add(1)));
  if (absl::Status s = p->WaitServing(); !s.ok()) return s;
  return p;
}

void ChildProcess::SpawnLogged(const std::vector<std::string>& argv,
                               const std::string& name) {
  argv_ = argv;
  name_ = name;
  log_path_ = absl::StrCat(TmpRoot(), "/ycsb-", name, "-", getpid(), ".log");
  const pid_t pid = Spawn(argv, log_path_);
  {
    std::lock_guard<std::mutex> l(mu_);
    pid_ = pid;
  }
  WatchForExit();
}

absl::Status ChildProcess::WaitServing() {
  static const std::regex kServing("\"msg\":\"serving\".*\"port\":\"([0-9]+)\"");
  for (int i = 0; i < 600; ++i) {
    std::smatch m;
    const std::string log = ReadFile(log_path_);
    if (std::regex_search(log, m, kServing)) {
      address_ = absl::StrCat("127.0.0.1:", m[1].str());
      return absl::OkStatus();
    }
    if (ReapIfExited()) {
      return absl::InternalError("mvkv_server exited or was stopped: " + log);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return absl::DeadlineExceededError("mvkv_server did not start; log " +
                                     log_path_);
}

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::StartEtcd(
    const std::string& binary) {
  absl::StatusOr<std::vector<std::unique_ptr<ChildProcess>>> m =
      StartEtcdCluster(binary, 1);
  if (!m.ok()) return m.status();
  return std::move((*m)[0]);
}

absl::StatusOr<std::vector<std::unique_ptr<ChildProcess>>>
ChildProcess::StartEtcdCluster(const std::string& binary, int members) {
  if (members < 1) return absl::InvalidArgumentError("etcd needs >= 1 member");
  std::vector<int> client_port(members), peer_port(members);
  std::string initial;
  for (int i = 0; i < members; ++i) {
    client_port[i] = common::FreePort();
    peer_port[i] = common::FreePort();
    absl::StrAppend(&initial, i == 0 ? "" : ",", "m", i + 1,
                    "=http://127.0.0.1:", peer_port[i]);
  }
  std::vector<std::unique_ptr<ChildProcess>> out;
  for (int i = 0; i < members; ++i) {
    std::unique_ptr<ChildProcess> p(new ChildProcess());
    p->data_dir_ = MakeTempDir("ycsb-etcd");
    p->log_path_ = p->data_dir_ + ".log";
    const std::string client = absl::StrCat("http://127.0.0.1:", client_port[i]);
    const std::string peer = absl::StrCat("http://127.0.0.1:", peer_port[i]);
    const pid_t pid = Spawn({binary, absl::StrCat("--name=m", i + 1),
                     "--data-dir=" + p->data_dir_,
                     "--listen-client-urls=" + client,
                     "--advertise-client-urls=" + client,
                     "--listen-peer-urls=" + peer,
                     "--initial-advertise-peer-urls=" + peer,
                     "--initial-cluster=" + initial,
                     "--initial-cluster-state=new",
                     "--quota-backend-bytes=8589934592"},
                    p->log_path_);
    {
      std::lock_guard<std::mutex> l(p->mu_);
      p->pid_ = pid;
    }
    p->WatchForExit();
    p->address_ = absl::StrCat("127.0.0.1:", client_port[i]);
    out.push_back(std::move(p));
  }
  for (int i = 0; i < members; ++i) {
    ChildProcess& p = *out[i];
    int tries = 0;
    // Bound: 300 tries, 0.1 s apart.
    for (; tries < 300 && !Accepts(client_port[i]); ++tries) {
      if (p.ReapIfExited()) {
        return absl::InternalError("etcd exited: " + ReadFile(p.log_path_));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (tries == 300) {
      return absl::DeadlineExceededError("etcd did not start; log " + p.log_path_);
    }
  }
  return out;
}

void ChildProcess::WatchForExit() {
  exit_hook_ = std::make_unique<ExitHook>([this] { Terminate(); });
}

ChildProcess::~ChildProcess() {
  exit_hook_.reset();  // waits if the exit guard is running it
  Terminate();
}

pid_t ChildProcess::pid() const {
  std::lock_guard<std::mutex> l(mu_);
  return pid_;
}

bool ChildProcess::ReapIfExited() {
  std::lock_guard<std::mutex> l(mu_);
  if (pid_ > 0 && Exited(pid_)) pid_ = -1;
  return pid_ <= 0;
}

void ChildProcess::Terminate() {
  pid_t pid = -1;
  {
    // Take the child (invariant 1): from here only this call waits for it,
    // so the main thread's WaitServing() cannot reap it under us and leave
    // us signalling a stale or negative pid.
    std::lock_guard<std::mutex> l(mu_);
    std::swap(pid, pid_);
  }
  if (pid > 0) {
    SignalChild(pid, SIGTERM);
    bool reaped = false;
    for (int i = 0; i < 100 && !(reaped = Exited(pid)); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!reaped) {
      SignalChild(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
  std::error_code ec;
  if (!data_dir_.empty()) std::filesystem::remove_all(data_dir_, ec);
}

void ChildProcess::Kill(const std::function<void()>& stopped) {
  pid_t pid = -1;
  {
    std::lock_guard<std::mutex> l(mu_);  // take it: invariant 1
    std::swap(pid, pid_);
  }
  if (pid > 0) {
    SignalChild(pid, SIGSTOP);
    stopped();
    SignalChild(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
}

absl::Status MvkvCluster::Restart(int i) {
  ChildProcess& p = *nodes_[i];
  if (p.pid() > 0) return absl::FailedPreconditionError("node is running");
  p.SpawnLogged(p.argv_, p.name_);
  return p.WaitServing();
}

absl::StatusOr<std::unique_ptr<MvkvCluster>> MvkvCluster::Start(
    const std::string& binary, int nodes, const std::vector<std::string>& args,
    const std::string& data_root) {
  if (nodes < 1) return absl::InvalidArgumentError("--start_cluster needs N >= 1");
  std::vector<std::string> client(nodes), raft(nodes);
  std::string peers;
  for (int i = 0; i < nodes; ++i) {
    client[i] = absl::StrCat("127.0.0.1:", common::FreePort());
    raft[i] = absl::StrCat("127.0.0.1:", common::FreePort());
    absl::StrAppend(&peers, i == 0 ? "" : ",", i + 1, "=", raft[i], "/", client[i]);
  }
  std::unique_ptr<MvkvCluster> c(new MvkvCluster());
  // Spawn all before waiting on any: a node may wait for its peers.
  for (int i = 0; i < nodes; ++i) {
    std::unique_ptr<ChildProcess> p(new ChildProcess());
    std::vector<std::string> argv = {
        binary, "--listen=" + client[i], "--raft_listen=" + raft[i],
        absl::StrCat("--node_id=", i + 1), "--peers=" + peers};
    if (!data_root.empty()) {
      p->data_dir_ = MakeTempDir(absl::StrCat("ycsb-node", i + 1), data_root);
      if (p->data_dir_.empty()) {
        // The documented contract: DIR must exist (it chooses the disk;
        // creating a mistyped path would put the nodes somewhere else).
        const int error = errno;
        return absl::InvalidArgumentError(absl::StrCat(
            "--cluster_data_dir=", data_root, ": ",
            error == ENOENT || error == ENOTDIR
                ? "no such directory (create it first)"
                : absl::StrCat("cannot create a directory there (",
                               std::strerror(error), ")")));
      }
      argv.push_back("--data_dir=" + p->data_dir_);
      argv.push_back("--create");
    }
    argv.insert(argv.end(), args.begin(), args.end());
    p->SpawnLogged(argv, absl::StrCat("node", i + 1));
    c->nodes_.push_back(std::move(p));
  }
  for (const std::unique_ptr<ChildProcess>& p : c->nodes_) {
    if (absl::Status s = p->WaitServing(); !s.ok()) return s;
  }
  if (absl::Status s = c->WaitForLeader(); !s.ok()) return s;
  return c;
}

std::string MvkvCluster::addresses() const {
  std::string out;
  for (const std::unique_ptr<ChildProcess>& p : nodes_) {
    absl::StrAppend(&out, out.empty() ? "" : ",", p->address());
  }
  return out;
}

bool MvkvCluster::Serves(int i, absl::Duration timeout) {
  if (stubs_.size() != nodes_.size()) {
    stubs_.clear();
    for (const std::unique_ptr<ChildProcess>& p : nodes_) {
      stubs_.push_back(v1::KV::NewStub(grpc::CreateChannel(
          p->address(), grpc::InsecureChannelCredentials())));
    }
  }
  // A raw stub, not a client::Client: the client's router would follow a
  // refusal's mvkv-leader and send later probes of node i to the leader.
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  v1::GetRequest request;
  request.set_key("ycsb/probe/leader");
  v1::GetResponse response;
  const grpc::Status s = stubs_[i]->Get(&context, request, &response);
  return s.ok() || s.error_code() == grpc::StatusCode::NOT_FOUND;
}

absl::Status MvkvCluster::WaitForLeader() {
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  // Bound: the deadline.
  while (absl::Now() < deadline) {
    for (int i = 0; i < size(); ++i) {
      if (Serves(i, absl::Seconds(2))) {
        leader_ = i;
        return absl::OkStatus();
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return absl::DeadlineExceededError("the cluster elected no leader in 60 s");
}

}  // namespace mvkv::ycsb
