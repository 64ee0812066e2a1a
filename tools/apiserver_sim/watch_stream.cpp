#include "tools/apiserver_sim/watch_stream.h"

#include <algorithm>

namespace kubenat::apiserver_sim {
namespace {

using nlohmann::json;

// How many queued events go into one chunk: large enough that a burst is a
// few writes, small enough that bookmarks and faults are not held up.
constexpr std::size_t kMaxBatch = 512;

}  // namespace

WatchStream::WatchStream(Store& store, WatchStart start, WatchStreamOptions options)
    : store_(store), start_(std::move(start)), options_(std::move(options)) {
  last_resource_version_ = start_.resource_version;
  next_bookmark_ = std::chrono::steady_clock::now() + options_.bookmark_interval;
}

WatchStream::~WatchStream() {
  if (start_.queue) store_.unwatch(start_.queue);
}

const std::string& WatchStream::garbage() {
  static const std::string text =
      "kubenat-apiserver-sim: injected garbage, this line is not JSON\n"
      "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"trunc\n";
  return text;
}

std::string WatchStream::event_line(std::string_view type, const StoredObject& object) const {
  std::string line;
  const std::string rendered = options_.render ? options_.render(object) : std::string();
  const std::string& text = options_.render ? rendered : object.text;
  line.reserve(text.size() + 32);
  line.append("{\"type\":\"").append(type).append("\",\"object\":").append(text).append("}\n");
  return line;
}

std::string WatchStream::bookmark_line(std::uint64_t resource_version, bool initial_events_end) const {
  const ResourceType& type = resource_type(start_.queue->resource());
  json metadata = {{"resourceVersion", std::to_string(resource_version)}};
  if (initial_events_end) metadata["annotations"] = {{"k8s.io/initial-events-end", "true"}};
  json event = {{"type", "BOOKMARK"},
                {"object", {{"kind", type.kind}, {"apiVersion", type.api_version()}, {"metadata", metadata}}}};
  return event.dump() + "\n";
}

std::optional<std::string_view> WatchStream::visible_type(const Event& event) const {
  const Selection& selection = start_.queue->selection();
  const bool everything = selection.labels.empty() && selection.fields.empty() &&
                          (selection.namespace_name.empty() || !resource_type(event.resource).namespaced);
  if (everything) return event_type_name(event.type);
  const bool now = selection.matches(event.resource, *event.object);
  const bool before = event.previous && selection.matches(event.resource, *event.previous);
  switch (event.type) {
    case EventType::Added:
      if (now) return "ADDED";
      break;
    case EventType::Modified:
      if (now && before) return "MODIFIED";
      if (now) return "ADDED";
      if (before) return "DELETED";
      break;
    case EventType::Deleted:
      if (now || before) return "DELETED";
      break;
  }
  return std::nullopt;
}

WatchStream::Step WatchStream::next() {
  using Kind = Step::Kind;
  if (ending_) return {Kind::End, {}};
  if (!started_) {
    started_ = true;
    if (start_.expired) {
      ending_ = true;
      return {Kind::Data, json{{"type", "ERROR"}, {"object", start_.expired->to_status()}}.dump() + "\n"};
    }
    std::string out;
    for (const ObjectPtr& object : start_.initial) out += event_line("ADDED", *object);
    start_.initial.clear();
    if (options_.initial_events_end && options_.bookmarks) out += bookmark_line(start_.resource_version, true);
    if (!out.empty()) return {Kind::Data, std::move(out)};
  }
  // A client that went away is only noticed on a write; with nothing to
  // write for a while the caller gets Idle and checks the socket, so that
  // abandoned watches do not pile up events.
  const auto idle_at = std::chrono::steady_clock::now() + kWatchIdleCheck;
  while (true) {
    auto now = std::chrono::steady_clock::now();
    if (options_.deadline && now >= *options_.deadline) return {Kind::End, {}};
    if (now >= idle_at) return {Kind::Idle, {}};
    auto until = std::min(options_.deadline.value_or(idle_at), idle_at);
    if (options_.bookmarks) until = std::min(until, next_bookmark_);
    // Read before waiting: once the queue is found empty, every event up to
    // this resourceVersion has been taken from it (Store::commit_locked
    // publishes after queueing), so a bookmark may carry it.
    const std::uint64_t published = store_.published_resource_version();
    WatchQueue::Batch batch = start_.queue->wait(until, kMaxBatch);
    if (batch.dropped) return {Kind::Drop, {}};
    if (batch.stopped) return {Kind::End, {}};
    const FaultSettings faults = options_.faults ? options_.faults() : FaultSettings{};
    std::string out;
    for (const EventPtr& event : batch.events) {
      if (event->resource_version <= start_.resource_version) continue;
      last_resource_version_ = std::max(last_resource_version_, event->resource_version);
      auto type = visible_type(*event);
      if (!type) continue;
      out += event_line(*type, *event->object);
      ++events_sent_;
      if (faults.watch_garbage_every > 0 && events_sent_ % static_cast<std::uint64_t>(faults.watch_garbage_every) == 0) {
        out += garbage();
        if (faults.garbage_closes) {
          ending_ = true;
          break;
        }
      }
    }
    if (!ending_ && batch.garbage > 0) {
      out += garbage();
      ending_ = batch.garbage_close;
    }
    now = std::chrono::steady_clock::now();
    if (!ending_ && options_.bookmarks && now >= next_bookmark_ && batch.drained) {
      last_resource_version_ = std::max(last_resource_version_, published);
      out += bookmark_line(last_resource_version_, false);
      next_bookmark_ = now + options_.bookmark_interval;
    }
    if (!out.empty()) return {Kind::Data, std::move(out)};
    if (ending_) return {Kind::End, {}};
  }
}

}  // namespace kubenat::apiserver_sim
