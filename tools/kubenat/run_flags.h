#pragma once

// The flags of `kubenat run`: kube-proxy's names and meanings, so that a
// kube-proxy DaemonSet's command line works unchanged. Flags may be written
// "--name value", "--name=value" or with one dash ("-v=2", "-v 2").
//
// Precedence: the --config file (a KubeProxyConfiguration) is read first,
// onto kube-proxy's defaults; then every flag given explicitly on the
// command line overrides it. kube-proxy differs slightly: with --config it
// ignores most flags. One limit: an empty list flag ("--nodeport-addresses=")
// cannot clear a list the file set. As in kube-proxy, --iptables-sync-period,
// --iptables-min-sync-period and --masquerade-all apply in nftables mode too
// (to the file's nftables section), --iptables-masquerade-bit does not.

#include <expected>
#include <iosfwd>
#include <span>
#include <string>

#include "engine/daemon/run_config.h"

namespace kubenat {

// Parses and validates the arguments after "run". Settings of the mode
// section that does not apply (select_proxy_mode_section() in
// engine/daemon/kube_proxy_configuration.h) are reported to `warnings`, one
// line each, prefixed "kubenat run: warning: ". Errors are one line starting
// "kubenat run: " and name the flag (and the config field, where both can
// set the value). Positional arguments are an error. --help is accepted and
// otherwise ignored: check run_help_requested() first.
[[nodiscard]] std::expected<RunConfig, std::string> parse_run_flags(std::span<const std::string> args,
                                                                    std::ostream& warnings);

// Whether the arguments ask for help (-h, --help, before any "--").
bool run_help_requested(std::span<const std::string> args);

// The usage text: a synopsis, the precedence rule and one line per flag.
std::string run_flags_usage();

}  // namespace kubenat
