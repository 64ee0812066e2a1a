#pragma once

// Server-side printing: the meta.k8s.io Table kubectl asks for (Accept:
// application/json;as=Table;v=v1;g=meta.k8s.io), with the columns the real
// server prints for the served kinds.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/apiserver_sim/resources.h"

namespace kubenat::apiserver_sim {

enum class IncludeObject { None, Metadata, Object };

struct TableRequest {
  std::string api_version;  // "meta.k8s.io/v1" or "meta.k8s.io/v1beta1"
  IncludeObject include = IncludeObject::Metadata;
};

// The Table wanted by an Accept header, or nullopt when it does not ask for
// one. include_object is the ?includeObject= parameter ("" = Metadata).
std::optional<TableRequest> table_request(std::string_view accept, std::string_view include_object);

// A Table of objects (null metadata fields are fine). list_metadata goes in
// as the Table's metadata (resourceVersion, continue).
nlohmann::json make_table(ResourceId resource, const std::vector<const nlohmann::json*>& objects,
                          const TableRequest& request, nlohmann::json list_metadata,
                          std::chrono::system_clock::time_point now);

}  // namespace kubenat::apiserver_sim
