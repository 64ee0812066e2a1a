// Label and field selector parsing and matching.

#include "tools/apiserver_sim/selectors.h"

#include <gtest/gtest.h>

namespace kubenat::apiserver_sim {
namespace {

using nlohmann::json;

bool labels_match(const std::string& selector, const json& labels) {
  auto parsed = LabelSelector::parse(selector);
  EXPECT_TRUE(parsed) << parsed.error();
  return parsed && parsed->matches(labels);
}

TEST(LabelSelector, EqualityAndInequality) {
  const json labels = {{"kubernetes.io/service-name", "web"}, {"tier", "front"}};
  EXPECT_TRUE(labels_match("kubernetes.io/service-name=web", labels));
  EXPECT_TRUE(labels_match("kubernetes.io/service-name==web", labels));
  EXPECT_FALSE(labels_match("kubernetes.io/service-name=api", labels));
  EXPECT_TRUE(labels_match("kubernetes.io/service-name=web,tier=front", labels));
  EXPECT_FALSE(labels_match("kubernetes.io/service-name=web,tier=back", labels));
  EXPECT_TRUE(labels_match("tier!=back", labels));
  EXPECT_TRUE(labels_match("missing!=x", labels));
  EXPECT_TRUE(labels_match("", labels));
  EXPECT_TRUE(labels_match(" tier = front ", labels));
}

TEST(LabelSelector, SetsAndExistence) {
  const json labels = {{"env", "prod"}};
  EXPECT_TRUE(labels_match("env in (prod, staging)", labels));
  EXPECT_FALSE(labels_match("env notin (prod)", labels));
  EXPECT_TRUE(labels_match("env notin (dev),env", labels));
  EXPECT_TRUE(labels_match("!service.kubernetes.io/headless", labels));
  EXPECT_FALSE(labels_match("!env", labels));
  EXPECT_FALSE(labels_match("other", labels));
  EXPECT_FALSE(labels_match("env", json(nullptr)));
  EXPECT_TRUE(labels_match("!env", json(nullptr)));
}

TEST(LabelSelector, RejectsNonsense) {
  EXPECT_FALSE(LabelSelector::parse("a in b"));
  EXPECT_FALSE(LabelSelector::parse("a in (b"));
  EXPECT_FALSE(LabelSelector::parse("a=b,,c"));
  EXPECT_FALSE(LabelSelector::parse("a=b c"));
  EXPECT_FALSE(LabelSelector::parse("a<b"));
}

TEST(FieldSelector, DottedPathsAndExactName) {
  const json object = {{"metadata", {{"name", "web"}, {"namespace", "shop"}}}, {"spec", {{"type", "NodePort"}}}};
  auto name = FieldSelector::parse("metadata.name=web");
  ASSERT_TRUE(name);
  EXPECT_TRUE(name->matches(object));
  ASSERT_NE(name->exact_name(), nullptr);
  EXPECT_EQ(*name->exact_name(), "web");
  auto several = FieldSelector::parse("metadata.namespace==shop,spec.type!=ClusterIP");
  ASSERT_TRUE(several);
  EXPECT_TRUE(several->matches(object));
  EXPECT_EQ(several->exact_name(), nullptr);
  auto missing = FieldSelector::parse("spec.clusterIP=");
  ASSERT_TRUE(missing);
  EXPECT_TRUE(missing->matches(object));
  EXPECT_FALSE(FieldSelector::parse("metadata.name"));
}

}  // namespace
}  // namespace kubenat::apiserver_sim
