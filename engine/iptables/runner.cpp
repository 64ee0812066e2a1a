#include "engine/iptables/runner.h"

namespace kubenat {

std::vector<std::string> ProcessIptablesRunner::command(IpFamily family, std::string_view tool) const {
  std::vector<std::string> argv;
  if (netns_) argv = {"ip", "netns", "exec", *netns_};
  std::string name = family == IpFamily::V4 ? "iptables" : "ip6tables";
  name += mode_ == IptablesMode::Nft ? "-nft" : "-legacy";
  if (!tool.empty()) {
    name += '-';
    name += tool;
  }
  argv.push_back(std::move(name));
  return argv;
}

std::expected<void, std::string> ProcessIptablesRunner::restore(IpFamily family, const std::string& payload) {
  std::vector<std::string> argv = command(family, "restore");
  const std::string tool = argv.back();
  argv.insert(argv.end(), {"--noflush", "--wait"});
  auto result = run_process(argv, ProcessOptions{.input = payload});
  if (!result) return std::unexpected(result.error());
  if (!result->ok()) {
    // The first lines say what and where; the rest is usage boilerplate.
    std::string message = result->err.empty() ? result->out : result->err;
    if (auto at = message.find("\nTry `"); at != std::string::npos) message.resize(at);
    while (!message.empty() && message.back() == '\n') message.pop_back();
    for (char& c : message) {
      if (c == '\n') c = ' ';
    }
    return std::unexpected(tool + " exited with status " + std::to_string(result->exit_status) + ": " + message);
  }
  return {};
}

std::expected<std::string, std::string> ProcessIptablesRunner::save(IpFamily family, std::string_view table) {
  std::vector<std::string> argv = command(family, "save");
  const std::string tool = argv.back();
  argv.insert(argv.end(), {"-t", std::string(table)});
  auto result = run_process(argv);
  if (!result) return std::unexpected(result.error());
  if (!result->ok()) return std::unexpected(tool + " -t " + std::string(table) + ": " + result->err);
  return std::move(result->out);
}

std::expected<ProcessResult, std::string> ProcessIptablesRunner::run(IpFamily family,
                                                                     const std::vector<std::string>& args) {
  std::vector<std::string> argv = command(family, "");
  argv.push_back("-w");
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv);
}

std::size_t recommended_payload_bytes(IptablesMode mode) {
  return mode == IptablesMode::Legacy ? 0 : 128 * 1024;
}

IptablesMode detect_iptables_mode() {
  auto result = run_process({"iptables", "--version"});
  if (result && result->out.find("legacy") != std::string::npos) return IptablesMode::Legacy;
  return IptablesMode::Nft;
}

}  // namespace kubenat
