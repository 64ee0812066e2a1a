#pragma once

// Kernel settings read and written as the integer files of /proc/sys and
// /sys, behind an interface so that what the daemon decides to set is
// unit-tested with a fake and the real files in a network namespace.

#include <expected>
#include <string>

namespace kubenat {

class SysctlFiles {
 public:
  virtual ~SysctlFiles() = default;
  // `path` is absolute: "/proc/sys/net/netfilter/nf_conntrack_max".
  [[nodiscard]] virtual std::expected<long, std::string> read(const std::string& path) = 0;
  [[nodiscard]] virtual std::expected<void, std::string> write(const std::string& path, long value) = 0;
};

// The files themselves. Errors name the path and the errno's text
// ("Read-only file system", "Permission denied", ...).
class KernelSysctlFiles final : public SysctlFiles {
 public:
  std::expected<long, std::string> read(const std::string& path) override;
  std::expected<void, std::string> write(const std::string& path, long value) override;
};

}  // namespace kubenat
