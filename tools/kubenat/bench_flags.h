#pragma once

// The flags of `kubenat bench`, parsed into the options bench/ runs with.

#include <expected>
#include <span>
#include <string>

#include "bench/bench_options.h"

namespace kubenat {

// Parses the flags after `kubenat bench`. The error is one line naming the
// flag and the value it refused.
[[nodiscard]] std::expected<bench::BenchOptions, std::string> parse_bench_flags(std::span<const std::string> args);

// The flags with their help, for `kubenat bench --help`.
std::string bench_usage();

}  // namespace kubenat
