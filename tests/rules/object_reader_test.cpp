#include "rules/object_reader.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <vector>

namespace kubenat::detail {
namespace {

using nlohmann::json;

TEST(Field, TheObjectItselfHasAnEmptyPath) {
  const json object = json::object();
  EXPECT_EQ(Field{&object}.path(), "");
}

TEST(Field, MembersAreJoinedWithDots) {
  const json object = json::parse(R"({"spec": {"sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10}}}})");
  const Field field = Field{&object}["spec"]["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"];
  ASSERT_TRUE(field.present());
  EXPECT_EQ(*field.value, 10);
  EXPECT_EQ(field.path(), "spec.sessionAffinityConfig.clientIP.timeoutSeconds");
}

TEST(Field, ListElementsAreIndexed) {
  const json object = json::parse(R"({"spec": {"ports": [{"port": 80}, {"port": 443}]}})");
  const Field ports = Field{&object}["spec"]["ports"];
  EXPECT_EQ(ports.element(1)["port"].path(), "spec.ports[1].port");
  EXPECT_EQ(*ports.element(1)["port"].value, 443);
}

TEST(Field, MapKeysAreQuoted) {
  const json object = json::parse(R"({"metadata": {"labels": {"kubernetes.io/service-name": "web"}}})");
  const Field label = Field{&object}["metadata"]["labels"].key("kubernetes.io/service-name");
  EXPECT_EQ(*label.value, "web");
  EXPECT_EQ(label.path(), R"(metadata.labels["kubernetes.io/service-name"])");
}

TEST(Field, AMissingMemberKeepsItsPath) {
  const json object = json::parse(R"({"spec": {}})");
  const Field field = Field{&object}["spec"]["ports"];
  EXPECT_FALSE(field.present());
  EXPECT_EQ(field.path(), "spec.ports");
}

TEST(Field, AMemberOfSomethingNotAnObjectIsAbsent) {
  const json object = json::parse(R"({"spec": "text"})");
  EXPECT_FALSE(Field{&object}["spec"]["ports"].present());
}

TEST(Field, AFieldOutlivesTheFieldsItWasReachedThrough) {
  const json object = json::parse(R"({"metadata": {"annotations": {"a/b": "c"}}})");
  // The temporaries that led here are gone: the path must not refer to them.
  const Field field = Field{&object}["metadata"]["annotations"].key("a/b");
  EXPECT_EQ(field.path(), R"(metadata.annotations["a/b"])");
}

TEST(Field, StepsPastTheMaximumDepthAreShownAsAnEllipsis) {
  json object = 1;
  for (int i = 0; i < 10; ++i) {
    object = json{{"a", object}};
  }
  Field field{&object};
  for (int i = 0; i < 10; ++i) {
    field = field["a"];
  }
  EXPECT_EQ(*field.value, 1);
  EXPECT_EQ(field.path(), "a.a.a.a.a.a.a.a...");
}

TEST(Reader, ADiagnosticNamesTheObjectAndTheFieldPath) {
  const json object = json::parse(R"({"spec": {"ports": [{"port": "eighty"}]}})");
  Diagnostics diagnostics;
  Reader reader("Service ns1/web", diagnostics);
  std::vector<Field> ports;
  ASSERT_TRUE(reader.get_list(Field{&object}["spec"]["ports"], ports, "service skipped"));
  int port = 0;
  EXPECT_FALSE(reader.get_int(ports[0]["port"], port, 1, 65535, "port skipped"));
  ASSERT_EQ(diagnostics.size(), 1u);
  EXPECT_EQ(diagnostics[0].object, "Service ns1/web");
  EXPECT_EQ(diagnostics[0].field, "spec.ports[0].port");
  EXPECT_EQ(diagnostics[0].message, R"(expected an integer, got "eighty"; port skipped)");
}

TEST(Reader, AWronglyTypedLabelIsReportedUnderItsQuotedKey) {
  const json object = json::parse(R"({"metadata": {"labels": {"app": 7, "tier": "web"}}})");
  Diagnostics diagnostics;
  Reader reader("Service ns1/web", diagnostics);
  std::map<std::string, std::string> labels;
  ASSERT_TRUE(reader.get_string_map(Field{&object}["metadata"]["labels"], labels, "labels ignored"));
  EXPECT_EQ(labels, (std::map<std::string, std::string>{{"tier", "web"}}));
  ASSERT_EQ(diagnostics.size(), 1u);
  EXPECT_EQ(diagnostics[0].field, R"(metadata.labels["app"])");
}

}  // namespace
}  // namespace kubenat::detail
