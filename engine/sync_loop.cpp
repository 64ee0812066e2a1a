#include "engine/sync_loop.h"

#include <utility>

namespace kubenat {

SyncLoop::SyncLoop(Proxier* proxier, const Clock& clock, Options options, SyncObserver* observer)
    : proxier_(proxier),
      clock_(clock),
      options_(std::move(options)),
      observer_(observer),
      scheduler_(options_.min_sync_period, options_.sync_period) {}

void SyncLoop::mark_changed(const ObjectName& service, bool endpoints,
                            const std::optional<std::chrono::system_clock::time_point>& trigger_time) {
  if (trigger_time) trigger_times_.push_back(*trigger_time);
  const Clock::time_point now = clock_.now();
  std::set<ObjectName>& pending = endpoints ? endpoints_changed_ : services_changed_;
  const std::set<ObjectName>& other = endpoints ? services_changed_ : endpoints_changed_;
  if (pending.insert(service).second && !other.contains(service)) first_changes_.push_back(now);
  scheduler_.changed(now);
  // Before every resource is listed run() waits for synced() alone: waking
  // it for each of the initial lists' objects (100,000s) only costs a futex
  // call on the watch's thread and the lock's contention.
  if (ready_locked()) wake_.notify_all();
}

void SyncLoop::queued(std::size_t services_pending, std::size_t endpoints_pending) {
  if (observer_) observer_->sync_queued(services_pending, endpoints_pending);
}

void SyncLoop::service_changed(const ObjectName& id, std::optional<Service> now) {
  std::size_t services_pending = 0, endpoints_pending = 0;
  {
    std::lock_guard lock(mu_);
    auto it = state_.services.find(id);
    std::optional<std::chrono::system_clock::time_point> trigger_time;
    if (now) {
      if (it != state_.services.end() && it->second == *now) return;
      trigger_time = now->last_change_trigger_time;
      state_.services[id] = std::move(*now);
    } else {
      if (it == state_.services.end()) return;
      state_.services.erase(it);
    }
    mark_changed(id, false, trigger_time);
    services_pending = services_changed_.size();
    endpoints_pending = endpoints_changed_.size();
  }
  queued(services_pending, endpoints_pending);
}

void SyncLoop::slice_changed(const ObjectName& service, const std::string& slice_name,
                             std::optional<EndpointSlice> now) {
  std::size_t services_pending = 0, endpoints_pending = 0;
  {
    std::lock_guard lock(mu_);
    auto& slices = state_.slices[service];
    auto it = slices.find(slice_name);
    std::optional<std::chrono::system_clock::time_point> trigger_time;
    if (now) {
      if (it != slices.end() && it->second == *now) return;
      trigger_time = now->last_change_trigger_time;
      slices[slice_name] = std::move(*now);
    } else {
      if (it == slices.end()) return;
      slices.erase(it);
    }
    if (slices.empty()) state_.slices.erase(service);
    mark_changed(service, true, trigger_time);
    services_pending = services_changed_.size();
    endpoints_pending = endpoints_changed_.size();
  }
  queued(services_pending, endpoints_pending);
}

void SyncLoop::node_changed(const std::string& name, std::optional<Node> now) {
  std::size_t services_pending = 0, endpoints_pending = 0;
  const bool own = name == options_.node_name;
  if (own && observer_) observer_->own_node_changed(now);
  {
    std::lock_guard lock(mu_);
    auto it = state_.nodes.find(name);
    const bool existed = it != state_.nodes.end();
    if (now) {
      if (existed && it->second == *now) return;
      const bool rules_change = !existed || !it->second.same_for_rules(*now);
      state_.nodes[name] = std::move(*now);
      // Only this node's labels and addresses change service rules; other
      // nodes matter to the routes alone.
      if (own && rules_change) everything_changed_ = true;
    } else {
      if (!existed) return;
      state_.nodes.erase(it);
      if (own) everything_changed_ = true;
    }
    if (!options_.sync_on_any_node_change && !(own && everything_changed_)) return;
    scheduler_.changed(clock_.now());
    wake_.notify_all();
    services_pending = services_changed_.size();
    endpoints_pending = endpoints_changed_.size();
  }
  queued(services_pending, endpoints_pending);
}

void SyncLoop::synced(WatchedResource resource) {
  std::size_t objects = 0;
  {
    std::lock_guard lock(mu_);
    // v1 Endpoints stand in for EndpointSlices where those are not served.
    const bool first =
        synced_.insert(resource == WatchedResource::Endpoints ? WatchedResource::EndpointSlices : resource).second;
    wake_.notify_all();
    if (!first || !observer_) return;
    switch (resource) {
      case WatchedResource::Services:
        objects = state_.services.size();
        break;
      case WatchedResource::EndpointSlices:
      case WatchedResource::Endpoints:
        for (const auto& [service, slices] : state_.slices) objects += slices.size();
        break;
      case WatchedResource::Nodes:
        objects = state_.nodes.size();
        break;
    }
  }
  observer_->resource_listed(resource, objects);
}

void SyncLoop::diagnostics(const Diagnostics& diagnostics) {
  if (observer_) observer_->object_diagnostics(diagnostics);
}

void SyncLoop::incident(WatchedResource resource, WatchIncident incident, const std::string& detail) {
  if (observer_) observer_->watch_incident(resource, incident, detail);
}

bool SyncLoop::ready() const {
  std::lock_guard lock(mu_);
  return ready_locked();
}

bool SyncLoop::ready_locked() const {
  return std::all_of(options_.wait_for.begin(), options_.wait_for.end(),
                     [&](WatchedResource r) { return synced_.contains(r); });
}

std::size_t SyncLoop::syncs() const {
  std::lock_guard lock(mu_);
  return syncs_;
}

ClusterState SyncLoop::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

SyncReport SyncLoop::sync_locked(std::unique_lock<std::mutex>& lock) {
  SyncReport report;
  const Clock::time_point started = clock_.now();
  report.services_changed = services_changed_.size();
  report.endpoints_changed = endpoints_changed_.size();
  const bool everything = everything_changed_;
  // The pending sets' nodes move into `changed`, and on into the report,
  // rather than being copied; a sync of every Service needs no names (at a
  // first sync they name all 100,000, 10 MB, and the sync's peak is the
  // daemon's).
  std::set<ObjectName> changed;
  if (!everything) {
    changed = std::exchange(services_changed_, {});
    changed.merge(endpoints_changed_);
  }
  services_changed_.clear();
  endpoints_changed_.clear();  // what merge() left: names `changed` has already
  const std::vector<Clock::time_point> first_changes = std::exchange(first_changes_, {});
  auto trigger_times = std::move(trigger_times_);
  trigger_times_.clear();
  everything_changed_ = false;

  // Compiling reads the state: under the lock. Applying touches only the
  // kernel: without it, so the watch keeps delivering meanwhile.
  if (proxier_) proxier_->compile(state_, everything ? nullptr : &changed);
  for (Proxier* other : others_) other->compile(state_, everything ? nullptr : &changed);
  report.compile_duration = clock_.now() - started;
  report.changed_services = std::move(changed);
  report.all_services = everything;
  lock.unlock();
  if (proxier_) {
    report.result = proxier_->apply();
  } else {
    report.result.ok = true;
  }
  for (Proxier* other : others_) report.other_results.push_back(other->apply());
  const Clock::time_point finished = clock_.now();
  lock.lock();

  report.duration = finished - started;
  bool ok = report.result.ok;
  for (const SyncResult& other : report.other_results) ok = ok && other.ok;
  scheduler_.synced(started, finished, ok);
  ++syncs_;
  if (ok) {
    for (const Clock::time_point first_change : first_changes) {
      report.programming_latencies.push_back(finished - first_change);
    }
    report.trigger_times = std::move(trigger_times);
  }
  report.services_pending = services_changed_.size();
  report.endpoints_pending = endpoints_changed_.size();
  return report;
}

std::optional<SyncReport> SyncLoop::sync_now() {
  if (!ready()) return std::nullopt;
  std::unique_lock lock(mu_);
  SyncReport report = sync_locked(lock);
  lock.unlock();
  if (observer_) observer_->sync_done(report);
  return report;
}

void SyncLoop::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (!ready_locked()) {
      wake_.wait_for(lock, std::chrono::milliseconds(200));
      continue;
    }
    const Clock::time_point now = clock_.now();
    if (!scheduler_.due(now)) {
      // The clock may be a fake in tests, so wait in short real steps.
      const auto wait = std::min<std::chrono::steady_clock::duration>(scheduler_.next_sync() - now, std::chrono::milliseconds(100));
      wake_.wait_for(lock, wait);
      continue;
    }
    SyncReport report = sync_locked(lock);
    lock.unlock();
    if (observer_) observer_->sync_done(report);
    lock.lock();
  }
}

void SyncLoop::stop() {
  std::lock_guard lock(mu_);
  stopping_ = true;
  wake_.notify_all();
}

}  // namespace kubenat
