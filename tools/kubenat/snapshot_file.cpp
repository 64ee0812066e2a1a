#include "tools/kubenat/snapshot_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace kubenat {

std::expected<Snapshot, std::string> load_snapshot_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected(path + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return std::unexpected(path + ": read error");
  auto snapshot = read_snapshot(text.str());
  if (!snapshot) return std::unexpected(path + ": " + snapshot.error());
  return snapshot;
}

}  // namespace kubenat
