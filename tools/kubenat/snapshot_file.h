#pragma once

#include <expected>
#include <string>

#include "rules/snapshot.h"

namespace kubenat {

// Reads and decodes a snapshot file. The error is one line naming the file.
[[nodiscard]] std::expected<Snapshot, std::string> load_snapshot_file(const std::string& path);

}  // namespace kubenat
