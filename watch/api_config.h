#pragma once

// Where the API server is and how to authenticate to it: from a kubeconfig
// file, or from the service account a pod runs as (in-cluster). Both are read
// once at start-up; only the bearer token is re-read later (BearerToken), as
// projected service-account tokens rotate while kube-proxy runs.

#include <cstdint>
#include <expected>
#include <mutex>
#include <string>
#include <string_view>

namespace kubenat {

struct ApiServerConfig {
  std::string server;  // "https://host:port" or "http://host:port", optionally with a path prefix
  std::string ca_pem;  // trusted CAs (PEM); empty: the system's default trust store
  bool insecure_skip_tls_verify = false;
  std::string client_cert_pem;  // client certificate authentication; both or neither
  std::string client_key_pem;
  std::string token;       // bearer token
  std::string token_file;  // bearer token re-read from this file when it changes; wins over `token`
  std::string tls_server_name;  // the name to send (SNI) and verify instead of the server's host
};

// Reads a kubeconfig file: the cluster, user and context of `context`, or of
// current-context when empty (or of the only context when the file has just
// one). Relative file paths in it (certificate-authority, client-certificate,
// client-key, tokenFile) are relative to the kubeconfig's directory, as with
// kubectl. File references are read now, except tokenFile, whose path is kept.
// Errors name the file and the field ("users[admin].user.client-key-data:
// invalid base64"). Credential plugins (exec, auth-provider) and basic auth
// are not supported and are errors, rather than a silent anonymous client.
[[nodiscard]] std::expected<ApiServerConfig, std::string> load_kubeconfig(const std::string& path,
                                                                          const std::string& context = "");
// The same for a kubeconfig's text, read from `path`: errors start with the
// path, and file references in it are relative to the path's directory.
[[nodiscard]] std::expected<ApiServerConfig, std::string> parse_kubeconfig_text(std::string_view text,
                                                                               const std::string& path,
                                                                               const std::string& context = "");

// What in-cluster configuration is read from: the environment Kubernetes gives
// every pod, and the service-account files under `root`.
struct InClusterEnvironment {
  std::string service_host;  // KUBERNETES_SERVICE_HOST
  std::string service_port;  // KUBERNETES_SERVICE_PORT
  // token and ca.crt are read from <root>/var/run/secrets/kubernetes.io/serviceaccount/.
  std::string root = "/";

  // From this process's environment, with root "/".
  static InClusterEnvironment from_process();
};

// The configuration of a pod's service account, as client-go's
// rest.InClusterConfig builds it: https://<host>:<port>, the service
// account's CA, and its token file (read once now to check it is there).
[[nodiscard]] std::expected<ApiServerConfig, std::string> in_cluster_config(
    const InClusterEnvironment& environment = InClusterEnvironment::from_process());

// The bearer token to send, re-read from the config's token_file whenever the
// file's modification time or size changes (checked on every call, a stat()
// per request), so a rotated token is used from the next request on. When the
// file cannot be read the last token read (or the config's `token`) is kept.
// Thread-safe.
class BearerToken {
 public:
  explicit BearerToken(const ApiServerConfig& config);

  // The token, or empty for none.
  [[nodiscard]] std::string current();

 private:
  std::mutex mutex_;
  std::string file_;
  std::string token_;
  std::int64_t mtime_ns_ = -1;
  std::int64_t size_ = -1;
};

// Decodes standard base64 (RFC 4648, padding optional, whitespace ignored),
// as kubeconfig's *-data fields hold it.
[[nodiscard]] std::expected<std::string, std::string> decode_base64(std::string_view text);

}  // namespace kubenat
