#include "rules/json_tree.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "rules/json_or_yaml.h"

namespace kubenat {
namespace {

using nlohmann::json;

JsonTree parsed(std::string_view text) {
  auto tree = parse_json_tree(text);
  EXPECT_TRUE(tree.has_value()) << text;
  return tree ? std::move(*tree) : JsonTree();
}

TEST(JsonTree, ReadsBackAsTheDocumentParseJsonMakes) {
  for (const std::string_view text : {
           R"({"kind": "EndpointSliceList", "items": [{"metadata": {"name": "a"}, "endpoints": []}]})",
           R"([1, -1, 18446744073709551615, -9223372036854775808, 1.5, -0.0, 1e300, true, false, null])",
           R"({"": "", "escaped": "line\nbreak \"quoted\" \u00e9 \ud83d\ude00", "nested": [[[]], {}, [{}]]})",
           R"("just a string")",
           R"(42)",
           R"(  {"spaced" :  [ 1 , 2 ] }  )",
       }) {
    EXPECT_EQ(parsed(text).root().to_json(), *parse_json(text)) << text;
  }
}

TEST(JsonTree, NumbersKeepTheKindNlohmannGivesThem) {
  const JsonTree tree = parsed(R"([1, -1, 1.0])");
  const JsonValue one = tree.root().first();
  EXPECT_EQ(one.type(), JsonType::Unsigned);
  EXPECT_EQ(one.unsigned_integer(), 1u);
  EXPECT_EQ(one.next().type(), JsonType::Integer);
  EXPECT_EQ(one.next().integer(), -1);
  EXPECT_EQ(one.next().next().type(), JsonType::Float);
  EXPECT_TRUE(one.is_integer());
  EXPECT_FALSE(one.next().next().is_integer());
}

TEST(JsonTree, RefusesWhatParseJsonRefusesWithTheSameMessage) {
  for (const std::string_view text : {"", "{", R"({"a": 1,})", R"({"a": 1} trailing)", "[1 2]", R"({"a": tru})",
                                      "1e400", R"("unterminated)", "{\"tab\": \"\t\"}"}) {
    const auto tree = parse_json_tree(text);
    const auto document = parse_json(text);
    ASSERT_FALSE(document.has_value()) << text;
    ASSERT_FALSE(tree.has_value()) << text;
    EXPECT_EQ(tree.error(), document.error()) << text;
  }
}

TEST(JsonTree, RefusesDeepNestingBeforeParsing) {
  const std::string text = std::string(kMaxJsonDepth + 1, '[') + std::string(kMaxJsonDepth + 1, ']');
  const auto tree = parse_json_tree(text);
  ASSERT_FALSE(tree.has_value());
  EXPECT_EQ(tree.error(), parse_json(text).error());
}

TEST(JsonTree, MembersAreWalkedInDocumentOrderWithTheirNames) {
  const JsonTree tree = parsed(R"({"zeta": 1, "alpha": "two", "mid": [3]})");
  std::vector<std::string> names;
  for (JsonValue member = tree.root().first(); member.exists(); member = member.next()) {
    names.emplace_back(member.key());
  }
  EXPECT_EQ(names, (std::vector<std::string>{"zeta", "alpha", "mid"}));
  EXPECT_EQ(tree.root().size(), 3u);
}

TEST(JsonTree, ElementsSkipOverNestedValues) {
  const JsonTree tree = parsed(R"([{"a": [1, 2, {"b": 3}]}, "second", [[]], 4])");
  std::vector<json> elements;
  for (JsonValue element = tree.root().first(); element.exists(); element = element.next()) {
    elements.push_back(element.to_json());
  }
  ASSERT_EQ(elements.size(), 4u);
  EXPECT_EQ(elements[1], "second");
  EXPECT_EQ(elements[3], 4);
}

TEST(JsonTree, OfDuplicateMemberNamesTheLastCountsAsInNlohmannsDocument) {
  const std::string_view text = R"({"port": 80, "name": "x", "port": "eighty"})";
  const JsonTree tree = parsed(text);
  EXPECT_EQ(tree.root().find("port").string(), "eighty");
  EXPECT_EQ(tree.root().to_json(), *parse_json(text));
}

TEST(JsonTree, FindingInSomethingNotAnObjectOrAMissingMemberGivesNone) {
  const JsonTree tree = parsed(R"({"list": [1], "text": "a"})");
  EXPECT_FALSE(tree.root().find("absent").exists());
  EXPECT_FALSE(tree.root().find("list").find("0").exists());
  EXPECT_FALSE(tree.root().find("text").find("a").exists());
  EXPECT_FALSE(JsonValue().find("a").exists());
  EXPECT_EQ(tree.root().find("absent").find("deeper").string_or_empty(), "");
}

TEST(JsonTree, EmptyContainersHaveNoFirstChild) {
  const JsonTree tree = parsed(R"({"list": [], "object": {}})");
  EXPECT_FALSE(tree.root().find("list").first().exists());
  EXPECT_FALSE(tree.root().find("object").first().exists());
  EXPECT_EQ(tree.root().find("list").size(), 0u);
}

TEST(JsonTree, ValuesStayValidWhenTheTreeIsMoved) {
  JsonTree tree = parsed(R"({"a": "b"})");
  const JsonValue value = tree.root().find("a");
  const JsonTree moved = std::move(tree);
  EXPECT_EQ(value.string(), "b");
  EXPECT_EQ(value.key(), "a");
}

TEST(JsonTree, NoValueReadsAsNull) {
  const JsonValue none;
  EXPECT_FALSE(none.exists());
  EXPECT_TRUE(none.is_null());
  EXPECT_FALSE(none.is_object());
  EXPECT_FALSE(none.first().exists());
  EXPECT_EQ(none.to_json(), nullptr);
}

TEST(JsonTree, AnEmptyTreeIsNull) { EXPECT_TRUE(JsonTree().root().is_null()); }

TEST(JsonTree, FromJsonHoldsTheSameDocument) {
  const json document = json::parse(R"({"b": [1, -2, 2.5, null, true], "a": {"c": "d"}})");
  EXPECT_EQ(JsonTree::from_json(document).root().to_json(), document);
}

}  // namespace
}  // namespace kubenat
