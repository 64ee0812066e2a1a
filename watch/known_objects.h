#pragma once

// What an informer has seen of each object, kept as small as it can be: at
// 100,000 Services and as many EndpointSlices this is 200,000 entries, held
// for the daemon's whole life. Per object: its resourceVersion (to skip it
// on a relist when unchanged) and what it was reported to the listener as
// (to report those gone when it disappears or changes into something else).
//
// What an object is reported as is nearly always derivable from its key
// ("namespace/name"; Nodes: "name"): a Service as its own name, a Node as
// its own name, an EndpointSlice as (namespace, service-name label) and its
// own name. Only the service name is stored then. Anything else (a v1
// Endpoints object reported as one slice per subset) is stored in full.
// Decimal resourceVersions (what every API server sends) are stored as
// numbers; others as text.

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "rules/model.h"
#include "rules/shared_text.h"

namespace kubenat {

// One report of an object to the listener: Services and Nodes one entry
// (Nodes: {"", node name}), an EndpointSlice one (service, slice), a v1
// Endpoints one per slice.
struct ReportedObject {
  ObjectName service;
  std::string slice;  // EndpointSlices and Endpoints only
  auto operator<=>(const ReportedObject&) const = default;
};

// Not thread-safe: the informer's thread alone uses it.
class KnownObjects {
 public:
  bool contains(const std::string& key) const { return entries_.contains(key); }
  // Whether `key` is known with this resourceVersion (never for an empty one).
  bool has_version(const std::string& key, std::string_view resource_version) const;
  // What `key` was last reported as (empty if unknown).
  std::vector<ReportedObject> reported(const std::string& key) const;
  // Records `key` with its resourceVersion and what it is now reported as.
  void set(const std::string& key, std::string_view resource_version, const std::vector<ReportedObject>& reported);
  // Forgets `key`; returns what it was reported as.
  std::vector<ReportedObject> erase(const std::string& key);
  // The known keys not in `seen`, sorted.
  std::vector<std::string> keys_not_in(const std::unordered_set<std::string>& seen) const;
  std::size_t size() const { return entries_.size(); }

 private:
  // How `detail` and the key give what an object was reported as. With the
  // key split at its first '/' into namespace and name (Nodes: "" and name):
  enum class Shape : std::uint8_t {
    None,    // nothing (skipped or ignored)
    Object,  // {{namespace, name}, ""}: a Service or Node (detail empty)
    Slice,   // {{namespace, detail}, name}: an EndpointSlice of Service `detail`
    Listed,  // detail lists the reports: namespace, name and slice of each, length-prefixed
  };
  struct Entry {
    std::uint64_t version_number = 0;  // a decimal resourceVersion plus one; 0: see version_text
    SharedText version_text;           // any other resourceVersion
    SharedText detail;
    Shape shape = Shape::None;
  };

  std::unordered_map<std::string, Entry> entries_;  // by "namespace/name" (Nodes: name)
};

}  // namespace kubenat
