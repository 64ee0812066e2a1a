#include "rules/object_reader.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <vector>

namespace kubenat::detail {
namespace {

using nlohmann::json;

// Fields read a JsonTree; the documents here are written as nlohmann's.
JsonTree tree_of(const json& document) { return JsonTree::from_json(document); }

TEST(Field, TheObjectItselfHasAnEmptyPath) {
  const JsonTree object = tree_of(json::object());
  EXPECT_EQ(Field{object.root()}.path(), "");
}

TEST(Field, MembersAreJoinedWithDots) {
  const JsonTree object =
      tree_of(json::parse(R"({"spec": {"sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10}}}})"));
  const Field field = Field{object.root()}["spec"]["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"];
  ASSERT_TRUE(field.present());
  EXPECT_EQ(field.value.to_json(), 10);
  EXPECT_EQ(field.path(), "spec.sessionAffinityConfig.clientIP.timeoutSeconds");
}

TEST(Field, ListElementsAreIndexed) {
  const JsonTree object = tree_of(json::parse(R"({"spec": {"ports": [{"port": 80}, {"port": 443}]}})"));
  const Field ports = Field{object.root()}["spec"]["ports"];
  EXPECT_EQ(ports.element(1)["port"].path(), "spec.ports[1].port");
  EXPECT_EQ(ports.element(1)["port"].value.to_json(), 443);
}

TEST(Field, MapKeysAreQuoted) {
  const JsonTree object = tree_of(json::parse(R"({"metadata": {"labels": {"kubernetes.io/service-name": "web"}}})"));
  const Field label = Field{object.root()}["metadata"]["labels"].key("kubernetes.io/service-name");
  EXPECT_EQ(label.value.to_json(), "web");
  EXPECT_EQ(label.path(), R"(metadata.labels["kubernetes.io/service-name"])");
}

TEST(Field, AMissingMemberKeepsItsPath) {
  const JsonTree object = tree_of(json::parse(R"({"spec": {}})"));
  const Field field = Field{object.root()}["spec"]["ports"];
  EXPECT_FALSE(field.present());
  EXPECT_EQ(field.path(), "spec.ports");
}

TEST(Field, AMemberOfSomethingNotAnObjectIsAbsent) {
  const JsonTree object = tree_of(json::parse(R"({"spec": "text"})"));
  EXPECT_FALSE(Field{object.root()}["spec"]["ports"].present());
}

TEST(Field, AFieldOutlivesTheFieldsItWasReachedThrough) {
  const JsonTree object = tree_of(json::parse(R"({"metadata": {"annotations": {"a/b": "c"}}})"));
  // The temporaries that led here are gone: the path must not refer to them.
  const Field field = Field{object.root()}["metadata"]["annotations"].key("a/b");
  EXPECT_EQ(field.path(), R"(metadata.annotations["a/b"])");
}

TEST(Field, StepsPastTheMaximumDepthAreShownAsAnEllipsis) {
  json object = 1;
  for (int i = 0; i < 10; ++i) {
    object = json{{"a", object}};
  }
  const JsonTree tree = tree_of(object);
  Field field{tree.root()};
  for (int i = 0; i < 10; ++i) {
    field = field["a"];
  }
  EXPECT_EQ(field.value.to_json(), 1);
  EXPECT_EQ(field.path(), "a.a.a.a.a.a.a.a...");
}

TEST(Reader, ADiagnosticNamesTheObjectAndTheFieldPath) {
  const JsonTree object = tree_of(json::parse(R"({"spec": {"ports": [{"port": "eighty"}]}})"));
  Diagnostics diagnostics;
  Reader reader("Service ns1/web", diagnostics);
  std::vector<Field> ports;
  ASSERT_TRUE(reader.get_list(Field{object.root()}["spec"]["ports"], ports, "service skipped"));
  int port = 0;
  EXPECT_FALSE(reader.get_int(ports[0]["port"], port, 1, 65535, "port skipped"));
  ASSERT_EQ(diagnostics.size(), 1u);
  EXPECT_EQ(diagnostics[0].object, "Service ns1/web");
  EXPECT_EQ(diagnostics[0].field, "spec.ports[0].port");
  EXPECT_EQ(diagnostics[0].message, R"(expected an integer, got "eighty"; port skipped)");
}

TEST(Reader, AWronglyTypedLabelIsReportedUnderItsQuotedKey) {
  const JsonTree object = tree_of(json::parse(R"({"metadata": {"labels": {"app": 7, "tier": "web"}}})"));
  Diagnostics diagnostics;
  Reader reader("Service ns1/web", diagnostics);
  std::map<std::string, std::string> labels;
  ASSERT_TRUE(reader.get_string_map(Field{object.root()}["metadata"]["labels"], labels, "labels ignored"));
  EXPECT_EQ(labels, (std::map<std::string, std::string>{{"tier", "web"}}));
  ASSERT_EQ(diagnostics.size(), 1u);
  EXPECT_EQ(diagnostics[0].field, R"(metadata.labels["app"])");
}

}  // namespace
}  // namespace kubenat::detail
