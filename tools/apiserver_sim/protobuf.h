#pragma once

// Reading the protobuf bodies that typed client-go clients send
// (Content-Type: application/vnd.kubernetes.protobuf): kubectl's generator
// commands (kubectl create service ..., kubectl create namespace) create
// objects that way. Only Service and Namespace are understood, and of them
// the fields those commands and hand-written typed clients set: metadata
// (name, generateName, namespace, uid, resourceVersion, labels, annotations,
// finalizers), the Service spec up to publishNotReadyAddresses, the
// Namespace spec and status. Other fields are skipped; other kinds are an
// error.

#include <expected>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace kubenat::apiserver_sim {

// The object as JSON (with apiVersion and kind), or a one-line reason.
// Zero values (empty strings, 0, false) read as absent, as omitempty JSON.
[[nodiscard]] std::expected<nlohmann::json, std::string> decode_protobuf_object(std::string_view body);

}  // namespace kubenat::apiserver_sim
