#include "watch/informer.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <future>
#include <optional>
#include <unordered_set>
#include <utility>
#include <variant>

#include <nlohmann/json.hpp>

#include "rules/decode.h"
#include "rules/json_or_yaml.h"
#include "rules/json_tree.h"

namespace kubenat {
namespace {

using nlohmann::json;

constexpr std::string_view kDiscoveryPath = "/apis/discovery.k8s.io/v1";
constexpr std::size_t kMaxQuoted = 120;

// Text from the server for a message: printable ASCII only, shortened.
std::string excerpt(std::string_view text) {
  std::string out;
  for (const char c : text.substr(0, kMaxQuoted)) {
    out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  }
  if (text.size() > kMaxQuoted) {
    out += "...";
  }
  return out;
}

const json* member(const json& object, std::string_view key) {
  if (!object.is_object()) {
    return nullptr;
  }
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::string string_member(const json& object, std::string_view key) {
  const json* value = member(object, key);
  return value != nullptr && value->is_string() ? value->get<std::string>() : std::string();
}

// The API server has no history up to the resourceVersion asked for: after a
// restore from an etcd backup its versions went backwards (504, "Too large
// resource version", cause ResourceVersionTooLarge). Watching again from the
// same version would fail for ever; client-go lists afresh, and so do we.
bool resource_version_too_large(const json& status) {
  const json* code = member(status, "code");
  if (code == nullptr || !code->is_number_integer() || code->get<std::int64_t>() != 504) return false;
  if (string_member(status, "message").find("Too large resource version") != std::string::npos) return true;
  const json* details = member(status, "details");
  const json* causes = details != nullptr ? member(*details, "causes") : nullptr;
  if (causes == nullptr || !causes->is_array()) return false;
  return std::ranges::any_of(
      *causes, [](const json& cause) { return string_member(cause, "reason") == "ResourceVersionTooLarge"; });
}

std::string metadata_string(const json& object, std::string_view key) {
  const json* metadata = member(object, "metadata");
  return metadata != nullptr ? string_member(*metadata, key) : std::string();
}

std::string metadata_string(const JsonValue& object, std::string_view key) {
  return std::string(object.find("metadata").find(key).string_or_empty());
}

// "namespace/name" (cluster-scoped: "name"), or nullopt when the object has
// no name to track it by.
template <class Object>
std::optional<std::string> object_key(const Object& object) {
  const std::string name = metadata_string(object, "name");
  if (name.empty()) {
    return std::nullopt;
  }
  const std::string namespace_ = metadata_string(object, "namespace");
  return namespace_.empty() ? name : namespace_ + "/" + name;
}

// The message of a Kubernetes Status body, or an excerpt of whatever it is.
std::string status_message(int status, const std::string& body) {
  std::string text = "HTTP " + std::to_string(status);
  const json parsed = parse_json(body).value_or(json());
  if (const std::string message = string_member(parsed, "message"); !message.empty()) {
    return text + ": " + excerpt(message);
  }
  if (!body.empty()) {
    return text + ": " + excerpt(body);
  }
  return text;
}

std::string_view kind_name(WatchedResource resource) {
  switch (resource) {
    case WatchedResource::Services:
      return "Service";
    case WatchedResource::EndpointSlices:
      return "EndpointSlice";
    case WatchedResource::Endpoints:
      return "Endpoints";
    case WatchedResource::Nodes:
      return "Node";
  }
  return "object";
}

}  // namespace

std::string service_proxy_label_selector(std::string_view service_proxy_name) {
  if (service_proxy_name.empty()) return std::string(kKubeProxyLabelSelector);
  return "service.kubernetes.io/service-proxy-name=" + std::string(service_proxy_name) +
         ",!service.kubernetes.io/headless";
}

std::string_view collection_path(WatchedResource resource) {
  switch (resource) {
    case WatchedResource::Services:
      return "/api/v1/services";
    case WatchedResource::EndpointSlices:
      return "/apis/discovery.k8s.io/v1/endpointslices";
    case WatchedResource::Endpoints:
      return "/api/v1/endpoints";
    case WatchedResource::Nodes:
      return "/api/v1/nodes";
  }
  return "/";
}

std::string url_encode(std::string_view text) {
  constexpr std::string_view kHex = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xf]);
    }
  }
  return out;
}

// One object decoded, ready to be reported: what it is now (values, in the
// same order as reported), and how it was reached.
struct Informer::Update {
  std::string key;
  std::string resource_version;
  std::vector<ReportedObject> reported;
  std::vector<std::variant<Service, EndpointSlice, Node>> values;
  Diagnostics diagnostics;
  bool skipped = false;  // the decoder rejected the object (not: ignored it)
};

enum class Informer::WatchEnd {
  Continue,     // (per event) carry on reading
  Ended,        // the server ended the watch normally: reopen it now
  Retry,        // failed or untrustworthy: reopen from the last resourceVersion after a delay
  Relist,       // the resourceVersion expired: list again now
  RelistLater,  // the server reported an error: list again after a delay
  Stopped,
};

Informer::Informer(ApiTransport& transport, ClusterListener& listener, InformerOptions options, Sleeper& sleeper)
    : transport_(transport),
      listener_(listener),
      options_(std::move(options)),
      sleeper_(sleeper),
      backoff_(options_.backoff, options_.backoff_seed != 0 ? options_.backoff_seed : std::random_device{}()),
      resource_(options_.resource) {
  options_.decode.texts = &texts_;
}

Informer::~Informer() = default;

void Informer::stop() {
  stopped_.store(true);
  sleeper_.cancel();
  transport_.abort();
}

bool Informer::pause() { return !stopped_.load() && sleeper_.sleep_for(backoff_.next()) && !stopped_.load(); }

void Informer::report_incident(WatchIncident incident, const std::string& detail) {
  listener_.incident(resource_, incident, detail);
}

void Informer::run() {
  bool need_discovery = resource_ == WatchedResource::EndpointSlices && options_.fall_back_to_endpoints;
  bool need_list = true;
  while (!stopped_.load()) {
    try {
      if (need_discovery) {
        if (!discover()) {
          return;  // stopped
        }
        need_discovery = false;
      }
      if (need_list) {
        if (!list()) {
          if (!pause()) {
            return;
          }
          continue;
        }
        need_list = false;
        backoff_.reset();
      }
      switch (watch()) {
        case WatchEnd::Continue:
        case WatchEnd::Ended:
          break;
        case WatchEnd::Retry:
          if (!pause()) {
            return;
          }
          break;
        case WatchEnd::Relist:
          need_list = true;
          break;
        case WatchEnd::RelistLater:
          need_list = true;
          if (!pause()) {
            return;
          }
          break;
        case WatchEnd::Stopped:
          return;
      }
    } catch (const std::exception& error) {
      // From the listener (the informer's own code reports rather than
      // throws) or out of memory. What was reported may be incomplete, so
      // start over from a full list.
      need_list = true;
      report_all_ = true;
      try {
        report_incident(WatchIncident::Relist, std::string("unexpected error, relisting: ") + error.what());
      } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch): nothing left to tell
      }
      if (!pause()) {
        return;
      }
    }
  }
}

bool Informer::discover() {
  while (!stopped_.load()) {
    auto response = transport_.get(std::string(kDiscoveryPath));
    if (!response) {
      if (response.error().failure == TransportFailure::Aborted) {
        return false;
      }
      report_incident(WatchIncident::ServerUnreachable, "discovery: " + response.error().message);
    } else if (response->status == 404) {
      resource_ = WatchedResource::Endpoints;
      backoff_.reset();
      return true;
    } else if (response->status == 200) {
      // A discovery document that lists resources without endpointslices is
      // as good as a 404; one we cannot read is taken to be the usual case.
      const json document = parse_json(response->body).value_or(json());
      const json* resources = member(document, "resources");
      if (resources != nullptr && resources->is_array() &&
          std::ranges::none_of(*resources,
                               [](const json& entry) { return string_member(entry, "name") == "endpointslices"; })) {
        resource_ = WatchedResource::Endpoints;
      }
      backoff_.reset();
      return true;
    } else {
      report_incident(WatchIncident::ServerUnreachable,
                      "discovery: GET " + std::string(kDiscoveryPath) + ": " +
                          status_message(response->status, response->body));
    }
    if (!pause()) {
      return false;
    }
  }
  return false;
}

std::string Informer::query(bool watch, const std::string& continue_token) const {
  std::string query;
  if (watch) {
    query = "?watch=true&allowWatchBookmarks=true";
    if (!resource_version_.empty()) {
      query += "&resourceVersion=" + url_encode(resource_version_);
    }
    query += "&timeoutSeconds=" + std::to_string(options_.watch_timeout_seconds);
  } else {
    query = "?limit=" + std::to_string(options_.page_size);
    if (!continue_token.empty()) {
      query += "&continue=" + url_encode(continue_token);
    }
  }
  if (!options_.label_selector.empty()) {
    query += "&labelSelector=" + url_encode(options_.label_selector);
  }
  if (!options_.field_selector.empty()) {
    query += "&fieldSelector=" + url_encode(options_.field_selector);
  }
  return query;
}

bool Informer::list() {
  const std::string path(collection_path(resource_));
  std::string continue_token;
  std::string list_version;
  std::vector<Update> updates;
  std::unordered_set<std::string> seen;
  std::size_t unnamed = 0;  // items without metadata.name, reported once the pages are decoded
  // A page is decoded while the next is fetched and parsed: a large list is
  // CPU-bound, and decoding is a fifth of its cost. One page at a time, in
  // order, so `updates`, `seen`, `unnamed` and the decoder's text pool are
  // only ever used by one thread. Declared after them: its destructor waits
  // for the page in hand on every way out.
  std::future<void> decoding;
  const auto decode_page = [&](const JsonTree& page) {
    const JsonValue items = page.root().find("items");
    if (!items.exists() || !items.is_array()) {
      return;
    }
    for (JsonValue item = items.first(); item.exists(); item = item.next()) {
      std::optional<std::string> key = object_key(item);
      if (!key) {
        ++unnamed;
        continue;
      }
      seen.insert(*key);
      std::string version = metadata_string(item, "resourceVersion");
      // Unchanged since it was last reported: a relist costs what changed.
      if (!report_all_ && known_.has_version(*key, version)) {
        continue;
      }
      updates.push_back(decode(item, std::move(*key), std::move(version)));
    }
  };
  const auto finish_decoding = [&] {
    if (decoding.valid()) {
      decoding.get();  // rethrows what the decoding threw
    }
  };
  bool restarted = false;
  while (true) {
    if (stopped_.load()) {
      return false;
    }
    auto response = transport_.get(path + query(false, continue_token));
    if (!response) {
      if (response.error().failure != TransportFailure::Aborted) {
        report_incident(WatchIncident::ServerUnreachable, "list: " + response.error().message);
      }
      return false;
    }
    if (response->status == 410 && !continue_token.empty() && !restarted) {
      // The continue token outlived the server's compaction window: the
      // pages so far no longer form one snapshot. Start over, once.
      report_incident(WatchIncident::Relist, "list " + path + ": continue token expired; listing again");
      restarted = true;
      continue_token.clear();
      finish_decoding();
      updates.clear();
      seen.clear();
      unnamed = 0;
      continue;
    }
    if (response->status != 200) {
      report_incident(WatchIncident::ServerUnreachable,
                      "list " + path + ": " + status_message(response->status, response->body));
      return false;
    }
    // A tree rather than nlohmann's document: a page of 500 objects is
    // tens of thousands of values, which a tree holds in two buffers.
    auto parsed = parse_json_tree(response->body);
    JsonTree page = parsed ? std::move(*parsed) : JsonTree();
    const JsonValue items = page.root().find("items");
    if (!parsed || !page.root().is_object() || (items.exists() && !items.is_array() && !items.is_null())) {
      report_incident(WatchIncident::DecodeError, "list " + path + ": the response is not a list" +
                                                      (parsed ? std::string() : " (" + parsed.error() + ")") + ": " +
                                                      excerpt(response->body));
      return false;
    }
    list_version = metadata_string(page.root(), "resourceVersion");
    continue_token = metadata_string(page.root(), "continue");
    finish_decoding();
    if (continue_token.empty()) {
      decode_page(page);
      break;
    }
    decoding = std::async(std::launch::async, [&decode_page, page = std::move(page)] { decode_page(page); });
  }

  for (std::size_t i = 0; i < unnamed; ++i) {
    listener_.diagnostics(
        {{std::string(kind_name(resource_)), "metadata.name", "required field is missing; entry of the list skipped"}});
    report_incident(WatchIncident::DecodeError, "list " + path + ": an item without metadata.name");
  }
  for (const std::string& key : known_.keys_not_in(seen)) {
    forget(key);
  }
  for (Update& update : updates) {
    apply(std::move(update));
  }
  resource_version_ = list_version;
  events_since_list_ = false;
  report_all_ = false;
  listener_.synced(resource_);
  return true;
}

Informer::WatchEnd Informer::watch() {
  const std::string path(collection_path(resource_));
  const auto started = std::chrono::steady_clock::now();
  bool any_event = false;
  WatchEnd end = WatchEnd::Continue;
  auto result = transport_.stream(path + query(true, ""), [&](std::string_view line) {
    end = handle_event(line, any_event);
    return end == WatchEnd::Continue;
  });
  // A watch that delivered events was a successful connection, whatever
  // ends it; one that fails before any event keeps the delays growing.
  if (any_event) {
    backoff_.reset();
  }
  if (!result) {
    if (result.error().failure == TransportFailure::Aborted || stopped_.load()) {
      return WatchEnd::Stopped;
    }
    report_incident(result.error().failure == TransportFailure::Unreachable ? WatchIncident::ServerUnreachable
                                                                            : WatchIncident::Reconnect,
                    "watch: " + result.error().message);
    return WatchEnd::Retry;
  }
  if (result->stopped) {
    return end;
  }
  if (result->status == 410 ||
      (result->status == 504 && resource_version_too_large(parse_json(result->body).value_or(json())))) {
    report_incident(WatchIncident::Relist, "watch " + path + ": " + status_message(result->status, result->body));
    return relist_now_or_later();
  }
  if (result->status < 200 || result->status >= 300) {
    report_incident(WatchIncident::Reconnect, "watch " + path + ": " + status_message(result->status, result->body));
    return WatchEnd::Retry;
  }
  // A server (or a proxy in front of it) that ends every watch at once would
  // otherwise be asked again in a tight loop; client-go calls this a "very
  // short watch" and backs off too.
  const auto lasted = std::chrono::steady_clock::now() - started;
  if (!any_event && lasted < options_.short_watch) {
    report_incident(WatchIncident::Reconnect,
                    "watch " + path + ": closed by the server after " +
                        std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(lasted).count()) +
                        " ms without an event");
    return WatchEnd::Retry;
  }
  backoff_.reset();
  return WatchEnd::Ended;
}

// The resourceVersion expired. Normally because the watch was down longer
// than the server keeps history: list again at once. But expired before any
// event since the last list means the server cannot keep up with its own
// history (or is broken); then wait, rather than hammer it with lists.
Informer::WatchEnd Informer::relist_now_or_later() const {
  return events_since_list_ ? WatchEnd::Relist : WatchEnd::RelistLater;
}

Informer::WatchEnd Informer::handle_event(std::string_view line, bool& any_event) {
  if (line.find_first_not_of(" \t\r") == std::string_view::npos) {
    return WatchEnd::Continue;  // keep-alive padding, if a proxy adds any
  }
  const std::string path(collection_path(resource_));
  auto parsed = parse_json(line);
  const json event = parsed ? std::move(*parsed) : json(json::value_t::discarded);
  const json* object = member(event, "object");
  const std::string type = string_member(event, "type");
  if (event.is_discarded() || type.empty() || object == nullptr || !object->is_object()) {
    report_incident(WatchIncident::DecodeError,
                    "watch " + path + ": not a watch event" + (parsed ? std::string() : " (" + parsed.error() + ")") +
                        ", resuming from resourceVersion " + resource_version_ + ": " + excerpt(line));
    return WatchEnd::Retry;
  }

  if (type == "ERROR") {
    const json* code = member(*object, "code");
    const std::string reason = string_member(*object, "reason");
    const bool expired = (code != nullptr && code->is_number_integer() && code->get<std::int64_t>() == 410) ||
                         reason == "Expired" || reason == "Gone" || resource_version_too_large(*object);
    std::string detail = "watch " + path + ": ERROR event";
    if (!reason.empty()) {
      detail += " " + excerpt(reason);
    }
    if (const std::string message = string_member(*object, "message"); !message.empty()) {
      detail += ": " + excerpt(message);
    }
    report_incident(WatchIncident::Relist, detail);
    return expired ? relist_now_or_later() : WatchEnd::RelistLater;
  }

  std::string version = metadata_string(*object, "resourceVersion");
  if (type == "BOOKMARK") {
    if (!version.empty()) {
      resource_version_ = std::move(version);
    }
    any_event = true;
    events_since_list_ = true;
    return WatchEnd::Continue;
  }
  if (type != "ADDED" && type != "MODIFIED" && type != "DELETED") {
    report_incident(WatchIncident::DecodeError, "watch " + path + ": unknown event type " + excerpt(type) +
                                                    ", resuming from resourceVersion " + resource_version_);
    return WatchEnd::Retry;
  }

  any_event = true;
  events_since_list_ = true;
  std::optional<std::string> key = object_key(*object);
  if (!key) {
    listener_.diagnostics({{std::string(kind_name(resource_)), "metadata.name",
                            "required field is missing; " + type + " event skipped"}});
    report_incident(WatchIncident::DecodeError, "watch " + path + ": " + type + " event for an object without a name");
  } else if (type == "DELETED") {
    forget(*key);
  } else {
    const JsonTree tree = JsonTree::from_json(*object);
    apply(decode(tree.root(), std::move(*key), version));
  }
  if (!version.empty()) {
    resource_version_ = std::move(version);
  }
  return WatchEnd::Continue;
}

Informer::Update Informer::decode(const JsonValue& object, std::string key, std::string resource_version) const {
  Update update;
  update.key = std::move(key);
  update.resource_version = std::move(resource_version);
  std::string ignored;
  switch (resource_) {
    case WatchedResource::Services: {
      Decoded<Service> decoded = decode_service(object, options_.decode);
      update.diagnostics = std::move(decoded.diagnostics);
      ignored = std::move(decoded.ignored_reason);
      if (decoded.value) {
        update.reported.push_back({decoded.value->id, ""});
        update.values.emplace_back(std::move(*decoded.value));
      }
      break;
    }
    case WatchedResource::EndpointSlices: {
      Decoded<EndpointSlice> decoded = decode_endpoint_slice(object, options_.decode);
      update.diagnostics = std::move(decoded.diagnostics);
      ignored = std::move(decoded.ignored_reason);
      if (decoded.value) {
        update.reported.push_back({decoded.value->service(), decoded.value->id.name});
        update.values.emplace_back(std::move(*decoded.value));
      }
      break;
    }
    case WatchedResource::Endpoints: {
      Decoded<std::vector<EndpointSlice>> decoded = decode_endpoints_v1(object, options_.decode);
      update.diagnostics = std::move(decoded.diagnostics);
      ignored = std::move(decoded.ignored_reason);
      if (decoded.value) {
        for (EndpointSlice& slice : *decoded.value) {
          update.reported.push_back({slice.service(), slice.id.name});
          update.values.emplace_back(std::move(slice));
        }
      } else if (ignored.empty()) {
        update.skipped = true;
      }
      return update;
    }
    case WatchedResource::Nodes: {
      Decoded<Node> decoded = decode_node(object);
      update.diagnostics = std::move(decoded.diagnostics);
      if (decoded.value) {
        update.reported.push_back({{"", decoded.value->name}, ""});
        update.values.emplace_back(std::move(*decoded.value));
      }
      break;
    }
  }
  update.skipped = update.values.empty() && ignored.empty();
  return update;
}

void Informer::apply(Update update) {
  if (!update.diagnostics.empty()) {
    listener_.diagnostics(update.diagnostics);
  }
  if (update.skipped) {
    report_incident(WatchIncident::DecodeError,
                    update.diagnostics.empty() ? std::string(kind_name(resource_)) + " " + update.key + " skipped"
                                               : update.diagnostics.front().to_string());
  }
  for (const ReportedObject& old : known_.reported(update.key)) {
    if (std::ranges::find(update.reported, old) == update.reported.end()) {
      report_gone(old);
    }
  }
  known_.set(update.key, update.resource_version, update.reported);
  for (auto& value : update.values) {
    if (auto* service = std::get_if<Service>(&value)) {
      const ObjectName id = service->id;
      listener_.service_changed(id, std::move(*service));
    } else if (auto* slice = std::get_if<EndpointSlice>(&value)) {
      const ObjectName service_id = slice->service();
      const std::string name = slice->id.name;
      listener_.slice_changed(service_id, name, std::move(*slice));
    } else if (auto* node = std::get_if<Node>(&value)) {
      const std::string name = node->name;
      listener_.node_changed(name, std::move(*node));
    }
  }
}

void Informer::forget(const std::string& key) {
  for (const ReportedObject& old : known_.erase(key)) {
    report_gone(old);
  }
}

void Informer::report_gone(const ReportedObject& reported) {
  switch (resource_) {
    case WatchedResource::Services:
      listener_.service_changed(reported.service, std::nullopt);
      break;
    case WatchedResource::EndpointSlices:
    case WatchedResource::Endpoints:
      listener_.slice_changed(reported.service, reported.slice, std::nullopt);
      break;
    case WatchedResource::Nodes:
      listener_.node_changed(reported.service.name, std::nullopt);
      break;
  }
}

}  // namespace kubenat
