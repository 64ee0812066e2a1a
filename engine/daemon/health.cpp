#include "engine/daemon/health.h"

#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace kubenat {
namespace {

// Go's zero time.Time, which kube-proxy prints when nothing was synced yet.
constexpr std::string_view kZeroTime = "0001-01-01T00:00:00Z";

}  // namespace

ProxyHealth::ProxyHealth(const Clock& clock, std::chrono::nanoseconds health_timeout)
    : clock_(clock), health_timeout_(health_timeout) {}

void ProxyHealth::queued_update(IpFamily family) {
  const Clock::time_point now = clock_.now();
  std::lock_guard lock(mutex_);
  FamilyState& state = families_[family];
  if (!state.oldest_pending) state.oldest_pending = now;
}

void ProxyHealth::updated(IpFamily family) {
  const Clock::time_point now = clock_.now();
  std::lock_guard lock(mutex_);
  FamilyState& state = families_[family];
  state.oldest_pending.reset();
  state.last_updated = now;
}

void ProxyHealth::set_node_eligible(bool eligible) {
  std::lock_guard lock(mutex_);
  node_eligible_ = eligible;
}

bool ProxyHealth::family_healthy(const FamilyState& state, Clock::time_point now) const {
  // Unlike kube-proxy since 1.28, a family whose first sync never succeeds
  // turns unhealthy too: kube-proxy skips families it has never updated.
  return !state.oldest_pending || now - *state.oldest_pending < health_timeout_;
}

bool ProxyHealth::healthy() const {
  const Clock::time_point now = clock_.now();
  std::lock_guard lock(mutex_);
  for (const auto& [family, state] : families_) {
    if (!family_healthy(state, now)) return false;
  }
  return true;
}

bool ProxyHealth::node_eligible() const {
  std::lock_guard lock(mutex_);
  return node_eligible_;
}

HealthReply ProxyHealth::healthz(std::chrono::system_clock::time_point wall_now) const { return reply(true, wall_now); }

HealthReply ProxyHealth::livez(std::chrono::system_clock::time_point wall_now) const { return reply(false, wall_now); }

HealthReply ProxyHealth::reply(bool include_node, std::chrono::system_clock::time_point wall_now) const {
  const Clock::time_point now = clock_.now();
  const auto wall = [&](Clock::time_point t) {
    return format_rfc3339_nano(wall_now - std::chrono::duration_cast<std::chrono::system_clock::duration>(now - t));
  };

  std::lock_guard lock(mutex_);
  bool healthy = true;
  std::optional<Clock::time_point> last_updated;
  nlohmann::ordered_json status = nlohmann::ordered_json::object();
  for (const auto& [family, state] : families_) {
    const bool ok = family_healthy(state, now);
    healthy = healthy && ok;
    if (state.last_updated && (!last_updated || *state.last_updated > *last_updated)) {
      last_updated = state.last_updated;
    }
    nlohmann::ordered_json entry;
    entry["lastUpdated"] = state.last_updated ? wall(*state.last_updated) : std::string(kZeroTime);
    entry["healthy"] = ok;
    status[std::string(ip_family_name(family))] = std::move(entry);
  }
  const bool ok = healthy && (!include_node || node_eligible_);

  nlohmann::ordered_json body;
  const std::string current = format_rfc3339_nano(wall_now);
  body["lastUpdated"] = ok ? current : (last_updated ? wall(*last_updated) : std::string(kZeroTime));
  body["currentTime"] = current;
  if (include_node) body["nodeEligible"] = node_eligible_;
  body["healthy"] = healthy;
  if (!status.empty()) body["status"] = std::move(status);
  return HealthReply{ok ? 200 : 503, body.dump()};
}

bool node_eligible_for_traffic(const std::optional<Node>& node) {
  if (!node || node->being_deleted) return false;
  return std::find(node->taint_keys.begin(), node->taint_keys.end(), kToBeDeletedTaint) == node->taint_keys.end();
}

}  // namespace kubenat
