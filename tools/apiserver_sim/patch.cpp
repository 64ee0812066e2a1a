#include "tools/apiserver_sim/patch.h"

#include <algorithm>
#include <map>

namespace kubenat::apiserver_sim {
namespace {

using nlohmann::json;

constexpr std::string_view kSetElementOrder = "$setElementOrder/";
constexpr std::string_view kDeleteFromPrimitiveList = "$deleteFromPrimitiveList/";

// The merge keys of the object lists that have a "merge" patch strategy in
// the Kubernetes types served here, by path from the object root. Lists not
// named here are replaced whole (atomic), as the real server does for lists
// without a strategy (EndpointSlice endpoints and ports, for instance).
const std::map<std::string, std::string, std::less<>>& merge_keys() {
  static const std::map<std::string, std::string, std::less<>> keys = {
      {"spec.ports", "port"},
      {"metadata.ownerReferences", "uid"},
      {"status.conditions", "type"},
      {"status.addresses", "type"},
  };
  return keys;
}

// Lists of scalars merged as sets.
bool is_primitive_merge_list(std::string_view path) { return path == "metadata.finalizers"; }

std::string child_path(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }

std::expected<json, std::string> strategic_merge(json target, const json& patch, const std::string& path);

std::expected<json, std::string> merge_object_list(json target, const json& patch, const std::string& key,
                                                   const std::string& path) {
  if (!target.is_array()) target = json::array();
  for (const json& element : patch) {
    if (!element.is_object() || !element.contains(key)) {
      return std::unexpected(path + ": list element without merge key \"" + key + "\"");
    }
    auto existing = std::find_if(target.begin(), target.end(), [&](const json& candidate) {
      return candidate.is_object() && candidate.contains(key) && candidate[key] == element[key];
    });
    const bool remove = element.contains("$patch") && element["$patch"] == "delete";
    if (remove) {
      if (existing != target.end()) target.erase(existing);
      continue;
    }
    if (existing == target.end()) {
      json added = element;
      added.erase("$patch");
      target.push_back(std::move(added));
    } else {
      auto merged = strategic_merge(*existing, element, path);
      if (!merged) return merged;
      *existing = std::move(*merged);
    }
  }
  return target;
}

// $setElementOrder/LIST: the order the client wants; elements not named keep
// their relative order after the named ones.
json reorder(const json& list, const json& order, const std::string& key) {
  if (!list.is_array() || !order.is_array()) return list;
  json ordered = json::array();
  std::vector<bool> used(list.size(), false);
  for (const json& wanted : order) {
    for (std::size_t i = 0; i < list.size(); ++i) {
      if (used[i]) continue;
      const bool same = key.empty() ? list[i] == wanted
                                    : (list[i].is_object() && wanted.is_object() && list[i].contains(key) &&
                                       wanted.contains(key) && list[i][key] == wanted[key]);
      if (same) {
        ordered.push_back(list[i]);
        used[i] = true;
        break;
      }
    }
  }
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (!used[i]) ordered.push_back(list[i]);
  }
  return ordered;
}

std::expected<json, std::string> strategic_merge(json target, const json& patch, const std::string& path) {
  if (!patch.is_object()) return patch;
  if (auto directive = patch.find("$patch"); directive != patch.end()) {
    if (*directive == "replace") {
      json replaced = patch;
      replaced.erase("$patch");
      return replaced;
    }
    if (*directive == "delete") return json(nullptr);
    if (*directive != "merge") return std::unexpected(path + ": unknown $patch directive " + directive->dump());
  }
  if (!target.is_object()) target = json::object();
  if (auto retain = patch.find("$retainKeys"); retain != patch.end() && retain->is_array()) {
    for (auto it = target.begin(); it != target.end();) {
      if (std::find(retain->begin(), retain->end(), it.key()) == retain->end()) {
        it = target.erase(it);
      } else {
        ++it;
      }
    }
  }
  std::map<std::string, const json*> orders;
  for (const auto& [key, value] : patch.items()) {
    if (key == "$patch" || key == "$retainKeys") continue;
    if (key.starts_with(kSetElementOrder)) {
      orders[key.substr(kSetElementOrder.size())] = &value;
      continue;
    }
    if (key.starts_with(kDeleteFromPrimitiveList)) {
      const std::string list = key.substr(kDeleteFromPrimitiveList.size());
      if (target.contains(list) && target[list].is_array() && value.is_array()) {
        json& items = target[list];
        for (const json& gone : value) items.erase(std::remove(items.begin(), items.end(), gone), items.end());
      }
      continue;
    }
    const std::string here = child_path(path, key);
    if (value.is_null()) {
      target.erase(key);
    } else if (value.is_object()) {
      auto merged = strategic_merge(target.contains(key) ? target[key] : json::object(), value, here);
      if (!merged) return merged;
      if (merged->is_null()) {
        target.erase(key);
      } else {
        target[key] = std::move(*merged);
      }
    } else if (value.is_array()) {
      auto merge_key = merge_keys().find(here);
      if (merge_key != merge_keys().end()) {
        auto merged = merge_object_list(target.contains(key) ? target[key] : json::array(), value, merge_key->second, here);
        if (!merged) return merged;
        target[key] = std::move(*merged);
      } else if (is_primitive_merge_list(here)) {
        json& items = target[key];
        if (!items.is_array()) items = json::array();
        for (const json& item : value) {
          if (std::find(items.begin(), items.end(), item) == items.end()) items.push_back(item);
        }
      } else {
        target[key] = value;
      }
    } else {
      target[key] = value;
    }
  }
  for (const auto& [key, order] : orders) {
    if (!target.contains(key)) continue;
    auto merge_key = merge_keys().find(child_path(path, key));
    target[key] = reorder(target[key], *order, merge_key == merge_keys().end() ? "" : merge_key->second);
  }
  return target;
}

}  // namespace

std::optional<PatchType> patch_type_from_content_type(std::string_view content_type) {
  const std::string_view media = content_type.substr(0, content_type.find(';'));
  if (media == "application/json-patch+json") return PatchType::Json;
  if (media == "application/merge-patch+json") return PatchType::Merge;
  if (media == "application/strategic-merge-patch+json") return PatchType::Strategic;
  if (media == "application/apply-patch+yaml" || media == "application/apply-patch+json") return PatchType::Apply;
  return std::nullopt;
}

std::expected<json, std::string> apply_patch(const json& target, const json& patch, PatchType type) {
  switch (type) {
    case PatchType::Json:
      if (!patch.is_array()) return std::unexpected("a JSON patch must be an array of operations");
      try {
        return target.patch(patch);
      } catch (const json::exception& error) {
        return std::unexpected(std::string("JSON patch: ") + error.what());
      }
    case PatchType::Merge: {
      if (!patch.is_object()) return std::unexpected("a merge patch must be a JSON object");
      json result = target;
      result.merge_patch(patch);
      return result;
    }
    case PatchType::Strategic:
    case PatchType::Apply: {
      if (!patch.is_object()) return std::unexpected("a strategic merge patch must be a JSON object");
      auto result = strategic_merge(target, patch, "");
      if (result && !result->is_object()) return std::unexpected("the patch deletes the whole object");
      return result;
    }
  }
  return std::unexpected("unknown patch type");
}

}  // namespace kubenat::apiserver_sim
