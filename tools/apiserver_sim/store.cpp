#include "tools/apiserver_sim/store.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

#include "tools/apiserver_sim/text.h"

namespace kubenat::apiserver_sim {
namespace {

using nlohmann::json;

// The default --service-cluster-ip-range of kubeadm and kind.
constexpr std::uint32_t kServiceBase = (10u << 24) | (96u << 16);
constexpr std::uint32_t kServiceSize = 1u << 20;
// 10.96.0.1 is the kubernetes Service's; dynamic allocation starts higher so
// that snapshots seeded later (kube-dns at 10.96.0.10) rarely collide.
constexpr std::uint32_t kFirstDynamicOffset = 16;

std::string key_of(const ResourceType& type, std::string_view namespace_name, std::string_view name) {
  if (!type.namespaced) return std::string(name);
  std::string key;
  key.reserve(namespace_name.size() + 1 + name.size());
  key.append(namespace_name).append("/").append(name);
  return key;
}

std::string string_field(const json& object, std::string_view field) {
  auto it = object.find(field);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const json& metadata_of(const json& object) {
  static const json empty = json::object();
  auto it = object.find("metadata");
  return it != object.end() && it->is_object() ? *it : empty;
}

ApiError error(int code, std::string reason, std::string message, json details = nullptr) {
  return ApiError{code, std::move(reason), std::move(message), std::move(details)};
}

json details_for(const ResourceType& type, std::string_view name) {
  json details = {{"name", name}, {"kind", type.plural}};
  if (!type.group.empty()) details["group"] = type.group;
  return details;
}

std::string resource_name(const ResourceType& type) {
  return type.group.empty() ? type.plural : type.plural + "." + type.group;
}

ApiError not_found(const ResourceType& type, std::string_view name) {
  return error(404, "NotFound", resource_name(type) + " \"" + std::string(name) + "\" not found", details_for(type, name));
}

ApiError conflict(const ResourceType& type, std::string_view name, const std::string& why) {
  return error(409, "Conflict",
               "Operation cannot be fulfilled on " + resource_name(type) + " \"" + std::string(name) + "\": " + why,
               details_for(type, name));
}

ApiError invalid(const ResourceType& type, std::string_view name, const std::string& why) {
  return error(422, "Invalid", type.kind + " \"" + std::string(name) + "\" is invalid: " + why, details_for(type, name));
}

ApiError bad_request(std::string message) { return error(400, "BadRequest", std::move(message)); }

std::optional<std::uint64_t> parse_uint(std::string_view text) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::optional<std::uint32_t> parse_ipv4(const std::string& text) {
  in_addr address{};
  if (::inet_pton(AF_INET, text.c_str(), &address) != 1) return std::nullopt;
  return ntohl(address.s_addr);
}

bool is_ipv6(const std::string& text) {
  in6_addr address{};
  return ::inet_pton(AF_INET6, text.c_str(), &address) == 1;
}

std::string ipv4_text(std::uint32_t address) {
  return std::to_string(address >> 24) + "." + std::to_string((address >> 16) & 0xff) + "." +
         std::to_string((address >> 8) & 0xff) + "." + std::to_string(address & 0xff);
}

bool in_service_range(std::uint32_t address) { return address - kServiceBase < kServiceSize; }

std::string generated_suffix() {
  // The alphabet the real server uses for generateName: no vowels, no
  // look-alike digits, so generated names never spell words.
  static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  thread_local std::mt19937 generator{std::random_device{}()};
  std::string suffix;
  for (int i = 0; i < 5; ++i) suffix += kAlphabet[generator() % kAlphabet.size()];
  return suffix;
}

std::shared_ptr<StoredObject> make_stored(json object, std::uint64_t resource_version) {
  auto stored = std::make_shared<StoredObject>();
  stored->object = std::move(object);
  // replace: a YAML body can carry bytes that are not UTF-8, and dump() would
  // throw on them.
  stored->text = stored->object.dump(-1, ' ', false, json::error_handler_t::replace);
  stored->resource_version = resource_version;
  return stored;
}

bool needs_node_ports(const json& spec) {
  const std::string type = string_field(spec, "type");
  if (type == "NodePort") return true;
  if (type != "LoadBalancer") return false;
  auto allocate = spec.find("allocateLoadBalancerNodePorts");
  return allocate == spec.end() || !allocate->is_boolean() || allocate->get<bool>();
}

}  // namespace

std::string_view event_type_name(EventType type) {
  switch (type) {
    case EventType::Added:
      return "ADDED";
    case EventType::Modified:
      return "MODIFIED";
    case EventType::Deleted:
      return "DELETED";
  }
  return "ERROR";
}

bool Selection::matches(ResourceId resource, const StoredObject& stored) const {
  const json& metadata = metadata_of(stored.object);
  if (!namespace_name.empty() && resource_type(resource).namespaced &&
      string_field(metadata, "namespace") != namespace_name) {
    return false;
  }
  if (!labels.empty()) {
    auto it = metadata.find("labels");
    if (!labels.matches(it == metadata.end() ? json(nullptr) : *it)) return false;
  }
  return fields.empty() || fields.matches(stored.object);
}

// --- WatchQueue --------------------------------------------------------

void WatchQueue::push(EventPtr event) {
  {
    std::lock_guard lock(mutex_);
    if (events_.size() >= kMaxQueuedEvents) {
      // A watcher this far behind is ended, as the real server ends
      // unresponsive watchers; its client resumes or relists.
      events_.clear();
      stopped_ = true;
    } else if (!stopped_) {
      events_.push_back(std::move(event));
    }
  }
  wake_.notify_one();
}

void WatchQueue::drop() {
  {
    std::lock_guard lock(mutex_);
    dropped_ = true;
  }
  wake_.notify_one();
}

void WatchQueue::stop() {
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
  }
  wake_.notify_one();
}

void WatchQueue::garbage(bool close) {
  {
    std::lock_guard lock(mutex_);
    ++garbage_;
    garbage_close_ = garbage_close_ || close;
  }
  wake_.notify_one();
}

WatchQueue::Batch WatchQueue::wait(std::chrono::steady_clock::time_point until, std::size_t max) {
  std::unique_lock lock(mutex_);
  wake_.wait_until(lock, until, [&] { return !events_.empty() || dropped_ || stopped_ || garbage_ > 0; });
  Batch batch;
  batch.dropped = dropped_;
  batch.stopped = stopped_;
  batch.garbage = std::exchange(garbage_, 0);
  batch.garbage_close = std::exchange(garbage_close_, false);
  while (!events_.empty() && batch.events.size() < max) {
    batch.events.push_back(std::move(events_.front()));
    events_.pop_front();
  }
  batch.drained = events_.empty();
  return batch;
}

// --- Store -------------------------------------------------------------

Store::Store(StoreOptions options) : options_(options) {
  objects_.resize(resource_types().size());
  next_cluster_ip_ = kServiceBase + kFirstDynamicOffset;
  next_node_port_ = options_.node_port_range.first;
  std::lock_guard lock(mutex_);
  // The namespaces every cluster has.
  for (const char* name : {"default", "kube-system", "kube-public", "kube-node-lease"}) ensure_namespace_locked(name);
}

std::uint64_t Store::resource_version() const {
  std::lock_guard lock(mutex_);
  return resource_version_;
}

ObjectPtr Store::find_locked(ResourceId resource, const std::string& key) const {
  const auto& objects = objects_[resource];
  auto it = objects.find(key);
  return it == objects.end() ? nullptr : it->second;
}

void Store::ensure_namespace_locked(std::string_view name) {
  if (name.empty() || find_locked(kNamespaces, std::string(name))) return;
  json object = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}};
  (void)create_locked(kNamespaces, "", std::move(object), false, false);
}

ObjectPtr Store::commit_locked(ResourceId resource, const std::string& key, EventType type, json object,
                               const ObjectPtr& previous) {
  const std::uint64_t rv = ++resource_version_;
  object["metadata"]["resourceVersion"] = std::to_string(rv);
  ObjectPtr stored = make_stored(std::move(object), rv);
  auto& objects = objects_[resource];
  if (type == EventType::Deleted) {
    objects.erase(key);
  } else {
    objects[key] = stored;
  }
  auto event = std::make_shared<Event>(Event{rv, resource, type, key, stored, previous, std::chrono::steady_clock::now()});
  history_.push_back(event);
  prune_locked();
  for (const auto& watcher : watchers_) {
    if (watcher->resource() == resource) watcher->push(event);
  }
  // After the pushes: a watcher that has seen `published_` and then found its
  // queue empty has been sent every event up to it (see WatchStream).
  published_.store(rv, std::memory_order_release);
  return stored;
}

void Store::prune_locked() {
  const auto now = std::chrono::steady_clock::now();
  while (!history_.empty() &&
         (history_.size() > options_.history_limit ||
          (options_.history_age.count() > 0 && now - history_.front()->at > options_.history_age))) {
    compacted_ = history_.front()->resource_version;
    history_.pop_front();
  }
}

Result<ObjectPtr> Store::create(ResourceId resource, std::string_view namespace_name, json object, bool dry_run) {
  std::lock_guard lock(mutex_);
  return create_locked(resource, namespace_name, std::move(object), dry_run, false);
}

Result<ObjectPtr> Store::create_locked(ResourceId resource, std::string_view namespace_name, json object, bool dry_run,
                                       bool seeding) {
  const ResourceType& type = resource_type(resource);
  if (!object.is_object()) return std::unexpected(bad_request("the request body is not a JSON object"));
  if (auto kind = string_field(object, "kind"); !kind.empty() && kind != type.kind) {
    return std::unexpected(bad_request("the kind in the body (" + kind + ") does not match the URL's (" + type.kind + ")"));
  }
  if (auto version = string_field(object, "apiVersion"); !version.empty() && version != type.api_version()) {
    return std::unexpected(bad_request("the API version in the data (" + version +
                                       ") does not match the expected API version (" + type.api_version() + ")"));
  }
  object["kind"] = type.kind;
  object["apiVersion"] = type.api_version();
  if (!object["metadata"].is_object()) object["metadata"] = json::object();
  json& metadata = object["metadata"];

  std::string namespace_value;
  if (type.namespaced) {
    const std::string in_body = string_field(metadata, "namespace");
    if (!namespace_name.empty() && !in_body.empty() && in_body != namespace_name) {
      return std::unexpected(
          bad_request("the namespace of the provided object does not match the namespace sent on the request"));
    }
    namespace_value = !namespace_name.empty() ? std::string(namespace_name) : in_body.empty() ? "default" : in_body;
    metadata["namespace"] = namespace_value;
  } else {
    metadata.erase("namespace");
  }

  std::string name = string_field(metadata, "name");
  if (name.empty()) {
    const std::string prefix = string_field(metadata, "generateName");
    if (prefix.empty()) return std::unexpected(invalid(type, "", "metadata.name: Required value: name or generateName is required"));
    do {
      name = prefix + generated_suffix();
    } while (find_locked(resource, key_of(type, namespace_value, name)));
    metadata["name"] = name;
  }
  if (name.find('/') != std::string::npos || name == "." || name == "..") {
    return std::unexpected(invalid(type, name, "metadata.name: Invalid value: \"" + name + "\": may not contain '/'"));
  }
  const std::string key = key_of(type, namespace_value, name);
  if (find_locked(resource, key)) {
    return std::unexpected(error(409, "AlreadyExists", resource_name(type) + " \"" + name + "\" already exists",
                                 details_for(type, name)));
  }

  if (!seeding || string_field(metadata, "uid").empty()) metadata["uid"] = random_uuid();
  if (!seeding || string_field(metadata, "creationTimestamp").empty()) {
    metadata["creationTimestamp"] = rfc3339(std::chrono::system_clock::now());
  }
  metadata.erase("resourceVersion");
  metadata.erase("selfLink");
  if (!seeding) {
    metadata.erase("deletionTimestamp");
    metadata.erase("deletionGracePeriodSeconds");
  }

  if (resource == kNamespaces) {
    if (!object["spec"].is_object()) object["spec"] = json::object();
    if (!object["spec"].contains("finalizers")) object["spec"]["finalizers"] = {"kubernetes"};
    if (!object["status"].is_object()) object["status"] = json::object();
    if (!object["status"].contains("phase")) object["status"]["phase"] = "Active";
    if (!metadata["labels"].is_object()) metadata["labels"] = json::object();
    metadata["labels"]["kubernetes.io/metadata.name"] = name;
  }
  if (type.kind == "Service" && type.group.empty()) {
    if (auto prepared = prepare_service_locked(object, nullptr, seeding); !prepared) return std::unexpected(prepared.error());
  }
  if (dry_run) return make_stored(std::move(object), 0);

  if (type.namespaced) ensure_namespace_locked(namespace_value);
  if (type.kind == "Service" && type.group.empty()) reserve_locked(allocations_of(object));
  return commit_locked(resource, key, EventType::Added, std::move(object), nullptr);
}

Result<ObjectPtr> Store::update_locked(ResourceId resource, const ObjectPtr& current, json object, bool dry_run) {
  const ResourceType& type = resource_type(resource);
  const json& old_metadata = metadata_of(current->object);
  const std::string name = string_field(old_metadata, "name");
  object["kind"] = type.kind;
  object["apiVersion"] = type.api_version();
  if (!object["metadata"].is_object()) object["metadata"] = json::object();
  json& metadata = object["metadata"];
  // Identity and lifecycle fields belong to the server.
  for (const char* field : {"name", "namespace", "uid", "creationTimestamp", "deletionTimestamp",
                            "deletionGracePeriodSeconds"}) {
    if (old_metadata.contains(field)) {
      metadata[field] = old_metadata[field];
    } else {
      metadata.erase(field);
    }
  }
  if (resource == kNamespaces) {
    if (!metadata["labels"].is_object()) metadata["labels"] = json::object();
    metadata["labels"]["kubernetes.io/metadata.name"] = name;
  }
  const bool is_service = type.kind == "Service" && type.group.empty();
  if (is_service) {
    if (auto prepared = prepare_service_locked(object, &current->object, false); !prepared) {
      return std::unexpected(prepared.error());
    }
  }
  metadata["resourceVersion"] = std::to_string(current->resource_version);
  // A no-op update writes nothing, as on the real server: no new
  // resourceVersion, no event.
  if (object == current->object) return current;
  if (dry_run) return make_stored(std::move(object), current->resource_version);

  const std::string key = key_of(type, string_field(metadata, "namespace"), name);
  if (is_service) {
    release_locked(allocations_of(current->object));
    reserve_locked(allocations_of(object));
  }
  // The last finalizer removed from an object being deleted lets it go.
  const bool finalized = metadata.contains("deletionTimestamp") &&
                         (!metadata.contains("finalizers") || metadata["finalizers"].empty());
  if (finalized) {
    if (is_service) release_locked(allocations_of(object));
    return commit_locked(resource, key, EventType::Deleted, std::move(object), current);
  }
  return commit_locked(resource, key, EventType::Modified, std::move(object), current);
}

Result<ObjectPtr> Store::replace(ResourceId resource, std::string_view namespace_name, std::string_view name,
                                 json object, bool dry_run, bool status_only) {
  const ResourceType& type = resource_type(resource);
  if (!object.is_object()) return std::unexpected(bad_request("the request body is not a JSON object"));
  const json& metadata = metadata_of(object);
  if (auto in_body = string_field(metadata, "name"); !in_body.empty() && in_body != name) {
    return std::unexpected(bad_request("the name of the object (" + in_body + ") does not match the name on the URL (" +
                                       std::string(name) + ")"));
  }
  if (auto in_body = string_field(metadata, "namespace"); type.namespaced && !in_body.empty() && in_body != namespace_name) {
    return std::unexpected(
        bad_request("the namespace of the provided object does not match the namespace sent on the request"));
  }
  if (auto kind = string_field(object, "kind"); !kind.empty() && kind != type.kind) {
    return std::unexpected(bad_request("the kind in the body (" + kind + ") does not match the URL's (" + type.kind + ")"));
  }
  std::lock_guard lock(mutex_);
  ObjectPtr current = find_locked(resource, key_of(type, namespace_name, name));
  if (!current) return std::unexpected(not_found(type, name));
  if (auto given = string_field(metadata, "resourceVersion");
      !given.empty() && given != std::to_string(current->resource_version)) {
    return std::unexpected(conflict(type, name, "the object has been modified; please apply your changes to the latest version and try again"));
  }
  if (status_only) {
    json updated = current->object;
    if (object.contains("status")) {
      updated["status"] = object["status"];
    } else {
      updated.erase("status");
    }
    return update_locked(resource, current, std::move(updated), dry_run);
  }
  // A PUT that leaves out status keeps it: status has its own subresource.
  if (!object.contains("status") && current->object.contains("status")) object["status"] = current->object["status"];
  return update_locked(resource, current, std::move(object), dry_run);
}

Result<ObjectPtr> Store::patch(ResourceId resource, std::string_view namespace_name, std::string_view name,
                               const json& patch, PatchType patch_type, bool dry_run, bool status_only) {
  const ResourceType& type = resource_type(resource);
  std::lock_guard lock(mutex_);
  ObjectPtr current = find_locked(resource, key_of(type, namespace_name, name));
  if (!current) {
    if (patch_type != PatchType::Apply || status_only) return std::unexpected(not_found(type, name));
    if (!patch.is_object()) return std::unexpected(bad_request("the applied configuration is not a JSON object"));
    if (auto in_body = string_field(metadata_of(patch), "name"); in_body != name) {
      return std::unexpected(bad_request("the name of the object (" + in_body +
                                         ") does not match the name on the URL (" + std::string(name) + ")"));
    }
    return create_locked(resource, namespace_name, patch, dry_run, false);
  }
  auto patched = apply_patch(current->object, patch, patch_type);
  if (!patched) return std::unexpected(invalid(type, name, patched.error()));
  const json& metadata = metadata_of(*patched);
  if (string_field(metadata, "name") != name ||
      string_field(metadata, "namespace") != string_field(metadata_of(current->object), "namespace")) {
    return std::unexpected(invalid(type, name, "metadata.name, metadata.namespace: field is immutable"));
  }
  if (auto given = string_field(metadata, "resourceVersion");
      !given.empty() && given != std::to_string(current->resource_version)) {
    return std::unexpected(conflict(type, name, "the object has been modified; please apply your changes to the latest version and try again"));
  }
  if (status_only) {
    json updated = current->object;
    if (patched->contains("status")) {
      updated["status"] = (*patched)["status"];
    } else {
      updated.erase("status");
    }
    return update_locked(resource, current, std::move(updated), dry_run);
  }
  return update_locked(resource, current, std::move(*patched), dry_run);
}

Result<ObjectPtr> Store::remove(ResourceId resource, std::string_view namespace_name, std::string_view name,
                                const json& delete_options, bool dry_run) {
  std::lock_guard lock(mutex_);
  return remove_locked(resource, key_of(resource_type(resource), namespace_name, name), delete_options, dry_run);
}

Result<ObjectPtr> Store::remove_locked(ResourceId resource, const std::string& key, const json& delete_options,
                                       bool dry_run) {
  const ResourceType& type = resource_type(resource);
  ObjectPtr current = find_locked(resource, key);
  const std::string name = key.substr(key.find('/') == std::string::npos ? 0 : key.find('/') + 1);
  if (!current) return std::unexpected(not_found(type, name));
  const json& metadata = metadata_of(current->object);
  if (delete_options.is_object() && delete_options.contains("preconditions") &&
      delete_options["preconditions"].is_object()) {
    const json& preconditions = delete_options["preconditions"];
    if (auto uid = string_field(preconditions, "uid"); !uid.empty() && uid != string_field(metadata, "uid")) {
      return std::unexpected(conflict(type, name, "Precondition failed: UID in precondition: " + uid +
                                                      ", UID in object meta: " + string_field(metadata, "uid")));
    }
    if (auto rv = string_field(preconditions, "resourceVersion");
        !rv.empty() && rv != std::to_string(current->resource_version)) {
      return std::unexpected(conflict(type, name, "Precondition failed: ResourceVersion in precondition: " + rv +
                                                      ", ResourceVersion in object meta: " +
                                                      std::to_string(current->resource_version)));
    }
  }
  if (dry_run) return current;
  // Finalizers hold the object, marked, until an update removes them.
  if (metadata.contains("finalizers") && metadata["finalizers"].is_array() && !metadata["finalizers"].empty()) {
    if (metadata.contains("deletionTimestamp")) return current;
    json marked = current->object;
    marked["metadata"]["deletionTimestamp"] = rfc3339(std::chrono::system_clock::now());
    marked["metadata"]["deletionGracePeriodSeconds"] = 0;
    return commit_locked(resource, key, EventType::Modified, std::move(marked), current);
  }
  if (resource == kNamespaces) {
    // The namespace controller's job, done at once.
    const std::string prefix = key + "/";
    for (ResourceId other = 0; other < objects_.size(); ++other) {
      if (!resource_type(other).namespaced) continue;
      std::vector<std::string> keys;
      for (auto it = objects_[other].lower_bound(prefix); it != objects_[other].end() && it->first.starts_with(prefix); ++it) {
        keys.push_back(it->first);
      }
      for (const std::string& inner : keys) {
        ObjectPtr object = find_locked(other, inner);
        if (resource_type(other).kind == "Service") release_locked(allocations_of(object->object));
        commit_locked(other, inner, EventType::Deleted, object->object, object);
      }
    }
  }
  if (type.kind == "Service" && type.group.empty()) release_locked(allocations_of(current->object));
  return commit_locked(resource, key, EventType::Deleted, current->object, current);
}

Result<std::vector<ObjectPtr>> Store::remove_collection(ResourceId resource, const Selection& selection, bool dry_run) {
  std::lock_guard lock(mutex_);
  std::vector<std::string> keys;
  for (const auto& [key, object] : objects_[resource]) {
    if (selection.matches(resource, *object)) keys.push_back(key);
  }
  std::vector<ObjectPtr> removed;
  for (const std::string& key : keys) {
    auto result = remove_locked(resource, key, json(nullptr), dry_run);
    if (result) removed.push_back(*result);
  }
  return removed;
}

Result<ObjectPtr> Store::get(ResourceId resource, std::string_view namespace_name, std::string_view name) const {
  const ResourceType& type = resource_type(resource);
  std::lock_guard lock(mutex_);
  ObjectPtr object = find_locked(resource, key_of(type, namespace_name, name));
  if (!object) return std::unexpected(not_found(type, name));
  return object;
}

std::map<std::string, ObjectPtr> Store::snapshot_overrides_locked(ResourceId resource, std::uint64_t snapshot) const {
  std::map<std::string, ObjectPtr> overrides;
  auto first = std::upper_bound(history_.begin(), history_.end(), snapshot,
                                [](std::uint64_t rv, const EventPtr& event) { return rv < event->resource_version; });
  for (auto it = first; it != history_.end(); ++it) {
    // The earliest write after the snapshot knows the state at the snapshot.
    if ((*it)->resource == resource) overrides.try_emplace((*it)->key, (*it)->previous);
  }
  return overrides;
}

Result<ListResult> Store::list(ResourceId resource, const ListOptions& options) {
  const ResourceType& type = resource_type(resource);
  std::lock_guard lock(mutex_);
  prune_locked();
  std::uint64_t snapshot = resource_version_;
  std::size_t limit = options.limit;
  std::string start_after;
  bool has_start = false;
  if (!options.continue_token.empty()) {
    auto decoded = base64_decode(options.continue_token);
    json token;
    if (decoded) token = json::parse(*decoded, nullptr, false);
    if (!decoded || !token.is_object() || !token.contains("rv") || !token["rv"].is_number_unsigned() ||
        !token.contains("start") || !token["start"].is_string()) {
      return std::unexpected(bad_request("continue key is not valid"));
    }
    snapshot = token["rv"].get<std::uint64_t>();
    start_after = token["start"].get<std::string>();
    has_start = true;
    if (snapshot < compacted_) {
      return std::unexpected(error(410, "Expired",
                                   "The provided continue parameter is too old to display a consistent list result. "
                                   "You can start a new list without the continue parameter."));
    }
    if (snapshot > resource_version_) return std::unexpected(bad_request("continue key is not valid: future resourceVersion"));
  } else if (options.resource_version == "0") {
    limit = 0;  // served from the "cache": whole, as the real server does
  } else if (!options.resource_version.empty()) {
    auto requested = parse_uint(options.resource_version);
    if (!requested) return std::unexpected(bad_request("invalid resourceVersion: " + options.resource_version));
    if (*requested > resource_version_) {
      return std::unexpected(error(504, "Timeout",
                                   "Too large resource version: " + options.resource_version +
                                       ", current: " + std::to_string(resource_version_),
                                   json{{"causes", {{{"reason", "ResourceVersionTooLarge"},
                                                     {"message", "Too large resource version"}}}},
                                        {"retryAfterSeconds", 1}}));
    }
    if (options.resource_version_match == "Exact") {
      if (*requested < compacted_) {
        return std::unexpected(error(410, "Expired",
                                     "too old resource version: " + options.resource_version + " (" +
                                         std::to_string(compacted_ + 1) + ")"));
      }
      snapshot = *requested;
    }
  }

  ListResult result;
  result.resource_version = snapshot;
  const std::string prefix =
      type.namespaced && !options.selection.namespace_name.empty() ? options.selection.namespace_name + "/" : "";
  const auto& current = objects_[resource];

  // One object by name (kubectl get NAME -w): no scan.
  if (const std::string* name = options.selection.fields.exact_name();
      name != nullptr && !has_start && snapshot == resource_version_ && (!type.namespaced || !prefix.empty())) {
    ObjectPtr object = find_locked(resource, prefix + *name);
    if (object && options.selection.matches(resource, *object)) result.items.push_back(object);
    return result;
  }

  const std::map<std::string, ObjectPtr> overrides =
      snapshot < resource_version_ ? snapshot_overrides_locked(resource, snapshot) : std::map<std::string, ObjectPtr>{};
  auto a = has_start ? current.upper_bound(start_after) : current.lower_bound(prefix);
  auto b = has_start ? overrides.upper_bound(start_after) : overrides.lower_bound(prefix);
  auto in_range = [&](const std::string& key) { return key.starts_with(prefix); };
  std::string last_key;
  while (true) {
    const bool a_ok = a != current.end() && in_range(a->first);
    const bool b_ok = b != overrides.end() && in_range(b->first);
    if (!a_ok && !b_ok) break;
    const std::string* key = nullptr;
    ObjectPtr object;
    if (b_ok && (!a_ok || b->first <= a->first)) {
      if (a_ok && a->first == b->first) ++a;
      key = &b->first;
      object = b->second;
      ++b;
    } else {
      key = &a->first;
      object = a->second;
      ++a;
    }
    if (!object) continue;
    if (limit > 0 && result.items.size() == limit) {
      // More objects follow: the client continues after the last one sent.
      result.continue_token = base64_encode(json{{"rv", snapshot}, {"start", last_key}}.dump());
      break;
    }
    if (!options.selection.matches(resource, *object)) continue;
    result.items.push_back(std::move(object));
    last_key = *key;
  }
  return result;
}

Result<WatchStart> Store::watch(ResourceId resource, Selection selection, const std::string& resource_version) {
  std::lock_guard lock(mutex_);
  prune_locked();
  WatchStart start;
  std::optional<std::uint64_t> from;
  if (!resource_version.empty() && resource_version != "0") {
    from = parse_uint(resource_version);
    if (!from) return std::unexpected(bad_request("invalid resourceVersion: " + resource_version));
    if (*from < compacted_) {
      start.expired = error(410, "Expired",
                            "too old resource version: " + resource_version + " (" + std::to_string(compacted_ + 1) + ")");
      return start;
    }
  }
  start.queue = std::make_shared<WatchQueue>(resource, std::move(selection));
  if (from) {
    start.resource_version = *from;
    auto first = std::upper_bound(history_.begin(), history_.end(), *from,
                                  [](std::uint64_t rv, const EventPtr& event) { return rv < event->resource_version; });
    for (auto it = first; it != history_.end(); ++it) {
      if ((*it)->resource == resource) start.queue->push(*it);
    }
  } else {
    start.resource_version = resource_version_;
    for (const auto& [key, object] : objects_[resource]) {
      if (start.queue->selection().matches(resource, *object)) start.initial.push_back(object);
    }
  }
  watchers_.push_back(start.queue);
  return start;
}

void Store::unwatch(const std::shared_ptr<WatchQueue>& queue) {
  std::lock_guard lock(mutex_);
  std::erase(watchers_, queue);
}

Result<std::size_t> Store::seed(const json& document) {
  if (!document.is_object()) return std::unexpected(bad_request("seed: not a Kubernetes object or list"));
  std::vector<json> items;
  const std::string kind = string_field(document, "kind");
  if (kind.ends_with("List") && document.contains("items") && document["items"].is_array()) {
    // Items of a typed list (ServiceList) may leave out their kind.
    const std::string item_kind = kind == "List" ? "" : kind.substr(0, kind.size() - 4);
    for (json item : document["items"]) {
      if (!item.is_object()) continue;
      if (!item.contains("kind") && !item_kind.empty()) item["kind"] = item_kind;
      if (!item.contains("apiVersion") && document.contains("apiVersion")) item["apiVersion"] = document["apiVersion"];
      items.push_back(std::move(item));
    }
  } else {
    items.push_back(document);
  }
  std::lock_guard lock(mutex_);
  std::size_t stored = 0;
  for (json& item : items) {
    auto resource = find_resource_by_kind(string_field(item, "apiVersion"), string_field(item, "kind"));
    if (!resource) continue;
    const ResourceType& type = resource_type(*resource);
    const json& metadata = metadata_of(item);
    const std::string namespace_name = type.namespaced ? string_field(metadata, "namespace") : "";
    const std::string name = string_field(metadata, "name");
    const std::string label = type.kind + " " + (namespace_name.empty() ? "" : namespace_name + "/") + name;
    ObjectPtr current = find_locked(*resource, key_of(type, namespace_name.empty() ? "default" : namespace_name, name));
    Result<ObjectPtr> result = [&]() -> Result<ObjectPtr> {
      if (current) {
        item["metadata"].erase("resourceVersion");
        return update_locked(*resource, current, std::move(item), false);
      }
      return create_locked(*resource, namespace_name, std::move(item), false, true);
    }();
    if (!result) return std::unexpected(bad_request("seed: " + label + ": " + result.error().message));
    ++stored;
  }
  return stored;
}

void Store::drop_watches() {
  std::lock_guard lock(mutex_);
  for (const auto& watcher : watchers_) watcher->drop();
}

void Store::inject_garbage(bool close) {
  std::lock_guard lock(mutex_);
  for (const auto& watcher : watchers_) watcher->garbage(close);
}

void Store::stop_watches() {
  std::lock_guard lock(mutex_);
  for (const auto& watcher : watchers_) watcher->stop();
}

void Store::compact() {
  std::lock_guard lock(mutex_);
  history_.clear();
  compacted_ = resource_version_;
}

void Store::jump(std::uint64_t by) {
  std::lock_guard lock(mutex_);
  history_.clear();
  resource_version_ += by;
  compacted_ = resource_version_;
  published_.store(resource_version_, std::memory_order_release);
}

std::size_t Store::open_watches() const {
  std::lock_guard lock(mutex_);
  return watchers_.size();
}

std::map<std::string, std::size_t> Store::object_counts() const {
  std::lock_guard lock(mutex_);
  std::map<std::string, std::size_t> counts;
  for (ResourceId id = 0; id < objects_.size(); ++id) counts[resource_type(id).plural] = objects_[id].size();
  return counts;
}

// --- Services ------------------------------------------------------------

Store::ServiceAllocations Store::allocations_of(const json& service) const {
  ServiceAllocations allocations;
  auto spec = service.find("spec");
  if (spec == service.end() || !spec->is_object()) return allocations;
  if (auto ips = spec->find("clusterIPs"); ips != spec->end() && ips->is_array()) {
    for (const json& ip : *ips) {
      if (!ip.is_string()) continue;
      if (auto address = parse_ipv4(ip.get<std::string>()); address && in_service_range(*address)) {
        allocations.cluster_ips.push_back(*address);
      }
    }
  }
  if (auto ports = spec->find("ports"); ports != spec->end() && ports->is_array()) {
    for (const json& port : *ports) {
      if (port.is_object() && port.contains("nodePort") && port["nodePort"].is_number_integer()) {
        allocations.node_ports.push_back(port["nodePort"].get<int>());
      }
    }
  }
  if (auto health = spec->find("healthCheckNodePort"); health != spec->end() && health->is_number_integer()) {
    allocations.node_ports.push_back(health->get<int>());
  }
  return allocations;
}

void Store::reserve_locked(const ServiceAllocations& allocations) {
  for (std::uint32_t ip : allocations.cluster_ips) used_cluster_ips_.insert(ip);
  for (int port : allocations.node_ports) used_node_ports_.insert(port);
}

void Store::release_locked(const ServiceAllocations& allocations) {
  for (std::uint32_t ip : allocations.cluster_ips) used_cluster_ips_.erase(ip);
  for (int port : allocations.node_ports) used_node_ports_.erase(port);
}

Result<std::uint32_t> Store::allocate_cluster_ip_locked(const std::set<std::uint32_t>& taken_now) {
  for (std::uint32_t tried = 0; tried < kServiceSize; ++tried) {
    const std::uint32_t candidate = next_cluster_ip_;
    next_cluster_ip_ = kServiceBase + (candidate - kServiceBase + 1) % kServiceSize;
    const std::uint32_t offset = candidate - kServiceBase;
    if (offset <= 1 || offset == kServiceSize - 1) continue;  // network, the kubernetes Service, broadcast
    if (!used_cluster_ips_.contains(candidate) && !taken_now.contains(candidate)) return candidate;
  }
  return std::unexpected(error(500, "InternalError", "failed to allocate a serviceIP: range is full"));
}

Result<int> Store::allocate_node_port_locked(const std::set<int>& taken_now) {
  const NodePortRange& range = options_.node_port_range;
  const int count = range.last - range.first + 1;
  for (int tried = 0; tried < count; ++tried) {
    const int candidate = next_node_port_;
    next_node_port_ = range.first + (candidate - range.first + 1) % count;
    if (!used_node_ports_.contains(candidate) && !taken_now.contains(candidate)) return candidate;
  }
  return std::unexpected(error(500, "InternalError", "failed to allocate a nodePort: range is full"));
}

Result<void> Store::prepare_service_locked(json& service, const json* old_service, bool seeding) {
  const ResourceType& type = resource_type(*find_resource_by_plural("services"));
  const std::string name = string_field(metadata_of(service), "name");
  if (!service["spec"].is_object()) service["spec"] = json::object();
  json& spec = service["spec"];
  const json empty = json::object();
  const json& old_spec = old_service != nullptr && old_service->contains("spec") && (*old_service)["spec"].is_object()
                             ? (*old_service)["spec"]
                             : empty;
  const ServiceAllocations old_allocations = old_service != nullptr ? allocations_of(*old_service) : ServiceAllocations{};
  auto owned_before = [&](auto value, const auto& list) {
    return std::find(list.begin(), list.end(), value) != list.end();
  };

  if (string_field(spec, "type").empty()) spec["type"] = "ClusterIP";
  const std::string service_type = string_field(spec, "type");
  if (string_field(spec, "sessionAffinity").empty()) spec["sessionAffinity"] = "None";
  if (!spec["ports"].is_array()) spec.erase("ports");

  // What the client left out of an update keeps its allocated value (the
  // real server's patchAllocatedValues), so `kubectl apply` and PUTs of
  // hand-written manifests do not lose their ClusterIP or NodePorts.
  if (old_service != nullptr && service_type != "ExternalName") {
    if (string_field(spec, "clusterIP").empty() && !string_field(old_spec, "clusterIP").empty()) {
      spec["clusterIP"] = old_spec["clusterIP"];
      if (old_spec.contains("clusterIPs")) spec["clusterIPs"] = old_spec["clusterIPs"];
    }
    if (spec.contains("ports") && old_spec.contains("ports") && old_spec["ports"].is_array()) {
      for (json& port : spec["ports"]) {
        if (!port.is_object() || port.contains("nodePort")) continue;
        for (const json& old_port : old_spec["ports"]) {
          if (old_port.is_object() && old_port.value("port", json()) == port.value("port", json()) &&
              old_port.value("protocol", json("TCP")) == port.value("protocol", json("TCP")) &&
              old_port.contains("nodePort")) {
            port["nodePort"] = old_port["nodePort"];
          }
        }
      }
    }
    if (!spec.contains("healthCheckNodePort") && old_spec.contains("healthCheckNodePort")) {
      spec["healthCheckNodePort"] = old_spec["healthCheckNodePort"];
    }
  }

  if (spec.contains("ports")) {
    for (json& port : spec["ports"]) {
      if (!port.is_object()) return std::unexpected(invalid(type, name, "spec.ports: each port must be an object"));
      if (string_field(port, "protocol").empty()) port["protocol"] = "TCP";
      if (!port.contains("targetPort") && port.contains("port")) port["targetPort"] = port["port"];
    }
  }

  std::set<std::uint32_t> ips_now;
  if (service_type == "ExternalName") {
    spec.erase("clusterIP");
    spec.erase("clusterIPs");
  } else {
    std::string ip = string_field(spec, "clusterIP");
    if (ip.empty() && spec.contains("clusterIPs") && spec["clusterIPs"].is_array() && !spec["clusterIPs"].empty() &&
        spec["clusterIPs"][0].is_string()) {
      ip = spec["clusterIPs"][0].get<std::string>();
    }
    const std::string old_ip = string_field(old_spec, "clusterIP");
    if (!seeding && !old_ip.empty() && !ip.empty() && ip != old_ip) {
      return std::unexpected(invalid(type, name, "spec.clusterIPs[0]: Invalid value: \"" + ip + "\": may not change once set"));
    }
    if (ip.empty()) {
      auto allocated = allocate_cluster_ip_locked(ips_now);
      if (!allocated) return std::unexpected(allocated.error());
      ips_now.insert(*allocated);
      ip = ipv4_text(*allocated);
    } else if (ip != "None") {
      auto address = parse_ipv4(ip);
      if (!address && !is_ipv6(ip)) {
        return std::unexpected(invalid(type, name, "spec.clusterIPs[0]: Invalid value: \"" + ip + "\": must be a valid IP address"));
      }
      if (address && in_service_range(*address) && !seeding && used_cluster_ips_.contains(*address) &&
          !owned_before(*address, old_allocations.cluster_ips)) {
        return std::unexpected(invalid(type, name, "spec.clusterIPs: Invalid value: []string{\"" + ip +
                                                       "\"}: failed to allocate IP " + ip + ": provided IP is already allocated"));
      }
    }
    spec["clusterIP"] = ip;
    if (!spec.contains("clusterIPs") || !spec["clusterIPs"].is_array() || spec["clusterIPs"].empty() ||
        spec["clusterIPs"][0] != ip) {
      spec["clusterIPs"] = json::array({ip});
    }
    if (!spec.contains("ipFamilies")) spec["ipFamilies"] = json::array({is_ipv6(ip) ? "IPv6" : "IPv4"});
    if (!spec.contains("ipFamilyPolicy")) spec["ipFamilyPolicy"] = "SingleStack";
    if (!spec.contains("internalTrafficPolicy")) spec["internalTrafficPolicy"] = "Cluster";
  }

  if (service_type == "LoadBalancer" && !spec.contains("allocateLoadBalancerNodePorts")) {
    spec["allocateLoadBalancerNodePorts"] = true;
  }
  if (service_type == "NodePort" || service_type == "LoadBalancer") {
    if (string_field(spec, "externalTrafficPolicy").empty()) spec["externalTrafficPolicy"] = "Cluster";
  } else {
    spec.erase("externalTrafficPolicy");
  }

  std::set<int> ports_now;
  auto claim_port = [&](json& holder, const char* field, const std::string& path) -> Result<void> {
    if (holder.contains(field) && holder[field].is_number_integer() && holder[field].get<int>() != 0) {
      const int port = holder[field].get<int>();
      if (seeding) return {};
      const NodePortRange& range = options_.node_port_range;
      if (port < range.first || port > range.last) {
        return std::unexpected(invalid(type, name,
                                       path + ": Invalid value: " + std::to_string(port) +
                                           ": provided port is not in the valid range. The range of valid ports is " +
                                           std::to_string(range.first) + "-" + std::to_string(range.last)));
      }
      if (ports_now.contains(port) ||
          (used_node_ports_.contains(port) && !owned_before(port, old_allocations.node_ports))) {
        return std::unexpected(invalid(type, name, path + ": Invalid value: " + std::to_string(port) +
                                                       ": provided port is already allocated"));
      }
      ports_now.insert(port);
      return {};
    }
    auto allocated = allocate_node_port_locked(ports_now);
    if (!allocated) return std::unexpected(allocated.error());
    ports_now.insert(*allocated);
    holder[field] = *allocated;
    return {};
  };
  if (spec.contains("ports")) {
    for (std::size_t i = 0; i < spec["ports"].size(); ++i) {
      json& port = spec["ports"][i];
      if (needs_node_ports(spec)) {
        if (auto claimed = claim_port(port, "nodePort", "spec.ports[" + std::to_string(i) + "].nodePort"); !claimed) {
          return claimed;
        }
      } else if (service_type == "ClusterIP" || service_type == "ExternalName") {
        port.erase("nodePort");
      }
    }
  }
  if (service_type == "LoadBalancer" && string_field(spec, "externalTrafficPolicy") == "Local") {
    if (auto claimed = claim_port(spec, "healthCheckNodePort", "spec.healthCheckNodePort"); !claimed) return claimed;
  } else {
    spec.erase("healthCheckNodePort");
  }
  if (!service.contains("status")) service["status"] = {{"loadBalancer", json::object()}};
  return {};
}

}  // namespace kubenat::apiserver_sim
