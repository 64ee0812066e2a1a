#include "engine/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <utility>

extern char** environ;

namespace kubenat {
namespace {

// A file descriptor that closes itself.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  Fd read;
  Fd write;
};

std::expected<Pipe, std::string> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return std::unexpected(std::string("pipe2: ") + std::strerror(errno));
  return Pipe{Fd(fds[0]), Fd(fds[1])};
}

std::vector<char*> c_argv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const std::string& arg : argv) out.push_back(const_cast<char*>(arg.c_str()));
  out.push_back(nullptr);
  return out;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

}  // namespace

std::string describe_command(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& arg : argv) {
    if (!out.empty()) out += ' ';
    if (arg.find_first_of(" \t\"'") != std::string::npos) {
      out += '\'' + arg + '\'';
    } else {
      out += arg;
    }
  }
  return out;
}

std::expected<ProcessResult, std::string> run_process(const std::vector<std::string>& argv,
                                                      const ProcessOptions& options) {
  if (argv.empty()) return std::unexpected("run_process: empty command");
  auto in = make_pipe();
  auto out = make_pipe();
  auto err = make_pipe();
  if (!in || !out || !err) return std::unexpected(argv[0] + ": " + (!in ? in.error() : !out ? out.error() : err.error()));

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in->read.get(), STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out->write.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err->write.get(), STDERR_FILENO);
  pid_t pid = -1;
  std::vector<char*> args = c_argv(argv);
  const int spawned = ::posix_spawnp(&pid, argv[0].c_str(), &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) return std::unexpected(argv[0] + ": cannot run: " + std::strerror(spawned));
  in->read.reset();
  out->write.reset();
  err->write.reset();

  // Feed stdin and drain stdout/stderr together, so that neither side
  // blocks on a full pipe.
  ProcessResult result;
  std::string_view pending = options.input;
  if (pending.empty()) in->write.reset();
  ::fcntl(in->write.get(), F_SETFL, O_NONBLOCK);
  const auto deadline = options.timeout ? std::chrono::steady_clock::now() + *options.timeout
                                        : std::chrono::steady_clock::time_point::max();
  std::array<char, 65536> buffer;
  bool timed_out = false;
  while (out->read.get() >= 0 || err->read.get() >= 0) {
    std::array<pollfd, 3> fds{};
    nfds_t n = 0;
    if (out->read.get() >= 0) fds[n++] = {out->read.get(), POLLIN, 0};
    if (err->read.get() >= 0) fds[n++] = {err->read.get(), POLLIN, 0};
    if (in->write.get() >= 0) fds[n++] = {in->write.get(), POLLOUT, 0};
    int wait_ms = -1;
    if (options.timeout) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        timed_out = true;
        break;
      }
      wait_ms = static_cast<int>(std::min<long long>(left.count(), 1000));
    }
    const int ready = ::poll(fds.data(), n, wait_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (nfds_t i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == in->write.get()) {
        const ssize_t written = ::write(in->write.get(), pending.data(), pending.size());
        if (written > 0) pending.remove_prefix(static_cast<std::size_t>(written));
        if ((written < 0 && errno != EAGAIN && errno != EINTR) || pending.empty()) in->write.reset();
        continue;
      }
      const bool is_out = fds[i].fd == out->read.get();
      const ssize_t got = ::read(fds[i].fd, buffer.data(), buffer.size());
      if (got > 0) {
        (is_out ? result.out : result.err).append(buffer.data(), static_cast<std::size_t>(got));
      } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
        (is_out ? out->read : err->read).reset();
      }
    }
  }
  in->write.reset();
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) return std::unexpected(argv[0] + ": timed out after " + std::to_string(options.timeout->count()) + " ms");
  result.exit_status = decode_status(status);
  return result;
}

std::expected<BackgroundProcess, std::string> BackgroundProcess::start(const std::vector<std::string>& argv) {
  if (argv.empty()) return std::unexpected("BackgroundProcess: empty command");
  pid_t pid = -1;
  std::vector<char*> args = c_argv(argv);
  const int spawned = ::posix_spawnp(&pid, argv[0].c_str(), nullptr, nullptr, args.data(), environ);
  if (spawned != 0) return std::unexpected(argv[0] + ": cannot run: " + std::strerror(spawned));
  return BackgroundProcess(pid);
}

BackgroundProcess::BackgroundProcess(BackgroundProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), status_(other.status_) {}

BackgroundProcess& BackgroundProcess::operator=(BackgroundProcess&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0) stop();
    pid_ = std::exchange(other.pid_, -1);
    status_ = other.status_;
  }
  return *this;
}

BackgroundProcess::~BackgroundProcess() {
  if (pid_ > 0) stop();
}

bool BackgroundProcess::running() {
  if (pid_ <= 0 || status_) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    status_ = decode_status(status);
    return false;
  }
  return true;
}

int BackgroundProcess::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return -1;
  if (running()) {
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + grace;
    while (running() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (running()) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      status_ = decode_status(status);
    }
  }
  pid_ = -1;
  return status_.value_or(-1);
}

bool program_in_path(std::string_view name) {
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  while (true) {
    const std::size_t colon = dirs.find(':');
    const std::string_view dir = dirs.substr(0, colon);
    const std::string candidate = std::string(dir.empty() ? "." : dir) + "/" + std::string(name);
    if (::access(candidate.c_str(), X_OK) == 0) return true;
    if (colon == std::string_view::npos) return false;
    dirs.remove_prefix(colon + 1);
  }
}

}  // namespace kubenat
