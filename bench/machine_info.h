#pragma once

// The machine a bench ran on, for the report: figures from two machines are
// not comparable, so every table and JSON file says where it came from.

#include <string>

namespace kubenat::bench {

struct MachineInfo {
  std::string cpu;  // /proc/cpuinfo's model name
  int cpus = 0;     // online
  double memory_gib = 0;
  std::string kernel;     // uname -r
  std::string date;       // when the bench started, UTC, ISO 8601
  std::string iptables;   // `iptables-nft --version`, or empty
  std::string hostname;

  // "Intel(R) Xeon(R) Processor, 2 CPUs, 23.5 GiB, Linux 6.1.0, iptables v1.8.9 (nf_tables)"
  std::string summary() const;
};

// Reads the running machine; fields it cannot read stay empty or 0.
MachineInfo describe_machine();

}  // namespace kubenat::bench
