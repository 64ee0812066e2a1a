#pragma once

// yaml-cpp's loading, made safe for text nobody checked. yaml-cpp 0.7
// (Debian 12's) never returns from some invalid texts: a flow collection or
// a quoted scalar followed by ',' at a document's top level ("{a},",
// "'a',") makes it create nodes until memory runs out. These functions
// parse the text once with a handler that counts the parser's events and
// gives up past a bound no real document reaches, and only then load it.

#include <string_view>
#include <vector>

#include <yaml-cpp/node/node.h>

namespace kubenat {

// Every document of the text, as YAML::LoadAll. Throws YAML::Exception, as
// yaml-cpp does, for a syntax error and for a text the parser would not
// finish ("... makes the YAML parser loop").
[[nodiscard]] std::vector<YAML::Node> load_yaml_documents(std::string_view text);

// The first document of the text, or a null node, as YAML::Load.
[[nodiscard]] YAML::Node load_yaml_document(std::string_view text);

}  // namespace kubenat
