#include "bench/ycsb/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "bench/ycsb/exit_guard.h"

namespace mvkv::ycsb {

namespace {

std::string TmpRoot() {
  const char* t = std::getenv("TEST_TMPDIR");
  return t != nullptr ? t : "/tmp";
}

std::string MakeTempDir(const std::string& prefix) {
  std::string tmpl = TmpRoot() + "/" + prefix + "-XXXXXX";
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

bool Exited(pid_t pid) {
  int status = 0;
  return waitpid(pid, &status, WNOHANG) == pid;
}

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
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
  p->log_path_ = absl::StrCat(TmpRoot(), "/ycsb-mvkv_server-", getpid(), ".log");
  std::vector<std::string> argv = {binary, "--listen=127.0.0.1:0"};
  argv.insert(argv.end(), args.begin(), args.end());
  p->pid_ = Spawn(argv, p->log_path_);
  p->WatchForExit();
  static const std::regex kServing("\"msg\":\"serving\".*\"port\":\"([0-9]+)\"");
  for (int i = 0; i < 600; ++i) {
    std::smatch m;
    const std::string log = ReadFile(p->log_path_);
    if (std::regex_search(log, m, kServing)) {
      p->address_ = absl::StrCat("127.0.0.1:", m[1].str());
      return p;
    }
    if (Exited(p->pid_)) {
      p->pid_ = -1;
      return absl::InternalError("mvkv_server exited: " + log);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return absl::DeadlineExceededError("mvkv_server did not start; log " +
                                     p->log_path_);
}

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::StartEtcd(
    const std::string& binary) {
  std::unique_ptr<ChildProcess> p(new ChildProcess());
  p->data_dir_ = MakeTempDir("ycsb-etcd");
  p->log_path_ = p->data_dir_ + ".log";
  const int client_port = FreePort(), peer_port = FreePort();
  const std::string client = absl::StrCat("http://127.0.0.1:", client_port);
  p->pid_ = Spawn({binary, "--data-dir=" + p->data_dir_,
                   "--listen-client-urls=" + client,
                   "--advertise-client-urls=" + client,
                   absl::StrCat("--listen-peer-urls=http://127.0.0.1:", peer_port),
                   absl::StrCat("--initial-advertise-peer-urls=http://127.0.0.1:", peer_port),
                   absl::StrCat("--initial-cluster=default=http://127.0.0.1:", peer_port),
                   "--quota-backend-bytes=8589934592"},
                  p->log_path_);
  p->WatchForExit();
  for (int i = 0; i < 300; ++i) {
    if (Accepts(client_port)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      p->address_ = absl::StrCat("127.0.0.1:", client_port);
      return p;
    }
    if (Exited(p->pid_)) {
      p->pid_ = -1;
      return absl::InternalError("etcd exited: " + ReadFile(p->log_path_));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return absl::DeadlineExceededError("etcd did not start; log " + p->log_path_);
}

void ChildProcess::WatchForExit() {
  exit_hook_ = std::make_unique<ExitHook>([this] { Terminate(); });
}

ChildProcess::~ChildProcess() {
  exit_hook_.reset();  // waits if the exit guard is running it
  Terminate();
}

void ChildProcess::Terminate() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    bool reaped = false;
    for (int i = 0; i < 100 && !(reaped = Exited(pid_)); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!reaped) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
  }
  std::error_code ec;
  if (!data_dir_.empty()) std::filesystem::remove_all(data_dir_, ec);
}

}  // namespace mvkv::ycsb
