#include "bench/isolated_run.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <optional>

namespace kubenat::bench {
namespace {

// Writes all of `text`; false when the reader is gone.
bool write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t written = ::write(fd, text.data(), text.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    text.remove_prefix(static_cast<std::size_t>(written));
  }
  return true;
}

[[noreturn]] void child_main(int fd,
                             const std::function<std::expected<nlohmann::json, std::string>(ChildChannel&)>& work) {
  ChildChannel channel(fd);
  int status = 0;
  try {
    auto result = work(channel);
    if (result) {
      channel.send_outcome({{"result", std::move(*result)}});
    } else {
      channel.send_outcome({{"error", result.error()}});
      status = 1;
    }
  } catch (const std::exception& e) {
    // A bug in the work; the parent reports it for this piece of work only.
    channel.send_outcome({{"error", std::string("uncaught exception: ") + e.what()}});
    status = 1;
  } catch (...) {
    channel.send_outcome({{"error", "uncaught exception of unknown type"}});
    status = 1;
  }
  ::close(fd);
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  ::_exit(status);
}

std::string describe_status(int status) {
  if (WIFSIGNALED(status)) {
    const int signal = WTERMSIG(status);
    return "was killed by signal " + std::to_string(signal) + " (" + ::strsignal(signal) + ")";
  }
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  return "ended with wait status " + std::to_string(status);
}

}  // namespace

bool ChildChannel::send(const nlohmann::json& message) { return send_outcome({{"message", message}}); }

bool ChildChannel::send_outcome(const nlohmann::json& line) {
  // dump() escapes newlines inside strings: one document, one line.
  return write_all(fd_, line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

std::expected<nlohmann::json, std::string> run_isolated(
    const std::function<std::expected<nlohmann::json, std::string>(ChildChannel& channel)>& work,
    const IsolatedRunHooks& hooks) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return std::unexpected(std::string("pipe2: ") + std::strerror(errno));
  // Whatever the parent buffered would otherwise be written twice.
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    const std::string error = std::string("fork: ") + std::strerror(errno);
    ::close(fds[0]);
    ::close(fds[1]);
    return std::unexpected(error);
  }
  if (pid == 0) {
    ::close(fds[0]);
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
    child_main(fds[1], work);
  }
  ::close(fds[1]);

  std::optional<nlohmann::json> result;
  std::optional<std::string> error;
  std::string buffer;
  char chunk[65536];
  const int interval = static_cast<int>(hooks.idle_interval.count());
  auto handle_line = [&](std::string_view line) {
    nlohmann::json message = nlohmann::json::parse(line, nullptr, false);
    if (message.is_discarded() || !message.is_object()) {
      error = "unreadable message from the child: " + std::string(line.substr(0, 200));
    } else if (message.contains("message")) {
      if (hooks.on_message) hooks.on_message(message["message"]);
    } else if (message.contains("result")) {
      result = std::move(message["result"]);
    } else if (message.contains("error") && message["error"].is_string()) {
      error = message["error"].get<std::string>();
    } else {
      error = "unreadable message from the child: " + std::string(line.substr(0, 200));
    }
  };
  bool killed = false;
  const auto kill_if_cancelled = [&] {
    if (killed || !hooks.cancelled || !hooks.cancelled()) return;
    ::kill(pid, SIGKILL);
    killed = true;
  };
  while (true) {
    pollfd p{fds[0], POLLIN, 0};
    const int ready = ::poll(&p, 1, interval > 0 ? interval : -1);
    if (ready < 0 && errno == EINTR) {
      kill_if_cancelled();
      continue;
    }
    if (ready == 0) {
      kill_if_cancelled();
      if (hooks.on_idle) hooks.on_idle();
      continue;
    }
    const ssize_t got = ::read(fds[0], chunk, sizeof chunk);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;  // the child closed its end: done or dead
    buffer.append(chunk, static_cast<std::size_t>(got));
    std::size_t start = 0;
    for (std::size_t newline; (newline = buffer.find('\n', start)) != std::string::npos; start = newline + 1) {
      handle_line(std::string_view(buffer).substr(start, newline - start));
    }
    buffer.erase(0, start);
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const bool clean_exit = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (result && clean_exit) return std::move(*result);
  if (error) return std::unexpected(*error);
  return std::unexpected("the child " + describe_status(status) + " before sending a result");
}

}  // namespace kubenat::bench
