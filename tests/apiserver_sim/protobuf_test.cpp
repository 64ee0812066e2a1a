// Protobuf bodies as kubectl's generator commands send them, captured from
// kubectl 1.32 (`kubectl create service loadbalancer lb --tcp=443:8443`,
// `kubectl create namespace bar`).

#include "tools/apiserver_sim/protobuf.h"

#include <gtest/gtest.h>

namespace kubenat::apiserver_sim {
namespace {

using nlohmann::json;

const std::string kLoadBalancerService(
    "\x6b\x38\x73\x00\x0a\x0d\x0a\x02\x76\x31\x12\x07\x53\x65\x72\x76\x69\x63\x65\x12\x6b\x0a\x1d\x0a\x02\x6c\x62\x12"
    "\x00\x1a\x00\x22\x00\x2a\x00\x32\x00\x38\x00\x42\x00\x5a\x09\x0a\x03\x61\x70\x70\x12\x02\x6c\x62\x12\x46\x0a\x1d"
    "\x0a\x08\x34\x34\x33\x2d\x38\x34\x34\x33\x12\x03\x54\x43\x50\x18\xbb\x03\x22\x07\x08\x00\x10\xfb\x41\x1a\x00\x28"
    "\x00\x12\x09\x0a\x03\x61\x70\x70\x12\x02\x6c\x62\x1a\x00\x22\x0c\x4c\x6f\x61\x64\x42\x61\x6c\x61\x6e\x63\x65\x72"
    "\x3a\x00\x42\x00\x52\x00\x5a\x00\x60\x00\x68\x00\x1a\x02\x0a\x00\x1a\x00\x22\x00",
    132);

const std::string kNamespace(
    "\x6b\x38\x73\x00\x0a\x0f\x0a\x02\x76\x31\x12\x09\x4e\x61\x6d\x65\x73\x70\x61\x63\x65\x12\x1b\x0a\x13\x0a\x03\x62"
    "\x61\x72\x12\x00\x1a\x00\x22\x00\x2a\x00\x32\x00\x38\x00\x42\x00\x12\x00\x1a\x02\x0a\x00\x1a\x00\x22\x00",
    54);

TEST(Protobuf, DecodesAServiceFromKubectlCreateService) {
  auto decoded = decode_protobuf_object(kLoadBalancerService);
  ASSERT_TRUE(decoded) << decoded.error();
  EXPECT_EQ(*decoded, json::parse(R"({
    "apiVersion": "v1", "kind": "Service",
    "metadata": {"name": "lb", "labels": {"app": "lb"}},
    "spec": {"type": "LoadBalancer", "selector": {"app": "lb"},
             "ports": [{"name": "443-8443", "protocol": "TCP", "port": 443, "targetPort": 8443}]}
  })"));
}

TEST(Protobuf, DecodesANamespace) {
  auto decoded = decode_protobuf_object(kNamespace);
  ASSERT_TRUE(decoded) << decoded.error();
  EXPECT_EQ(*decoded, json::parse(R"({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bar"}})"));
}

TEST(Protobuf, RejectsWhatItCannotRead) {
  EXPECT_FALSE(decode_protobuf_object("{}"));
  EXPECT_FALSE(decode_protobuf_object(kLoadBalancerService.substr(0, 60)));
  auto node = decode_protobuf_object(std::string("k8s\0\x0a\x0a\x0a\x02v1\x12\x04Node", 16));
  ASSERT_FALSE(node);
  EXPECT_EQ(node.error(), "protobuf bodies are read for v1 Service and Namespace only, not v1 Node");
}

}  // namespace
}  // namespace kubenat::apiserver_sim
