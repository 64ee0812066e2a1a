#include "watch/known_objects.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>

namespace kubenat {
namespace {

struct SplitKey {
  std::string_view namespace_;
  std::string_view name;
};

SplitKey split_key(std::string_view key) {
  const std::size_t slash = key.find('/');
  if (slash == std::string_view::npos) return {{}, key};
  return {key.substr(0, slash), key.substr(slash + 1)};
}

// A resourceVersion in canonical decimal (no sign, no leading zero), plus
// one; 0 for anything else, which is then kept as text.
std::uint64_t version_number(std::string_view version) {
  if (version.empty() || version.size() > 19 || (version.size() > 1 && version.front() == '0')) return 0;
  std::uint64_t number = 0;
  const auto [end, error] = std::from_chars(version.data(), version.data() + version.size(), number);
  if (error != std::errc() || end != version.data() + version.size()) return 0;
  if (number == std::numeric_limits<std::uint64_t>::max()) return 0;
  return number + 1;
}

void append_field(std::string& out, std::string_view field) {
  const auto size = static_cast<std::uint32_t>(field.size());
  out.append(reinterpret_cast<const char*>(&size), sizeof size);
  out.append(field);
}

std::string_view take_field(std::string_view& in) {
  std::uint32_t size = 0;
  std::memcpy(&size, in.data(), sizeof size);
  const std::string_view field = in.substr(sizeof size, size);
  in.remove_prefix(sizeof size + size);
  return field;
}

}  // namespace

bool KnownObjects::has_version(const std::string& key, std::string_view resource_version) const {
  const auto it = entries_.find(key);
  if (it == entries_.end() || resource_version.empty()) return false;
  const Entry& entry = it->second;
  const std::uint64_t number = version_number(resource_version);
  return number != 0 ? entry.version_number == number : entry.version_number == 0 && entry.version_text == resource_version;
}

std::vector<ReportedObject> KnownObjects::reported(const std::string& key) const {
  const auto it = entries_.find(key);
  if (it == entries_.end()) return {};
  const Entry& entry = it->second;
  const SplitKey split = split_key(key);
  switch (entry.shape) {
    case Shape::None:
      return {};
    case Shape::Object:
      return {{{std::string(split.namespace_), std::string(split.name)}, ""}};
    case Shape::Slice:
      return {{{std::string(split.namespace_), entry.detail.str()}, std::string(split.name)}};
    case Shape::Listed:
      break;
  }
  std::vector<ReportedObject> out;
  std::string_view in = entry.detail.view();
  while (!in.empty()) {
    ReportedObject& reported = out.emplace_back();
    reported.service.namespace_ = take_field(in);
    reported.service.name = take_field(in);
    reported.slice = take_field(in);
  }
  return out;
}

void KnownObjects::set(const std::string& key, std::string_view resource_version,
                       const std::vector<ReportedObject>& reported) {
  Entry entry;
  entry.version_number = version_number(resource_version);
  if (entry.version_number == 0) entry.version_text = resource_version;
  const SplitKey split = split_key(key);
  if (reported.empty()) {
    entry.shape = Shape::None;
  } else if (reported.size() == 1 && reported[0].service.namespace_ == split.namespace_ &&
             reported[0].service.name == split.name && reported[0].slice.empty()) {
    entry.shape = Shape::Object;
  } else if (reported.size() == 1 && reported[0].service.namespace_ == split.namespace_ &&
             !reported[0].service.name.empty() && reported[0].slice == split.name) {
    entry.shape = Shape::Slice;
    entry.detail = reported[0].service.name;
  } else {
    entry.shape = Shape::Listed;
    std::string listed;
    for (const ReportedObject& one : reported) {
      append_field(listed, one.service.namespace_);
      append_field(listed, one.service.name);
      append_field(listed, one.slice);
    }
    entry.detail = listed;
  }
  entries_.insert_or_assign(key, std::move(entry));
}

std::vector<ReportedObject> KnownObjects::erase(const std::string& key) {
  std::vector<ReportedObject> out = reported(key);
  entries_.erase(key);
  return out;
}

std::vector<std::string> KnownObjects::keys_not_in(const std::unordered_set<std::string>& seen) const {
  std::vector<std::string> out;
  for (const auto& [key, entry] : entries_) {
    if (!seen.contains(key)) out.push_back(key);
  }
  std::ranges::sort(out);
  return out;
}

}  // namespace kubenat
