#pragma once

// SysctlFiles in memory: the kernel's values by path; a path can be made
// unreadable or read-only, as in a container.

#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine/daemon/sysctl_files.h"

namespace kubenat {

class FakeSysctlFiles final : public SysctlFiles {
 public:
  std::expected<long, std::string> read(const std::string& path) override {
    auto it = values.find(path);
    if (it == values.end()) return std::unexpected("cannot open " + path + ": No such file or directory");
    return it->second;
  }
  std::expected<void, std::string> write(const std::string& path, long value) override {
    if (read_only.contains(path)) return std::unexpected("cannot open " + path + ": Read-only file system");
    writes.push_back(path);
    values[path] = value;
    return {};
  }

  std::map<std::string, long> values;
  std::set<std::string> read_only;
  std::vector<std::string> writes;  // in order
};

}  // namespace kubenat
