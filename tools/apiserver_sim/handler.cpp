#include "tools/apiserver_sim/handler.h"

#include <algorithm>
#include <charconv>
#include <thread>

#include "tools/apiserver_sim/patch.h"
#include "tools/apiserver_sim/protobuf.h"
#include "tools/apiserver_sim/resources.h"
#include "tools/apiserver_sim/tables.h"
#include "tools/apiserver_sim/text.h"

namespace kubenat::apiserver_sim {

using nlohmann::json;

json ApiError::to_status() const {
  json status = {{"kind", "Status"},         {"apiVersion", "v1"}, {"metadata", json::object()},
                 {"status", "Failure"},      {"message", message}, {"reason", reason},
                 {"code", code}};
  if (!details.is_null()) status["details"] = details;
  return status;
}

json Stats::to_json() const {
  return {{"requests", requests}, {"by_path", by_path},       {"by_verb", by_verb},
          {"lists", lists},       {"watches", watches},       {"expired", expired},
          {"dropped_watches", dropped_watches}, {"open_watches", open_watches},
          {"resource_version", resource_version}};
}

void StatsRecorder::request(const std::string& path) {
  std::lock_guard lock(mutex_);
  ++stats_.requests;
  ++stats_.by_path[path];
}

void StatsRecorder::verb(const std::string& verb) {
  std::lock_guard lock(mutex_);
  ++stats_.by_verb[verb];
}

void StatsRecorder::list(const std::string& resource) {
  std::lock_guard lock(mutex_);
  ++stats_.lists[resource];
}

void StatsRecorder::watch(const std::string& resource) {
  std::lock_guard lock(mutex_);
  ++stats_.watches[resource];
}

void StatsRecorder::expired() {
  std::lock_guard lock(mutex_);
  ++stats_.expired;
}

void StatsRecorder::dropped(std::uint64_t count) {
  std::lock_guard lock(mutex_);
  stats_.dropped_watches += count;
}

Stats StatsRecorder::snapshot() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void StatsRecorder::reset() {
  std::lock_guard lock(mutex_);
  stats_ = Stats{};
}

namespace {

using Params = std::map<std::string, std::string>;

HttpResponse json_response(int status, const json& body) { return HttpResponse{status, "application/json", body.dump(), {}}; }

HttpResponse error_response(const ApiError& error) { return json_response(error.code, error.to_status()); }

HttpResponse error_response(int code, std::string reason, std::string message) {
  return error_response(ApiError{code, std::move(reason), std::move(message), nullptr});
}

HttpResponse not_found_response() {
  return error_response(404, "NotFound", "the server could not find the requested resource");
}

std::string param(const Params& params, const std::string& name) {
  auto it = params.find(name);
  return it == params.end() ? "" : it->second;
}

bool bool_param(const Params& params, const std::string& name) {
  const std::string value = param(params, name);
  return value == "true" || value == "1";
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> segments;
  std::size_t start = 0;
  while (start < path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (end > start) segments.push_back(url_decode(path.substr(start, end - start)));
    start = end + 1;
  }
  return segments;
}

// Typed client-go clientsets (kubectl create service / namespace, for one)
// send protobuf; Service and Namespace bodies are understood (protobuf.h).
bool is_protobuf(const HttpRequest& request) {
  return request.content_type.starts_with("application/vnd.kubernetes.protobuf");
}

Result<json> parse_body(const HttpRequest& request) {
  if (is_protobuf(request)) {
    auto decoded = decode_protobuf_object(request.body);
    if (!decoded) {
      return std::unexpected(ApiError{415, "UnsupportedMediaType",
                                      "kubenat-apiserver-sim: " + decoded.error() +
                                          "; send JSON or YAML (kubectl create -f, or a client set to JSON)",
                                      nullptr});
    }
    return std::move(*decoded);
  }
  auto document = parse_document(request.body);
  if (!document) {
    return std::unexpected(ApiError{400, "BadRequest", "the request body is not JSON or YAML: " + document.error(), nullptr});
  }
  return std::move(*document);
}

Result<Selection> selection_from(const Params& params, std::string namespace_name) {
  Selection selection;
  selection.namespace_name = std::move(namespace_name);
  auto labels = LabelSelector::parse(param(params, "labelSelector"));
  if (!labels) return std::unexpected(ApiError{400, "BadRequest", labels.error(), nullptr});
  auto fields = FieldSelector::parse(param(params, "fieldSelector"));
  if (!fields) return std::unexpected(ApiError{400, "BadRequest", fields.error(), nullptr});
  selection.labels = std::move(*labels);
  selection.fields = std::move(*fields);
  return selection;
}

bool is_dry_run(const Params& params, const json& options) {
  if (param(params, "dryRun") == "All") return true;
  return options.is_object() && options.contains("dryRun") && options["dryRun"].is_array() &&
         std::find(options["dryRun"].begin(), options["dryRun"].end(), "All") != options["dryRun"].end();
}

}  // namespace

struct Handler::ApiPath {
  ResourceId resource = 0;
  std::string namespace_name;
  std::string name;
  std::string subresource;
  bool watch = false;  // the deprecated /watch/ path prefix
};

Handler::Handler(HandlerConfig config, Store& store, StatsRecorder& stats, SimControl& control)
    : config_(std::move(config)), store_(store), stats_(stats), control_(control) {}

Handler::Outcome Handler::handle(const HttpRequest& request) {
  const std::size_t question = request.target.find('?');
  const std::string path = request.target.substr(0, question);
  const Params params = question == std::string::npos ? Params{} : parse_query(request.target.substr(question + 1));
  stats_.request(path);

  if (path.starts_with("/sim/")) return handle_sim(request, path);
  if (path == "/healthz" || path == "/livez" || path == "/readyz" || path.starts_with("/healthz/") ||
      path.starts_with("/livez/") || path.starts_with("/readyz/")) {
    return HttpResponse{200, "text/plain", "ok", {}};
  }
  if (!config_.token.empty() && request.authorization != "Bearer " + config_.token) {
    return error_response(401, "Unauthorized", "Unauthorized");
  }
  if (auto delay = control_.faults().delay; delay.count() > 0) std::this_thread::sleep_for(delay);

  const std::vector<std::string> segments = split_path(path);
  if (request.method != "GET" && (segments.empty() || (segments[0] != "api" && segments[0] != "apis"))) {
    return error_response(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
  }
  if (segments.size() == 2 && segments[0] == "openapi" && segments[1] == "v3") {
    return json_response(200, openapi_v3_index());
  }
  if (segments.size() >= 4 && segments[0] == "openapi" && segments[1] == "v3") {
    std::optional<json> document;
    if (segments.size() == 4 && segments[2] == "api") document = openapi_v3_document("", segments[3]);
    if (segments.size() == 5 && segments[2] == "apis") document = openapi_v3_document(segments[3], segments[4]);
    return document ? json_response(200, *document) : not_found_response();
  }
  if (segments.size() == 1 && segments[0] == "version") return json_response(200, version_info(config_.kubernetes_version));
  if (segments.size() == 1 && segments[0] == "api") return json_response(200, core_versions(config_.server_address));
  if (segments.size() == 1 && segments[0] == "apis") return json_response(200, group_list());
  if (segments.size() == 2 && segments[0] == "apis") {
    auto document = group(segments[1]);
    return document ? json_response(200, *document) : not_found_response();
  }

  // The API paths: /api/v1/..., /apis/GROUP/VERSION/...
  std::string group_name;
  std::string version;
  std::size_t rest_at = 0;
  if (segments.size() >= 2 && segments[0] == "api") {
    version = segments[1];
    rest_at = 2;
  } else if (segments.size() >= 3 && segments[0] == "apis") {
    group_name = segments[1];
    version = segments[2];
    rest_at = 3;
  } else {
    return not_found_response();
  }
  std::vector<std::string> rest(segments.begin() + static_cast<std::ptrdiff_t>(rest_at), segments.end());
  if (rest.empty()) {
    auto document = resource_list(group_name, version);
    if (!document || request.method != "GET") return not_found_response();
    return json_response(200, *document);
  }
  ApiPath api_path;
  if (rest[0] == "watch") {
    api_path.watch = true;
    rest.erase(rest.begin());
    if (rest.empty()) return not_found_response();
  }
  std::string plural;
  bool namespaced_form = false;
  if (rest[0] == "namespaces" && rest.size() >= 3 && find_resource(group_name, version, rest[2])) {
    // /namespaces/NS/PLURAL[/NAME[/SUBRESOURCE]]
    if (rest.size() > 5) return not_found_response();
    namespaced_form = true;
    api_path.namespace_name = rest[1];
    plural = rest[2];
    if (rest.size() >= 4) api_path.name = rest[3];
    if (rest.size() == 5) api_path.subresource = rest[4];
  } else {
    // /PLURAL[/NAME[/SUBRESOURCE]]
    if (rest.size() > 3) return not_found_response();
    plural = rest[0];
    if (rest.size() >= 2) api_path.name = rest[1];
    if (rest.size() == 3) api_path.subresource = rest[2];
  }
  auto resource = find_resource(group_name, version, plural);
  if (!resource) return not_found_response();
  api_path.resource = *resource;
  const ResourceType& type = resource_type(*resource);
  if (namespaced_form && !type.namespaced) return not_found_response();
  if (!namespaced_form && type.namespaced && !api_path.name.empty()) return not_found_response();
  if (!api_path.subresource.empty() && api_path.subresource != "status") return not_found_response();
  return handle_api(request, api_path, params);
}

Handler::Outcome Handler::handle_api(const HttpRequest& request, const ApiPath& path, const Params& params) {
  const ResourceType& type = resource_type(path.resource);
  const bool status_only = path.subresource == "status";
  const std::string& method = request.method;
  if (method == "GET") {
    if (path.watch || bool_param(params, "watch")) {
      if (status_only) return not_found_response();
      return watch(request, path, params);
    }
    if (path.name.empty()) return list(request, path, params);
    stats_.verb("get");
    auto object = store_.get(path.resource, path.namespace_name, path.name);
    if (!object) return error_response(object.error());
    return object_response(request, path, params, *object, 200);
  }
  if (method == "POST") {
    if (!path.name.empty()) return error_response(405, "MethodNotAllowed", "POST is for collections");
    stats_.verb("create");
    auto body = parse_body(request);
    if (!body) return error_response(body.error());
    auto object = store_.create(path.resource, path.namespace_name, std::move(*body), is_dry_run(params, nullptr));
    if (!object) return error_response(object.error());
    return object_response(request, path, params, *object, 201);
  }
  if (method == "PUT") {
    if (path.name.empty()) return error_response(405, "MethodNotAllowed", "PUT is for objects");
    stats_.verb("update");
    auto body = parse_body(request);
    if (!body) return error_response(body.error());
    auto object = store_.replace(path.resource, path.namespace_name, path.name, std::move(*body),
                                 is_dry_run(params, nullptr), status_only);
    if (!object) return error_response(object.error());
    return object_response(request, path, params, *object, 200);
  }
  if (method == "PATCH") {
    if (path.name.empty()) return error_response(405, "MethodNotAllowed", "PATCH is for objects");
    stats_.verb("patch");
    auto patch_type = patch_type_from_content_type(request.content_type);
    if (!patch_type) {
      return error_response(415, "UnsupportedMediaType",
                            "the body of the request was in an unknown format - accepted media types include: "
                            "application/json-patch+json, application/merge-patch+json, "
                            "application/apply-patch+yaml, application/strategic-merge-patch+json");
    }
    auto body = parse_document(request.body);
    if (!body) return error_response(400, "BadRequest", "the patch is not JSON or YAML: " + body.error());
    auto object = store_.patch(path.resource, path.namespace_name, path.name, *body, *patch_type,
                               is_dry_run(params, nullptr), status_only);
    if (!object) return error_response(object.error());
    return object_response(request, path, params, *object, 200);
  }
  if (method == "DELETE") {
    json options = nullptr;
    // Protobuf DeleteOptions (typed clients) are ignored: nothing here
    // depends on them but preconditions and dryRun.
    if (!request.body.empty() && !is_protobuf(request)) {
      auto body = parse_document(request.body);
      if (!body) return error_response(400, "BadRequest", "the DeleteOptions are not JSON or YAML: " + body.error());
      options = std::move(*body);
    }
    if (path.name.empty()) {
      stats_.verb("deletecollection");
      auto selection = selection_from(params, path.namespace_name);
      if (!selection) return error_response(selection.error());
      auto removed = store_.remove_collection(path.resource, *selection, is_dry_run(params, options));
      if (!removed) return error_response(removed.error());
      std::string body = "{\"kind\":\"" + type.list_kind() + "\",\"apiVersion\":\"" + type.api_version() +
                         "\",\"metadata\":{\"resourceVersion\":\"" + std::to_string(store_.resource_version()) +
                         "\"},\"items\":[";
      for (std::size_t i = 0; i < removed->size(); ++i) body += (i ? "," : "") + (*removed)[i]->text;
      return HttpResponse{200, "application/json", body + "]}", {}};
    }
    stats_.verb("delete");
    auto object = store_.remove(path.resource, path.namespace_name, path.name, options, is_dry_run(params, options));
    if (!object) return error_response(object.error());
    return object_response(request, path, params, *object, 200);
  }
  return error_response(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
}

HttpResponse Handler::object_response(const HttpRequest& request, const ApiPath& path, const Params& params,
                                      const ObjectPtr& object, int status) const {
  // `kubectl get svc NAME` asks for a one-row Table.
  if (request.method == "GET") {
    if (auto table = table_request(request.accept, param(params, "includeObject"))) {
      json metadata = {{"resourceVersion", std::to_string(object->resource_version)}};
      return json_response(status, make_table(path.resource, {&object->object}, *table, std::move(metadata),
                                              std::chrono::system_clock::now()));
    }
  }
  return HttpResponse{status, "application/json", object->text, {}};
}

HttpResponse Handler::list(const HttpRequest& request, const ApiPath& path, const Params& params) {
  const ResourceType& type = resource_type(path.resource);
  stats_.verb("list");
  stats_.list(type.plural);
  auto selection = selection_from(params, path.namespace_name);
  if (!selection) return error_response(selection.error());
  ListOptions options;
  options.selection = std::move(*selection);
  options.continue_token = param(params, "continue");
  options.resource_version = param(params, "resourceVersion");
  options.resource_version_match = param(params, "resourceVersionMatch");
  if (const std::string limit = param(params, "limit"); !limit.empty()) {
    std::size_t value = 0;
    auto [end, ec] = std::from_chars(limit.data(), limit.data() + limit.size(), value);
    if (ec != std::errc() || end != limit.data() + limit.size()) {
      return error_response(400, "BadRequest", "invalid limit: " + limit);
    }
    options.limit = value;
  }
  auto result = store_.list(path.resource, options);
  if (!result) {
    if (result.error().code == 410) stats_.expired();
    return error_response(result.error());
  }
  if (auto table = table_request(request.accept, param(params, "includeObject"))) {
    std::vector<const json*> objects;
    objects.reserve(result->items.size());
    for (const ObjectPtr& item : result->items) objects.push_back(&item->object);
    json metadata = {{"resourceVersion", std::to_string(result->resource_version)}};
    if (!result->continue_token.empty()) metadata["continue"] = result->continue_token;
    return json_response(200, make_table(path.resource, objects, *table, std::move(metadata),
                                         std::chrono::system_clock::now()));
  }
  // Concatenated from each object's stored text: no JSON work per LIST.
  std::size_t size = 128;
  for (const ObjectPtr& item : result->items) size += item->text.size() + 1;
  std::string body;
  body.reserve(size);
  body += "{\"kind\":\"" + type.list_kind() + "\",\"apiVersion\":\"" + type.api_version() +
          "\",\"metadata\":{\"resourceVersion\":\"" + std::to_string(result->resource_version) + "\"";
  if (!result->continue_token.empty()) body += ",\"continue\":\"" + result->continue_token + "\"";
  body += "},\"items\":[";
  for (std::size_t i = 0; i < result->items.size(); ++i) {
    if (i > 0) body += ',';
    body += result->items[i]->text;
  }
  body += "]}";
  return HttpResponse{200, "application/json", std::move(body), {}};
}

Handler::Outcome Handler::watch(const HttpRequest& request, const ApiPath& path, const Params& params) {
  const ResourceType& type = resource_type(path.resource);
  stats_.verb("watch");
  stats_.watch(type.plural);
  Params effective = params;
  if (!path.name.empty()) {
    // A watch on one object is a watch on its collection by name.
    std::string fields = param(params, "fieldSelector");
    effective["fieldSelector"] = "metadata.name=" + path.name + (fields.empty() ? "" : "," + fields);
  }
  auto selection = selection_from(effective, path.namespace_name);
  if (!selection) return error_response(selection.error());
  auto start = store_.watch(path.resource, std::move(*selection), param(params, "resourceVersion"));
  if (!start) return error_response(start.error());
  if (start->expired) stats_.expired();
  if (param(params, "sendInitialEvents") == "false") start->initial.clear();

  WatchStreamOptions options;
  options.bookmarks = bool_param(params, "allowWatchBookmarks");
  options.bookmark_interval = config_.bookmark_interval;
  options.initial_events_end = bool_param(params, "sendInitialEvents");
  const auto now = std::chrono::steady_clock::now();
  if (const std::string timeout = param(params, "timeoutSeconds"); !timeout.empty()) {
    long long seconds = 0;
    auto [end, ec] = std::from_chars(timeout.data(), timeout.data() + timeout.size(), seconds);
    if (ec != std::errc() || end != timeout.data() + timeout.size() || seconds < 0) {
      return error_response(400, "BadRequest", "invalid timeoutSeconds: " + timeout);
    }
    options.deadline = now + std::chrono::seconds(seconds);
  } else if (config_.watch_timeout.count() > 0) {
    options.deadline = now + config_.watch_timeout;
  }
  if (auto table = table_request(request.accept, param(params, "includeObject"))) {
    const ResourceId resource = path.resource;
    options.render = [resource, table = *table](const StoredObject& object) {
      json metadata = {{"resourceVersion", std::to_string(object.resource_version)}};
      return make_table(resource, {&object.object}, table, std::move(metadata), std::chrono::system_clock::now()).dump();
    };
  }
  options.faults = [this] { return control_.faults(); };
  return std::make_unique<WatchStream>(store_, std::move(*start), std::move(options));
}

HttpResponse Handler::handle_sim(const HttpRequest& request, const std::string& path) {
  if (path == "/sim/stats") {
    if (request.method == "DELETE") {
      control_.reset_stats();
      return json_response(200, {{"reset", true}});
    }
    return json_response(200, control_.stats().to_json());
  }
  if (path == "/sim/faults") {
    auto settings_json = [](const FaultSettings& faults) {
      return json{{"delay_ms", faults.delay.count()},
                  {"watch_garbage_every", faults.watch_garbage_every},
                  {"garbage_closes", faults.garbage_closes}};
    };
    if (request.method == "GET") return json_response(200, settings_json(control_.faults()));
    if (request.method != "POST") return error_response(405, "MethodNotAllowed", "GET or POST /sim/faults");
    json body = json::parse(request.body.empty() ? std::string("{}") : request.body, nullptr, false);
    if (!body.is_object()) return error_response(400, "BadRequest", "/sim/faults takes a JSON object");
    try {
      json applied = json::array();
      FaultSettings faults = control_.faults();
      if (body.contains("delay_ms")) faults.delay = std::chrono::milliseconds(body["delay_ms"].get<long long>());
      if (body.contains("watch_garbage_every")) faults.watch_garbage_every = body["watch_garbage_every"].get<int>();
      if (body.contains("garbage_closes")) faults.garbage_closes = body["garbage_closes"].get<bool>();
      control_.set_faults(faults);
      if (body.value("drop_watches", false)) {
        control_.drop_watches();
        applied.push_back("drop_watches");
      }
      if (body.contains("garbage") && body["garbage"] != false) {
        const bool close = body["garbage"].is_object() && body["garbage"].value("close", false);
        control_.inject_garbage(close);
        applied.push_back("garbage");
      }
      if (body.value("compact", false)) {
        control_.compact();
        applied.push_back("compact");
      }
      if (body.contains("restart") && body["restart"] != false) {
        std::uint64_t jump = 1000000;
        if (body["restart"].is_object()) jump = body["restart"].value("jump", jump);
        control_.restart(jump);
        applied.push_back("restart");
      }
      HttpResponse response = json_response(200, {{"faults", settings_json(faults)}, {"applied", applied}});
      if (body.contains("outage_ms")) {
        const auto duration = std::chrono::milliseconds(body["outage_ms"].get<long long>());
        response = json_response(200, {{"faults", settings_json(faults)}, {"applied", applied}, {"outage_ms", duration.count()}});
        response.after = [this, duration] { control_.outage(duration); };
      }
      return response;
    } catch (const json::exception& error) {
      return error_response(400, "BadRequest", std::string("/sim/faults: ") + error.what());
    }
  }
  if (path == "/sim/seed") {
    if (request.method != "POST") return error_response(405, "MethodNotAllowed", "POST /sim/seed");
    auto document = parse_document(request.body);
    if (!document) return error_response(400, "BadRequest", "/sim/seed: " + document.error());
    auto stored = store_.seed(*document);
    if (!stored) return error_response(stored.error());
    return json_response(200, {{"stored", *stored}, {"resource_version", store_.resource_version()}});
  }
  return not_found_response();
}

}  // namespace kubenat::apiserver_sim
