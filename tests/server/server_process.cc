#include "tests/server/server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

extern char** environ;

namespace mvkv::testing {
namespace {

int ExitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

pid_t Spawn(const std::vector<std::string>& argv, const std::string& in_path,
            const std::string& out_path, const std::string& err_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (!in_path.empty()) {
    posix_spawn_file_actions_addopen(&actions, 0, in_path.c_str(), O_RDONLY, 0);
  }
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> args;
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ) !=
      0) {
    pid = -1;
  }
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

std::string TmpRoot() {
  const char* t = std::getenv("TEST_TMPDIR");
  return t != nullptr ? t : "/tmp";
}

std::atomic<int> counter{0};

}  // namespace

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string Runfile(const std::string& path) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  if (srcdir == nullptr) return path;
  return absl::StrCat(srcdir, "/", workspace != nullptr ? workspace : "mvkv",
                      "/", path);
}

std::string NewTempDir(const std::string& name) {
  std::string dir = absl::StrCat(TmpRoot(), "/", name, "-", getpid(), "-",
                                 counter.fetch_add(1));
  mkdir(dir.c_str(), 0755);
  return dir;
}

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Start(
    const std::vector<std::string>& args, client::ClientOptions probe, int port,
    absl::Duration timeout) {
  std::unique_ptr<ServerProcess> server(new ServerProcess());
  server->log_path_ = absl::StrCat(NewTempDir("server-log"), "/server.log");
  std::vector<std::string> argv = {Runfile("server/mvkv_server"),
                                   absl::StrCat("--listen=127.0.0.1:", port)};
  argv.insert(argv.end(), args.begin(), args.end());
  server->pid_ = Spawn(argv, "/dev/null", "/dev/null", server->log_path_);
  if (server->pid_ < 0) return absl::InternalError("cannot spawn mvkv_server");
  const absl::Time deadline = absl::Now() + timeout;
  static const std::regex kServing(
      "\"msg\":\"serving\".*\"port\":\"([0-9]+)\",\"metrics_port\":\"([0-9]+)"
      "\"");
  while (server->port_ == 0) {
    std::smatch m;
    const std::string log = server->Log();
    if (std::regex_search(log, m, kServing)) {
      server->port_ = std::stoi(m[1]);
      server->metrics_port_ = std::stoi(m[2]);
      break;
    }
    int status = 0;
    if (waitpid(server->pid_, &status, WNOHANG) == server->pid_) {
      server->pid_ = -1;
      return absl::InternalError(absl::StrCat("mvkv_server exited: ", log));
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError("mvkv_server did not start: " + log);
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  probe.timeout = absl::Seconds(2);
  auto client = server->NewClient(probe);
  absl::Status health;
  while (!(health = client->Health()).ok()) {
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("mvkv_server not SERVING: ", health.ToString()));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return server;
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
}

std::string ServerProcess::address() const {
  return absl::StrCat("127.0.0.1:", port_);
}

std::string ServerProcess::Log() const { return ReadAll(log_path_); }

int ServerProcess::Stop(int signal, absl::Duration timeout) {
  if (pid_ <= 0) return -1;
  kill(pid_, signal);
  const absl::Time deadline = absl::Now() + timeout;
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) != pid_) {
    if (absl::Now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      pid_ = -1;
      return -1;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  pid_ = -1;
  std::printf("server stopped in %s\n",
              absl::FormatDuration(absl::Now() - (deadline - timeout)).c_str());
  return ExitCodeOf(status);
}

long ServerProcess::RssKb() const {
  std::ifstream in(absl::StrCat("/proc/", pid_, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::strtol(line.c_str() + 6, nullptr, 10);
    }
  }
  return 0;
}

std::unique_ptr<client::Client> ServerProcess::NewClient(
    client::ClientOptions options) const {
  options.server = address();
  return client::Client::Connect(options).value();
}

ProcessResult RunProcess(const std::vector<std::string>& argv,
                         const std::string& stdin_text) {
  const std::string dir = NewTempDir("proc");
  const std::string in = dir + "/in", out = dir + "/out", err = dir + "/err";
  std::ofstream(in, std::ios::binary) << stdin_text;
  ProcessResult result;
  const pid_t pid = Spawn(argv, in, out, err);
  if (pid < 0) return result;
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = ExitCodeOf(status);
  result.out = ReadAll(out);
  result.err = ReadAll(err);
  return result;
}

pid_t SpawnProcess(const std::vector<std::string>& argv,
                   const std::string& out_path) {
  return Spawn(argv, "/dev/null", out_path, out_path + ".err");
}

int ConnectLoopback(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

std::string HttpGet(int port, const std::string& path) {
  const int fd = ConnectLoopback(port);
  if (fd < 0) return "";
  const std::string request =
      absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
  (void)!write(fd, request.data(), request.size());
  std::string response;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) response.append(buf, n);
  close(fd);
  return response;
}

}  // namespace mvkv::testing
