#pragma once

// The PATCH flavours kubectl and client-go send, applied to a JSON object.

#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace kubenat::apiserver_sim {

enum class PatchType {
  Json,       // application/json-patch+json (RFC 6902)
  Merge,      // application/merge-patch+json (RFC 7386)
  Strategic,  // application/strategic-merge-patch+json
  Apply,      // application/apply-patch+yaml (server-side apply)
};

// From the request's Content-Type; nullopt for anything else (415).
std::optional<PatchType> patch_type_from_content_type(std::string_view content_type);

// Returns the patched object, or a one-line message (for 422 Invalid).
//
// Strategic merge knows the merge keys of the lists that matter here
// (Service spec.ports by port, metadata.ownerReferences by uid, Node
// status.conditions and status.addresses by type, metadata.finalizers as a
// set) and the $patch, $retainKeys, $setElementOrder and
// $deleteFromPrimitiveList directives; other lists are replaced, as for
// lists without a patch strategy. Apply is treated as a strategic merge of
// the applied configuration: fields a manager stops applying are not
// removed, which real server-side apply would do.
[[nodiscard]] std::expected<nlohmann::json, std::string> apply_patch(const nlohmann::json& target,
                                                                     const nlohmann::json& patch, PatchType type);

}  // namespace kubenat::apiserver_sim
