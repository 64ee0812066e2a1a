#pragma once

#include <string>
#include <vector>

namespace kubenat {

// A problem found in input: which object, which field, what is wrong. The
// object or field it names is skipped; the rest is still used.
struct Diagnostic {
  std::string object;   // "Service ns1/svc1", "EndpointSlice ns1/svc1-abc", "snapshot"
  std::string field;    // "spec.ports[1].protocol"; empty when it is the object as a whole
  std::string message;  // "unsupported protocol \"ICMP\"; port skipped"

  // "Service ns1/svc1: spec.clusterIP: invalid IP \"1.2.3\"; service skipped"
  std::string to_string() const;
};

using Diagnostics = std::vector<Diagnostic>;

}  // namespace kubenat
