#pragma once

// The second baseline `kubenat bench` compares against: upstream kube-proxy's
// nftables mode (kubernetes/kubernetes pkg/proxy/nftables/proxier.go, driven
// through knftables) as it writes to the kernel. Table "kube-proxy" in family
// ip; the service-ips and service-nodeports verdict maps go to per-service
// chains "service-<hash>-<ns>/<name>/<proto>/<port>" (and "external-",
// "local-", "firewall-"), whose numgen vmap goes to per-endpoint chains
// "endpoint-<hash>-..." that DNAT.
//
// Driven as kube-proxy drives it: each sync lists the table's chains and sets
// (`nft -j list chains ip`, `nft -j list sets ip`, to flush stale service
// chains and delete stale affinity sets) and hands one transaction as text to
// `nft -f -`. A full sync (the first) writes the whole table; a partial sync
// writes the changed Services' chains and rules whole, and of the map and set
// elements only those that differ from what the proxier wrote before (its
// nftElementStorage): it does not read the rules or elements back.

#include <chrono>
#include <expected>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "rules/model.h"
#include "rules/proxy_config.h"

namespace kubenat::bench {

// What the sync loop of one kube-proxy nftables proxier remembers between
// syncs: the elements it wrote to each map and set.
class KubeProxyNftables {
 public:
  explicit KubeProxyNftables(ProxyConfig config);

  // One sync's transaction, cut in sections: the table's fixed part (a full
  // sync only), then one section per service port with its chains, elements
  // and rules (empty for an unchanged service port of a partial sync that
  // changed no element), then the stale objects' flushes and deletes. Joined,
  // they are the text kube-proxy hands to `nft -f -`; taken a few service
  // ports at a time, the same table in several transactions.
  struct Transaction {
    std::vector<std::string> sections;
    std::string text() const;
  };

  // The full sync of `state`: the fixed part and every service port, the maps
  // and sets flushed first. The proxier's first sync also deletes and
  // recreates its base chains.
  Transaction full_sync(const ClusterState& state);

  // A partial sync after the Services `changed` changed (added, removed, or
  // their endpoints changed) in `state`. `existing_chains` and
  // `existing_sets` are the names the listing found in the table.
  Transaction partial_sync(const ClusterState& state, const std::set<ObjectName>& changed,
                           const std::vector<std::string>& existing_chains,
                           const std::vector<std::string>& existing_sets);

 private:
  struct ElementStorage {
    std::string kind;  // "set" or "map"
    std::string name;
    std::map<std::string, std::string> elements;  // key -> value, as nft writes them
    std::set<std::string> leftover;
  };

  Transaction sync(const ClusterState& state, const std::set<ObjectName>* changed,
                   const std::vector<std::string>& existing_chains, const std::vector<std::string>& existing_sets);

  ProxyConfig config_;
  bool flushed_ = false;
  std::vector<ElementStorage> storages_;
};

// kube-proxy's chain-name base: the first 8 characters of the base32 of
// sha256(`name`), "-", then `name`, cut to 240 characters with "..." at the end.
std::string kube_proxy_nft_name_base(const std::string& name);

// Runs `nft -f -` with `text` in network namespace `netns`. Returns its wall
// time in milliseconds, or nullopt when it was still running after `timeout`
// and was killed (nothing applied: a transaction). The error is for an nft
// that could not run or refused the transaction, with its message.
[[nodiscard]] std::expected<std::optional<double>, std::string> nft_transaction(const std::string& netns,
                                                                                const std::string& text,
                                                                                std::chrono::milliseconds timeout);

// The names of the chains ("chains") or sets ("sets") of table "kube-proxy"
// in `netns`, listed as knftables lists them: `nft -j list <what> ip`
// (run through nsenter, which joins the namespace only).
[[nodiscard]] std::expected<std::vector<std::string>, std::string> nft_list_names(const std::string& netns,
                                                                                  const std::string& what);

// The names of `json` (the output of `nft -j list chains|sets ip`) whose
// table is "kube-proxy"; `what` is "chains" or "sets".
[[nodiscard]] std::expected<std::vector<std::string>, std::string> parse_nft_list_names(const std::string& json,
                                                                                        const std::string& what);

}  // namespace kubenat::bench
