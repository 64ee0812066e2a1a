// The PATCH flavours on plain JSON.

#include "tools/apiserver_sim/patch.h"

#include <gtest/gtest.h>

namespace kubenat::apiserver_sim {
namespace {

using nlohmann::json;

const json kService = json::parse(R"({
  "metadata": {"name": "web", "labels": {"a": "1", "b": "2"}, "finalizers": ["x"]},
  "spec": {"ports": [{"name": "http", "port": 80, "nodePort": 30080}, {"name": "https", "port": 443}],
           "selector": {"app": "web"}}
})");

json patched(const json& patch, PatchType type) {
  auto result = apply_patch(kService, patch, type);
  EXPECT_TRUE(result) << result.error();
  return result.value_or(json());
}

TEST(Patch, ContentTypes) {
  EXPECT_EQ(patch_type_from_content_type("application/merge-patch+json"), PatchType::Merge);
  EXPECT_EQ(patch_type_from_content_type("application/strategic-merge-patch+json; charset=utf-8"), PatchType::Strategic);
  EXPECT_EQ(patch_type_from_content_type("application/json-patch+json"), PatchType::Json);
  EXPECT_EQ(patch_type_from_content_type("application/apply-patch+yaml"), PatchType::Apply);
  EXPECT_EQ(patch_type_from_content_type("application/json"), std::nullopt);
}

TEST(Patch, MergePatchReplacesListsAndDeletesWithNull) {
  json result = patched(json::parse(R"({"metadata": {"labels": {"a": null, "c": "3"}},
                                         "spec": {"ports": [{"port": 8080}]}})"),
                        PatchType::Merge);
  EXPECT_EQ(result["metadata"]["labels"], json({{"b", "2"}, {"c", "3"}}));
  EXPECT_EQ(result["spec"]["ports"], json::parse(R"([{"port": 8080}])"));
}

TEST(Patch, StrategicMergeMergesServicePortsByPort) {
  json result = patched(json::parse(R"({"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 9090}]}})"),
                        PatchType::Strategic);
  ASSERT_EQ(result["spec"]["ports"].size(), 3u);
  EXPECT_EQ(result["spec"]["ports"][0]["nodePort"], 30080);
  EXPECT_EQ(result["spec"]["ports"][0]["targetPort"], 8080);
  EXPECT_EQ(result["spec"]["ports"][2]["port"], 9090);
}

TEST(Patch, StrategicMergeDirectives) {
  json deleted = patched(json::parse(R"({"spec": {"ports": [{"port": 443, "$patch": "delete"}]}})"), PatchType::Strategic);
  ASSERT_EQ(deleted["spec"]["ports"].size(), 1u);
  EXPECT_EQ(deleted["spec"]["ports"][0]["port"], 80);

  json ordered = patched(json::parse(R"({"spec": {"$setElementOrder/ports": [{"port": 443}, {"port": 80}]}})"),
                         PatchType::Strategic);
  EXPECT_EQ(ordered["spec"]["ports"][0]["port"], 443);
  EXPECT_FALSE(ordered["spec"].contains("$setElementOrder/ports"));

  json replaced = patched(json::parse(R"({"spec": {"selector": {"$patch": "replace", "app": "api"}}})"),
                          PatchType::Strategic);
  EXPECT_EQ(replaced["spec"]["selector"], json({{"app", "api"}}));

  json finalizers = patched(json::parse(R"({"metadata": {"finalizers": ["y"], "$deleteFromPrimitiveList/finalizers": ["x"]}})"),
                            PatchType::Strategic);
  EXPECT_EQ(finalizers["metadata"]["finalizers"], json({"y"}));
}

TEST(Patch, JsonPatchAndItsFailures) {
  json result = patched(json::parse(R"([{"op": "add", "path": "/metadata/labels/c", "value": "3"},
                                        {"op": "remove", "path": "/spec/ports/1"}])"),
                        PatchType::Json);
  EXPECT_EQ(result["metadata"]["labels"]["c"], "3");
  EXPECT_EQ(result["spec"]["ports"].size(), 1u);
  EXPECT_FALSE(apply_patch(kService, json::parse(R"([{"op": "test", "path": "/metadata/name", "value": "api"}])"),
                           PatchType::Json));
  EXPECT_FALSE(apply_patch(kService, json::object(), PatchType::Json));
}

}  // namespace
}  // namespace kubenat::apiserver_sim
