#pragma once

// kube-proxy's names for the per-service and per-endpoint chains. They must
// match upstream byte for byte: users, dashboards and kube-proxy's own
// stale-chain cleanup recognise chains by these names.

#include <string>
#include <string_view>

#include "rules/iptables/chain_name.h"
#include "rules/iptables/sha256.h"
#include "rules/model.h"

namespace kubenat {

// Names the chains of many service ports and endpoints with one SHA-256
// hasher: what a compile uses. The free functions below make a namer per
// call, for callers that name a few chains.
class ChainNamer {
 public:
  // chain_hash() below.
  std::string chain_hash(std::string_view input);
  // service_port_hash() below.
  std::string service_port_hash(const ServicePortName& name);
  // sep_chain_from_prefix() below.
  ChainName sep_chain_from_prefix(std::string_view prefix, std::string_view endpoint);

 private:
  void chain_hash_into(std::string_view input, char* out);
  Sha256 sha256_;
};

// The first 16 characters of the RFC 4648 base32 encoding (standard
// alphabet, upper case) of sha256(input).
std::string chain_hash(std::string_view input);

// chain_hash(name.to_string() + protocol_lower(name.protocol)): the suffix
// shared by the SVC, SVL, EXT and FW chains of one service port. Callers that
// need several of those chains may compute it once and add the prefixes.
std::string service_port_hash(const ServicePortName& name);

std::string svc_chain(const ServicePortName& name);  // "KUBE-SVC-<hash>"
std::string svl_chain(const ServicePortName& name);  // "KUBE-SVL-<hash>"
std::string ext_chain(const ServicePortName& name);  // "KUBE-EXT-<hash>"
std::string fw_chain(const ServicePortName& name);   // "KUBE-FW-<hash>"

// "KUBE-SEP-" + chain_hash(name.to_string() + protocol + endpoint), where
// endpoint is "IP:port" as join_host_port() writes it (normalised address,
// brackets around IPv6).
std::string sep_chain(const ServicePortName& name, std::string_view endpoint);

// The hash input every chain of one service port starts with:
// name.to_string() + protocol_lower(name.protocol).
std::string chain_hash_prefix(const ServicePortName& name);
// sep_chain() for callers that name many endpoints of one service port and
// computed chain_hash_prefix() once.
ChainName sep_chain_from_prefix(std::string_view prefix, std::string_view endpoint);

}  // namespace kubenat
