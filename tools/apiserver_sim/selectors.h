#pragma once

// Label and field selectors, as in ?labelSelector= and ?fieldSelector=.

#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace kubenat::apiserver_sim {

// The full label selector syntax: comma-separated requirements, all of which
// must hold: "k=v", "k==v", "k!=v", "k in (a,b)", "k notin (a,b)", "k" (has
// the label) and "!k" (has not). Empty matches everything.
class LabelSelector {
 public:
  // The error is a one-line message for a 400 BadRequest.
  [[nodiscard]] static std::expected<LabelSelector, std::string> parse(std::string_view text);

  bool empty() const { return requirements_.empty(); }
  // labels: an object's metadata.labels (null or absent: no labels).
  bool matches(const nlohmann::json& labels) const;

 private:
  enum class Op { Equals, NotEquals, In, NotIn, Exists, DoesNotExist };
  struct Requirement {
    std::string key;
    Op op = Op::Exists;
    std::vector<std::string> values;
  };
  std::vector<Requirement> requirements_;
};

// Field selectors: comma-separated "path=value", "path==value" and
// "path!=value", all of which must hold. A path is dotted
// ("metadata.name", "spec.type"); a missing field reads as "". The real
// server allows a few paths per resource; this one allows any.
class FieldSelector {
 public:
  [[nodiscard]] static std::expected<FieldSelector, std::string> parse(std::string_view text);

  bool empty() const { return requirements_.empty(); }
  bool matches(const nlohmann::json& object) const;
  // The value when the selector pins metadata.name with "=", so a lookup
  // can go straight to the object.
  const std::string* exact_name() const;

 private:
  struct Requirement {
    std::vector<std::string> path;
    std::string value;
    bool negated = false;
  };
  std::vector<Requirement> requirements_;
};

}  // namespace kubenat::apiserver_sim
