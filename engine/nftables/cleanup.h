#pragma once

// Deleting a whole nftables table: kube-proxy's nftables mode's (`kube-proxy`)
// or kubenat's own, for `kubenat cleanup` and for `kubenat run` in another
// mode. Never any other table.

#include <expected>
#include <string>

#include "engine/nftables/transport.h"

namespace kubenat {

// Deletes table `name` of `family` when it exists: one GETTABLE, then one
// transaction of `add table; delete table`, which also succeeds when the table
// went meanwhile. True when there was a table to delete.
[[nodiscard]] std::expected<bool, std::string> delete_nftables_table(NftTransport& transport, IpFamily family,
                                                                     const std::string& name);

}  // namespace kubenat
