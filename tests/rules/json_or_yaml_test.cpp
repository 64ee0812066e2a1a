// JSON or YAML text to documents, with the bounds that keep hostile input
// from exhausting the stack.

#include "rules/json_or_yaml.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace kubenat {
namespace {

using ::testing::HasSubstr;

std::string nested(int depth) { return std::string(static_cast<std::size_t>(depth), '[') + std::string(static_cast<std::size_t>(depth), ']'); }

TEST(ParseJson, ReadsADocument) {
  auto document = parse_json(R"({"kind": "List", "items": []})");
  ASSERT_TRUE(document) << document.error();
  EXPECT_EQ((*document)["kind"], "List");
}

TEST(ParseJson, NestingUpToTheLimitIsRead) { EXPECT_TRUE(parse_json(nested(kMaxJsonDepth))); }

TEST(ParseJson, NestingBeyondTheLimitIsAnErrorThatSaysSo) {
  auto document = parse_json(nested(kMaxJsonDepth + 1));
  ASSERT_FALSE(document);
  EXPECT_THAT(document.error(), HasSubstr("nested deeper than 1000 levels"));
}

TEST(ParseJson, BracketsInStringsDoNotCount) {
  const std::string text = R"({"a": ")" + std::string(5000, '[') + R"(\"]"})";
  EXPECT_TRUE(parse_json(text));
}

TEST(ParseJson, InvalidJsonIsOneLine) {
  auto document = parse_json("{\n\"a\":\n");
  ASSERT_FALSE(document);
  EXPECT_EQ(document.error().find('\n'), std::string::npos);
}

// Found by a user: `kubenat plan` on a deeply nested array crashed (issue 16).
TEST(ParseJsonOrYaml, AHundredThousandNestedArraysAreRefusedNotACrash) {
  auto documents = parse_json_or_yaml(nested(100000));
  ASSERT_FALSE(documents);
  EXPECT_THAT(documents.error(), HasSubstr("not JSON or YAML"));
}

TEST(ParseJsonOrYaml, DeepYamlFlowNestingIsRefusedNotACrash) {
  EXPECT_FALSE(parse_json_or_yaml("kind: List\nitems: " + nested(100000)));
}

}  // namespace
}  // namespace kubenat
