#include "engine/conntrack/cleaner.h"

#include <charconv>

#include "engine/process.h"

namespace kubenat {

std::expected<std::size_t, std::string> ProcessConntrackCleaner::remove(const ConntrackFilter& filter) {
  std::vector<std::string> argv;
  if (netns_) argv = {"ip", "netns", "exec", *netns_};
  argv.insert(argv.end(), {"conntrack", "-D", "-p", "udp", "-f", filter.family == IpFamily::V4 ? "ipv4" : "ipv6"});
  if (filter.original_destination) argv.insert(argv.end(), {"--orig-dst", filter.original_destination->to_string()});
  if (filter.original_destination_port) {
    argv.insert(argv.end(), {"--orig-port-dst", std::to_string(*filter.original_destination_port)});
  }
  if (filter.reply_source) argv.insert(argv.end(), {"--reply-src", filter.reply_source->to_string()});
  if (filter.reply_source_port) argv.insert(argv.end(), {"--reply-port-src", std::to_string(*filter.reply_source_port)});
  ProcessOptions options;
  options.timeout = std::chrono::seconds(30);
  auto result = run_process(argv, options);
  if (!result) return std::unexpected(result.error());
  // "conntrack v1.4.7 (conntrack-tools): N flow entries have been deleted."
  // It exits 1 when N is 0, which is not a failure here.
  const std::string& text = result->err;
  const std::size_t at = text.find("): ");
  std::size_t deleted = 0;
  bool counted = false;
  if (at != std::string::npos) {
    const char* begin = text.data() + at + 3;
    counted = std::from_chars(begin, text.data() + text.size(), deleted).ec == std::errc();
  }
  if (!result->ok() && !(counted && deleted == 0)) {
    return std::unexpected(describe_command(argv) + ": " + text);
  }
  return deleted;
}

ConntrackCleanup clean_stale_flows(ConntrackCleaner& cleaner, const std::vector<ConntrackFilter>& filters,
                                   std::vector<std::string>& warnings) {
  const auto start = std::chrono::steady_clock::now();
  ConntrackCleanup done;
  done.filters = filters.size();
  for (const ConntrackFilter& filter : filters) {
    auto removed = cleaner.remove(filter);
    if (removed) {
      done.deleted += *removed;
    } else {
      warnings.push_back("conntrack cleanup " + filter.to_string() + ": " + removed.error());
    }
  }
  done.took = std::chrono::steady_clock::now() - start;
  return done;
}

}  // namespace kubenat
