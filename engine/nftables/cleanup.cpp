#include "engine/nftables/cleanup.h"

#include <cstring>

namespace kubenat {
namespace {

std::string table_words(IpFamily family, const std::string& name) {
  return std::string("table ") + (family == IpFamily::V4 ? "ip " : "ip6 ") + name;
}

}  // namespace

std::expected<bool, std::string> delete_nftables_table(NftTransport& transport, IpFamily family,
                                                       const std::string& name) {
  auto handle = transport.table_handle(family, name);
  if (!handle) return std::unexpected(handle.error());
  if (!*handle) return false;
  NftBatch batch(family, name, 1);
  batch.add_table();
  batch.delete_table();
  batch.finish();
  auto answers = transport.send(batch);
  if (!answers) return std::unexpected("deleting " + table_words(family, name) + ": " + answers.error());
  for (const NftAck& ack : *answers) {
    if (ack.error != 0) {
      return std::unexpected("deleting " + table_words(family, name) + ": " + std::strerror(ack.error));
    }
  }
  return true;
}

}  // namespace kubenat
