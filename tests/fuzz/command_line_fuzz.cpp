// Fuzzes the command lines of kubenat's commands: the input is the argument
// list, one argument per line; its first byte picks the flag set (run, bench,
// or plan's proxy and route flags, validated into their configurations).

#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "rules/model.h"
#include "tools/kubenat/bench_flags.h"
#include "tools/kubenat/flags.h"
#include "tools/kubenat/proxy_flags.h"
#include "tools/kubenat/route_flags.h"
#include "tools/kubenat/run_flags.h"

namespace kubenat {
namespace {

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    lines.emplace_back(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

void plan_flags(const std::vector<std::string>& args) {
  ProxyFlags proxy;
  RouteFlags routes;
  bool help = false;
  FlagSet flags("plan");
  proxy.register_flags(flags);
  routes.register_flags(flags);
  flags.add_bool("help", &help, "help");
  std::ostringstream out;
  std::ostringstream err;
  if (!parse_command_line(flags, args, help, "help", out, err)) return;
  (void)make_proxy_config(proxy, ClusterState{});
  (void)make_route_config(routes, proxy.node);
}

}  // namespace
}  // namespace kubenat

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kubenat;
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  // File names lead to file reading (--config, --kubeconfig), which is not
  // what this target is about; a name without '/' is looked up in the
  // working directory, where no such file is.
  if (text.find('/') != std::string_view::npos) return 0;
  const std::vector<std::string> args = split_lines(text);
  switch (data[0] % 3) {
    case 0: {
      std::ostringstream warnings;
      (void)parse_run_flags(args, warnings);
      (void)run_help_requested(args);
      break;
    }
    case 1:
      (void)parse_bench_flags(args);
      break;
    default:
      plan_flags(args);
      break;
  }
  return 0;
}
