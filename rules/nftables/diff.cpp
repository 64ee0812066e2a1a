#include "rules/nftables/diff.h"

#include <algorithm>
#include <iterator>

namespace kubenat {
namespace {

template <class T>
const T* find_named(const std::vector<T>& items, const std::string& name) {
  for (const T& item : items) {
    if (item.name == name) return &item;
  }
  return nullptr;
}

// Named things (sets, chains) in `before` and `after`: added, replaced
// (present in both, different), removed.
template <class T, class Added, class Replaced, class Removed>
void diff_named(const std::vector<T>& before, const std::vector<T>& after, Added added, Replaced replaced,
                Removed removed) {
  for (const T& item : after) {
    const T* old = find_named(before, item.name);
    if (old == nullptr) {
      added(item);
    } else if (!(*old == item)) {
      replaced(*old, item);
    }
  }
  for (const T& item : before) {
    if (find_named(after, item.name) == nullptr) removed(item);
  }
}

void diff_elements(std::vector<NftSetElement> before, std::vector<NftSetElement> after, NftChange& change) {
  std::sort(before.begin(), before.end());
  std::sort(after.begin(), after.end());
  std::set_difference(before.begin(), before.end(), after.begin(), after.end(),
                      std::back_inserter(change.elements_removed));
  std::set_difference(after.begin(), after.end(), before.begin(), before.end(),
                      std::back_inserter(change.elements_added));
}

void diff_sets(const std::vector<NftSet>& before, const std::vector<NftSet>& after, NftChange& change) {
  diff_named(
      before, after, [&](const NftSet& s) { change.sets_added.push_back(s); },
      // A set whose type changed is recreated (its elements come back with
      // the element diff).
      [&](const NftSet& old, const NftSet& now) {
        change.sets_removed.push_back(old.name);
        change.sets_added.push_back(now);
      },
      [&](const NftSet& s) { change.sets_removed.push_back(s.name); });
}

void diff_chains(const std::vector<NftChain>& before, const std::vector<NftChain>& after, NftChange& change) {
  diff_named(
      before, after, [&](const NftChain& c) { change.chains_added.push_back(c); },
      [&](const NftChain&, const NftChain& now) { change.chains_replaced.push_back(now); },
      [&](const NftChain& c) { change.chains_removed.push_back(c.name); });
}

const NftServicePortRules kNothing;

void diff_port(const NftPlan& before, const NftPlan& after, const ServicePortName& name, NftChange& change,
               std::set<IpAddress>& hairpin_ips) {
  auto b = before.service_ports.find(name);
  auto a = after.service_ports.find(name);
  const NftServicePortRules& old = b == before.service_ports.end() ? kNothing : *b->second;
  const NftServicePortRules& now = a == after.service_ports.end() ? kNothing : *a->second;
  if (&old == &now || old == now) return;
  change.changed_service_ports.push_back(name);
  diff_elements(old.elements, now.elements, change);
  for (const auto* fragment : {&old, &now}) {
    hairpin_ips.insert(fragment->hairpin_ips.begin(), fragment->hairpin_ips.end());
  }
}

// The fixed layout (pick chains included) and the hairpin pairs the changed
// ports refer to.
NftChange finish(const NftPlan& before, const NftPlan& after, const std::set<IpAddress>& hairpin_ips,
                 NftChange change) {
  change.family = after.family;
  change.table = after.table;
  diff_sets(before.sets, after.sets, change);
  diff_chains(before.chains, after.chains, change);
  diff_elements(before.fixed_elements, after.fixed_elements, change);
  for (const IpAddress& ip : hairpin_ips) {
    const bool was = before.hairpin_refs.contains(ip);
    const bool is = after.hairpin_refs.contains(ip);
    if (is && !was) change.elements_added.emplace_back(kNftHairpinSet, NftElement{{ip, ip}, {}});
    if (was && !is) change.elements_removed.emplace_back(kNftHairpinSet, NftElement{{ip, ip}, {}});
  }
  return change;
}

}  // namespace

NftChange diff_nft(const NftPlan& before, const NftPlan& after) {
  NftChange change;
  std::set<IpAddress> hairpin_ips;
  auto b = before.service_ports.begin();
  auto a = after.service_ports.begin();
  while (b != before.service_ports.end() || a != after.service_ports.end()) {
    if (a == after.service_ports.end() || (b != before.service_ports.end() && b->first < a->first)) {
      diff_port(before, after, b->first, change, hairpin_ips);
      ++b;
    } else if (b == before.service_ports.end() || a->first < b->first) {
      diff_port(before, after, a->first, change, hairpin_ips);
      ++a;
    } else {
      diff_port(before, after, a->first, change, hairpin_ips);
      ++a;
      ++b;
    }
  }
  return finish(before, after, hairpin_ips, std::move(change));
}

NftChange diff_nft(const NftPlan& before, const NftPlan& after, const std::set<ServicePortName>& candidates) {
  NftChange change;
  std::set<IpAddress> hairpin_ips;
  for (const ServicePortName& name : candidates) diff_port(before, after, name, change, hairpin_ips);
  return finish(before, after, hairpin_ips, std::move(change));
}

}  // namespace kubenat
