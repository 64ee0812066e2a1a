// Fuzzes the KubeProxyConfiguration file `kubenat run --config` reads (YAML
// or JSON), and the /configz text made from whatever it accepted.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/daemon/kube_proxy_configuration.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kubenat;
  auto loaded = parse_kube_proxy_configuration(std::string_view(reinterpret_cast<const char*>(data), size), RunConfig{});
  if (loaded) (void)configz(loaded->config);
  return 0;
}
