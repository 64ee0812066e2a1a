#pragma once

// The kubenat subcommands. Each takes its arguments (after the command
// name) and the streams to write to, and returns the process exit code:
// 0 success, 1 failure, 2 bad usage.

#include <iosfwd>
#include <span>
#include <string>

namespace kubenat {

int plan_command(std::span<const std::string> args, std::ostream& out, std::ostream& err);
int apply_command(std::span<const std::string> args, std::ostream& out, std::ostream& err);
int run_command(std::span<const std::string> args, std::ostream& out, std::ostream& err);
int routes_command(std::span<const std::string> args, std::ostream& out, std::ostream& err);
int cleanup_command(std::span<const std::string> args, std::ostream& out, std::ostream& err);
int bench_command(std::span<const std::string> args, std::ostream& out, std::ostream& err);

}  // namespace kubenat
