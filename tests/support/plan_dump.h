#pragma once

// Lets the kernel test check every plan the unit tests compile: when
// KUBENAT_PLAN_DUMP_DIR is set, each plan passed here is rendered to
// <dir>/<Suite>.<Test>-<n>.rules, which
// tests/e2e/plans_accepted_by_iptables_restore.sh feeds to
// `iptables-restore --test`.

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "rules/iptables/plan.h"
#include "rules/iptables/render.h"

namespace kubenat::testing {

// Rendered iptables-restore text of the given family.
inline void dump_rules_for_kernel_check(std::string_view rules, IpFamily family) {
  const char* dir = std::getenv("KUBENAT_PLAN_DUMP_DIR");
  if (dir == nullptr || *dir == '\0') return;
  const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string(test->test_suite_name()) + "." + test->name();
  for (char& c : name) {
    if (c == '/') c = '_';
  }
  const std::string base = std::string(dir) + "/" + name + "-";
  for (int n = 0;; ++n) {
    const std::string path = base + std::to_string(n) + ".rules";
    if (std::ifstream(path).good()) continue;
    std::ofstream out(path);
    out << "# family: " << ip_family_name(family) << "\n" << rules;
    return;
  }
}

inline void dump_plan_for_kernel_check(const IptablesPlan& plan) {
  if (std::getenv("KUBENAT_PLAN_DUMP_DIR") == nullptr) return;
  dump_rules_for_kernel_check(render_iptables_restore(plan), plan.family);
}

}  // namespace kubenat::testing
