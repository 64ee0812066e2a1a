#include "engine/daemon/sysctl_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace kubenat {
namespace {

std::string failure(const std::string& what, const std::string& path, int error) {
  return what + " " + path + ": " + std::strerror(error);
}

}  // namespace

std::expected<long, std::string> KernelSysctlFiles::read(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::unexpected(failure("cannot open", path, errno));
  char buffer[64];
  const ssize_t n = ::read(fd, buffer, sizeof buffer - 1);
  const int error = errno;
  ::close(fd);
  if (n < 0) return std::unexpected(failure("cannot read", path, error));
  // The kernel writes "262144\n"; a file of several values is not ours to read.
  const char* end = buffer + n;
  while (end > buffer && (end[-1] == '\n' || end[-1] == ' ')) --end;
  long value = 0;
  const auto [stop, ec] = std::from_chars(buffer, end, value);
  if (ec != std::errc() || stop != end || end == buffer) {
    return std::unexpected(path + ": not an integer: \"" + std::string(buffer, static_cast<std::size_t>(end - buffer)) +
                           "\"");
  }
  return value;
}

std::expected<void, std::string> KernelSysctlFiles::write(const std::string& path, long value) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return std::unexpected(failure("cannot open", path, errno));
  const std::string text = std::to_string(value) + "\n";
  const ssize_t n = ::write(fd, text.data(), text.size());
  const int error = errno;
  // Some settings (hashsize) refuse at close, not at write.
  const int closed = ::close(fd);
  const int close_error = errno;
  if (n < 0) return std::unexpected(failure("cannot write", path, error));
  if (static_cast<std::size_t>(n) != text.size()) return std::unexpected("short write to " + path);
  if (closed != 0) return std::unexpected(failure("cannot write", path, close_error));
  return {};
}

}  // namespace kubenat
