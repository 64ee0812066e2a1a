// Fuzzes kubeconfig files (YAML): contexts, clusters, users, inline base64
// data. The file's directory does not exist, so relative file references
// fail as missing files instead of reading whatever lies around.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "watch/api_config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // An absolute file reference could name a device that never ends
  // (/dev/zero); the file reading is not what this target is about.
  if (text.find("/dev") != std::string_view::npos || text.find("/proc") != std::string_view::npos) return 0;
  (void)kubenat::parse_kubeconfig_text(text, "/nonexistent-kubenat-fuzz/kubeconfig");
  return 0;
}
