// Reading one Node before the watch starts.

#include "watch/node_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/watch/fake_transport.h"

namespace kubenat {
namespace {

using ::testing::HasSubstr;

constexpr const char* kDualStackNode = R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"worker-1"},
  "status":{"addresses":[{"type":"InternalIP","address":"10.0.0.5"},{"type":"InternalIP","address":"fd00::5"}]}})";

TEST(ReadNode, ReturnsTheDecodedNode) {
  testing::ScriptedTransport api;
  api.on_get("/api/v1/nodes/worker-1", 200, kDualStackNode);
  auto node = read_node(api, "worker-1");
  ASSERT_TRUE(node) << node.error();
  ASSERT_TRUE(*node);
  EXPECT_EQ((*node)->addresses.size(), 2u);
}

TEST(ReadNode, ANodeTheServerDoesNotHaveIsNotAnError) {
  testing::ScriptedTransport api;
  api.on_get("/api/v1/nodes/worker-1", 404, R"({"kind":"Status","code":404})");
  auto node = read_node(api, "worker-1");
  ASSERT_TRUE(node) << node.error();
  EXPECT_FALSE(*node);
}

TEST(ReadNode, OtherAnswersAreErrorsNamingTheNode) {
  testing::ScriptedTransport api;
  api.on_get("/api/v1/nodes/worker-1", 403, "forbidden");
  auto node = read_node(api, "worker-1");
  ASSERT_FALSE(node);
  EXPECT_THAT(node.error(), HasSubstr("Node worker-1"));
  EXPECT_THAT(node.error(), HasSubstr("403"));
}

TEST(ReadNode, AnUnreachableServerIsAnError) {
  testing::ScriptedTransport api;
  api.on_get_fail("/api/v1/nodes/worker-1", TransportFailure::Unreachable, "connection refused");
  auto node = read_node(api, "worker-1");
  ASSERT_FALSE(node);
  EXPECT_THAT(node.error(), HasSubstr("connection refused"));
}

TEST(ReadNode, AnAnswerThatIsNotJsonIsAnError) {
  testing::ScriptedTransport api;
  api.on_get("/api/v1/nodes/worker-1", 200, "<html>");
  EXPECT_FALSE(read_node(api, "worker-1"));
}

TEST(ReadNode, ANameThatIsNotANodeNameIsRefusedWithoutARequest) {
  testing::ScriptedTransport api;
  auto node = read_node(api, "../secrets");
  ASSERT_FALSE(node);
  EXPECT_TRUE(api.requests().empty());
}

}  // namespace
}  // namespace kubenat
