#include "rules/yaml_documents.h"

#include <cstddef>
#include <sstream>
#include <string>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

namespace kubenat {
namespace {

// Counts events and throws past `limit`. Without aliases every node takes
// at least one character of text, and a document start and end take one
// marker or the text's start and end: 2 * size + 16 is more than any text
// yields unless the parser is going round in circles.
class EventBound final : public YAML::EventHandler {
 public:
  explicit EventBound(std::size_t limit) : limit_(limit) {}

  void OnDocumentStart(const YAML::Mark& mark) override { count(mark); }
  void OnDocumentEnd() override { count(last_); }
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { count(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { count(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t, const std::string&) override {
    count(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    count(mark);
  }
  void OnSequenceEnd() override { count(last_); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    count(mark);
  }
  void OnMapEnd() override { count(last_); }

 private:
  void count(const YAML::Mark& mark) {
    last_ = mark;
    if (++events_ > limit_) {
      throw YAML::ParserException(mark, "this text makes the YAML parser loop (yaml-cpp 0.7 on a top-level "
                                        "flow collection or quoted scalar followed by ',')");
    }
  }

  std::size_t limit_;
  std::size_t events_ = 0;
  YAML::Mark last_;
};

void check_parser_ends(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  EventBound bound(2 * text.size() + 16);
  while (parser.HandleNextDocument(bound)) {
  }
}

}  // namespace

std::vector<YAML::Node> load_yaml_documents(std::string_view text) {
  const std::string owned(text);
  check_parser_ends(owned);
  return YAML::LoadAll(owned);
}

YAML::Node load_yaml_document(std::string_view text) {
  const std::string owned(text);
  check_parser_ends(owned);
  return YAML::Load(owned);
}

}  // namespace kubenat
