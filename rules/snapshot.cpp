#include "rules/snapshot.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <exception>
#include <iterator>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "rules/decode.h"
#include "rules/json_or_yaml.h"

namespace kubenat {
namespace {

using nlohmann::json;

constexpr std::string_view kSnapshot = "snapshot";
// kubectl never nests lists; the bound only keeps recursion shallow.
constexpr int kMaxListDepth = 8;

// Why a document is not a Kubernetes object or list, or empty if it is one.
std::string not_an_object_reason(const json& document) {
  if (!document.is_object()) {
    return std::string("top-level value is ") +
           (document.is_array() ? "an array" : std::string("a ") + document.type_name());
  }
  const auto kind = document.find("kind");
  if (kind == document.end() || !kind->is_string() || kind->get<std::string>().empty()) {
    return "no \"kind\" field";
  }
  return {};
}

std::string field_path(std::string_view path, std::string_view child) {
  return path.empty() ? std::string(child) : std::string(path) + "." + std::string(child);
}

std::string string_member(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// metadata.namespace/name as read by the decoder; meaningful only for an
// object that decoded.
ObjectName metadata_name(const json& object) {
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) {
    return {};
  }
  ObjectName id{string_member(*metadata, "namespace"), string_member(*metadata, "name")};
  if (id.namespace_.empty()) {
    id.namespace_ = "default";
  }
  return id;
}

bool has_suffix(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// Builds the ClusterState, keeping track of where each object went so a
// duplicate can replace it.
class Assembler {
 public:
  void add_document(const json& document, const std::string& path) { add_item(document, path, {}, 0); }

  void report(std::string field, std::string message) {
    snapshot_.diagnostics.push_back({std::string(kSnapshot), std::move(field), std::move(message)});
  }

  Snapshot take() && { return std::move(snapshot_); }

 private:
  // default_kind: the kind a typed list (ServiceList) implies for its items.
  // depth: how many lists enclose the item.
  void add_item(const json& item, const std::string& path, std::string_view default_kind, int depth) {
    if (!item.is_object()) {
      report(path, "expected an object; item skipped");
      return;
    }
    std::string kind = string_member(item, "kind");
    const std::string api_version = string_member(item, "apiVersion");
    if (kind.empty()) {
      if (default_kind.empty()) {
        report(field_path(path, "kind"), "item has no kind; item skipped");
        return;
      }
      kind = default_kind;
    }
    if (kind == "List" || (has_suffix(kind, "List") && item.contains("items"))) {
      if (depth >= kMaxListDepth) {
        report(path, "lists nested more than " + std::to_string(kMaxListDepth) + " deep; list skipped");
        return;
      }
      add_list(item, path, kind == "List" ? std::string_view() : std::string_view(kind).substr(0, kind.size() - 4),
               depth + 1);
    } else if (kind == "Service" && (api_version.empty() || api_version == "v1")) {
      add_service(decode_service(item));
    } else if (kind == "EndpointSlice" && (api_version.empty() || api_version == "discovery.k8s.io/v1" ||
                                           api_version == "discovery.k8s.io/v1beta1")) {
      add_slice(decode_endpoint_slice(item, decode_options()));
    } else if (kind == "Endpoints" && (api_version.empty() || api_version == "v1")) {
      add_endpoints(metadata_name(item), decode_endpoints_v1(item, decode_options()));
    } else if (kind == "Node" && (api_version.empty() || api_version == "v1")) {
      add_node(decode_node(item));
    }
    // Anything else (Pods, ConfigMaps, CRDs sharing a kind name) is not
    // kube-proxy's input.
  }

  void add_list(const json& list, const std::string& path, std::string_view item_kind, int depth) {
    const auto items = list.find("items");
    if (items == list.end() || items->is_null()) {
      return;
    }
    if (!items->is_array()) {
      report(field_path(path, "items"), "expected a list; list skipped");
      return;
    }
    for (std::size_t i = 0; i < items->size(); ++i) {
      add_item((*items)[i], field_path(path, "items[" + std::to_string(i) + "]"), item_kind, depth);
    }
  }

  template <class T>
  std::optional<T> take_value(Decoded<T>&& decoded) {
    std::ranges::move(decoded.diagnostics, std::back_inserter(snapshot_.diagnostics));
    return std::move(decoded.value);
  }

  void report_duplicate(std::string object) {
    snapshot_.diagnostics.push_back(
        {std::move(object), "", "appears more than once in the snapshot; the later copy replaces the earlier"});
  }

  void add_service(Decoded<Service> decoded) {
    std::optional<Service> service = take_value(std::move(decoded));
    if (!service) {
      return;
    }
    const ObjectName id = service->id;
    if (snapshot_.state.services.contains(id)) {
      report_duplicate("Service " + id.to_string());
    }
    snapshot_.state.services.insert_or_assign(id, std::move(*service));
  }

  void remove_slice(const ObjectName& owner, const std::string& name) {
    const auto slices = snapshot_.state.slices.find(owner);
    if (slices == snapshot_.state.slices.end()) {
      return;
    }
    slices->second.erase(name);
    if (slices->second.empty()) {
      snapshot_.state.slices.erase(slices);
    }
  }

  void add_slice(Decoded<EndpointSlice> decoded) {
    std::optional<EndpointSlice> slice = take_value(std::move(decoded));
    if (!slice) {
      return;
    }
    // The same slice may name a different Service the second time.
    if (const auto previous = slice_owners_.find(slice->id); previous != slice_owners_.end()) {
      report_duplicate("EndpointSlice " + slice->id.to_string());
      remove_slice(previous->second, slice->id.name);
    }
    slice_owners_.insert_or_assign(slice->id, slice->service());
    snapshot_.state.put_slice(std::move(*slice));
  }

  // id: the Endpoints object's own name, which its slices cannot supply when
  // it has no addresses (and so no slices).
  void add_endpoints(const ObjectName& id, Decoded<std::vector<EndpointSlice>> decoded) {
    std::optional<std::vector<EndpointSlice>> slices = take_value(std::move(decoded));
    if (!slices) {
      return;
    }
    if (const auto previous = endpoints_slices_.find(id); previous != endpoints_slices_.end()) {
      report_duplicate("Endpoints " + id.to_string());
      for (const std::string& name : previous->second) {
        remove_slice(id, name);
      }
    }
    std::vector<std::string>& names = endpoints_slices_[id];
    names.clear();
    for (EndpointSlice& slice : *slices) {
      names.push_back(slice.id.name);
      snapshot_.state.put_slice(std::move(slice));
    }
  }

  void add_node(Decoded<Node> decoded) {
    std::optional<Node> node = take_value(std::move(decoded));
    if (!node) {
      return;
    }
    const std::string name = node->name;
    if (snapshot_.state.nodes.contains(name)) {
      report_duplicate("Node " + name);
    }
    snapshot_.state.nodes.insert_or_assign(name, std::move(*node));
  }

  DecodeOptions decode_options() {
    DecodeOptions options;
    options.texts = &texts_;
    return options;
  }

  Snapshot snapshot_;
  SharedTextPool texts_;  // endpoints' node names and zones
  std::map<ObjectName, ObjectName> slice_owners_;                    // slice -> Service it is filed under
  std::map<ObjectName, std::vector<std::string>> endpoints_slices_;  // Endpoints -> slice names
};

}  // namespace

std::expected<Snapshot, std::string> read_snapshot(std::string_view text) {
  std::expected<std::vector<json>, std::string> documents = parse_json_or_yaml(text);
  if (!documents) documents = std::unexpected("snapshot: " + documents.error());
  if (!documents) {
    return std::unexpected(std::move(documents.error()));
  }
  if (documents->empty()) {
    return std::unexpected("snapshot: empty input");
  }
  const auto usable = std::ranges::find_if(*documents, [](const json& d) { return not_an_object_reason(d).empty(); });
  if (usable == documents->end()) {
    return std::unexpected("snapshot: not a Kubernetes object or list: " +
                           one_line(not_an_object_reason(documents->front())));
  }

  Assembler assembler;
  const bool several = documents->size() > 1;
  for (std::size_t i = 0; i < documents->size(); ++i) {
    const json& document = (*documents)[i];
    const std::string path = several ? "documents[" + std::to_string(i) + "]" : std::string();
    if (const std::string reason = not_an_object_reason(document); !reason.empty()) {
      assembler.report(path, "not a Kubernetes object or list (" + reason + "); document skipped");
      continue;
    }
    assembler.add_document(document, path);
  }
  return std::move(assembler).take();
}

}  // namespace kubenat
