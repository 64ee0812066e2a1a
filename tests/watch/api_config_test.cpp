// kubeconfig and in-cluster configuration: files written to a temporary
// directory, inline (base64) and file references, relative paths, context
// selection, token rotation, and errors that name the field at fault.

#include "watch/api_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

namespace kubenat {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "kubenat-watch-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const fs::path& path() const { return path_; }
  std::string write(const std::string& relative, const std::string& content) const {
    const fs::path file = path_ / relative;
    fs::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << content;
    return file.string();
  }

 private:
  fs::path path_;
};

// base64 of the given text, for building kubeconfigs.
std::string base64(const std::string& text) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < text.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(text[i]) << 16) | (static_cast<unsigned char>(text[i + 1]) << 8) |
                       static_cast<unsigned char>(text[i + 2]);
    out += {kAlphabet[(v >> 18) & 63], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63], kAlphabet[v & 63]};
  }
  if (text.size() - i == 1) {
    const unsigned v = static_cast<unsigned char>(text[i]) << 16;
    out += {kAlphabet[(v >> 18) & 63], kAlphabet[(v >> 12) & 63], '=', '='};
  } else if (text.size() - i == 2) {
    const unsigned v = (static_cast<unsigned char>(text[i]) << 16) | (static_cast<unsigned char>(text[i + 1]) << 8);
    out += {kAlphabet[(v >> 18) & 63], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63], '='};
  }
  return out;
}

constexpr char kCa[] = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
constexpr char kCert[] = "-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n";
constexpr char kKey[] = "-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n";

TEST(DecodeBase64, DecodesWithAndWithoutPadding) {
  EXPECT_EQ(decode_base64("aGVsbG8=").value(), "hello");
  EXPECT_EQ(decode_base64("aGVsbG8").value(), "hello");
  EXPECT_EQ(decode_base64("aGVs\nbG8h").value(), "hello!");
  EXPECT_EQ(decode_base64("").value(), "");
  EXPECT_EQ(decode_base64(base64(kCa)).value(), kCa);
}

TEST(DecodeBase64, RejectsInvalidInput) {
  EXPECT_THAT(decode_base64("aGV*bG8=").error(), HasSubstr("unexpected character"));
  EXPECT_THAT(decode_base64("aGVsbG8=x").error(), HasSubstr("after padding"));
  EXPECT_THAT(decode_base64("aGVsb").error(), HasSubstr("truncated"));
}

TEST(ParseKubeconfigText, TextThatMakesTheYamlParserLoopIsAnErrorNamingTheFile) {
  auto config = parse_kubeconfig_text("{clusters: []},", "/etc/kubenat/kubeconfig");
  ASSERT_FALSE(config);
  EXPECT_THAT(config.error(), HasSubstr("kubeconfig /etc/kubenat/kubeconfig: "));
  EXPECT_THAT(config.error(), HasSubstr("loop"));
}

TEST(LoadKubeconfig, ReadsInlineDataFields) {
  TempDir dir;
  const std::string path = dir.write("config", R"(apiVersion: v1
kind: Config
clusters:
- name: other
  cluster:
    server: https://other:6443
- name: prod
  cluster:
    server: https://10.0.0.1:6443
    certificate-authority-data: )" + base64(kCa) + R"(
    tls-server-name: kubernetes.default
users:
- name: admin
  user:
    client-certificate-data: )" + base64(kCert) + R"(
    client-key-data: )" + base64(kKey) + R"(
    token: abc.def
contexts:
- name: other
  context: {cluster: other, user: admin}
- name: prod
  context:
    cluster: prod
    user: admin
    namespace: kube-system
current-context: prod
)");
  auto config = load_kubeconfig(path);
  ASSERT_TRUE(config) << config.error();
  EXPECT_EQ(config->server, "https://10.0.0.1:6443");
  EXPECT_EQ(config->ca_pem, kCa);
  EXPECT_EQ(config->client_cert_pem, kCert);
  EXPECT_EQ(config->client_key_pem, kKey);
  EXPECT_EQ(config->token, "abc.def");
  EXPECT_EQ(config->tls_server_name, "kubernetes.default");
  EXPECT_FALSE(config->insecure_skip_tls_verify);

  auto other = load_kubeconfig(path, "other");
  ASSERT_TRUE(other) << other.error();
  EXPECT_EQ(other->server, "https://other:6443");
  EXPECT_EQ(other->ca_pem, "");
}

TEST(LoadKubeconfig, ResolvesFilePathsAgainstTheKubeconfigsDirectory) {
  TempDir dir;
  dir.write("pki/ca.crt", kCa);
  dir.write("pki/client.crt", kCert);
  const std::string absolute_key = dir.write("elsewhere/client.key", kKey);
  dir.write("pki/token", "  secret-token\n");
  const std::string path = dir.write("conf/kubeconfig", R"(
clusters:
- name: c
  cluster:
    server: https://k8s.example:443
    certificate-authority: ../pki/ca.crt
users:
- name: u
  user:
    client-certificate: ../pki/client.crt
    client-key: )" + absolute_key + R"(
    tokenFile: ../pki/token
contexts:
- name: only
  context: {cluster: c, user: u}
)");
  // No current-context, but only one context.
  auto config = load_kubeconfig(path);
  ASSERT_TRUE(config) << config.error();
  EXPECT_EQ(config->ca_pem, kCa);
  EXPECT_EQ(config->client_cert_pem, kCert);
  EXPECT_EQ(config->client_key_pem, kKey);
  EXPECT_EQ(fs::path(config->token_file).lexically_normal(), (dir.path() / "pki/token").lexically_normal());
  BearerToken token(*config);
  EXPECT_EQ(token.current(), "secret-token");
}

TEST(LoadKubeconfig, InsecureAndAnonymous) {
  TempDir dir;
  const std::string path = dir.write("config", R"(
clusters: [{name: c, cluster: {server: "http://127.0.0.1:8080", insecure-skip-tls-verify: true}}]
contexts: [{name: x, context: {cluster: c}}]
current-context: x
)");
  auto config = load_kubeconfig(path);
  ASSERT_TRUE(config) << config.error();
  EXPECT_TRUE(config->insecure_skip_tls_verify);
  EXPECT_EQ(config->token, "");
}

struct BadKubeconfig {
  std::string name;
  std::string yaml;
  std::string error;  // expected in the message
};

// Names the case in test names and messages, rather than dumping its bytes.
void PrintTo(const BadKubeconfig& bad, std::ostream* out) { *out << bad.name; }

class LoadKubeconfigErrors : public ::testing::TestWithParam<BadKubeconfig> {};

TEST_P(LoadKubeconfigErrors, NameTheField) {
  TempDir dir;
  const std::string path = dir.write("config", GetParam().yaml);
  auto config = load_kubeconfig(path);
  ASSERT_FALSE(config);
  EXPECT_THAT(config.error(), HasSubstr(GetParam().error));
  EXPECT_THAT(config.error(), HasSubstr(path));
}

constexpr char kContext[] = "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n";

INSTANTIATE_TEST_SUITE_P(
    Cases, LoadKubeconfigErrors,
    ::testing::Values(
        BadKubeconfig{"MissingServer", std::string("clusters: [{name: c, cluster: {}}]\n") + kContext,
                      "clusters[c].cluster.server: missing"},
        BadKubeconfig{"NotAUrl", std::string("clusters: [{name: c, cluster: {server: k8s:6443}}]\n") + kContext,
                      "clusters[c].cluster.server: \"k8s:6443\" is not an http:// or https:// URL"},
        BadKubeconfig{"BadBase64",
                      std::string("clusters: [{name: c, cluster: {server: https://a, certificate-authority-data: "
                                  "'%%%'}}]\nusers: [{name: u, user: {}}]\n") +
                          kContext,
                      "clusters[c].cluster.certificate-authority-data: invalid base64"},
        BadKubeconfig{"MissingCaFile",
                      std::string("clusters: [{name: c, cluster: {server: https://a, certificate-authority: "
                                  "nope.crt}}]\n") +
                          kContext,
                      "clusters[c].cluster.certificate-authority: "},
        BadKubeconfig{"UnknownContext",
                      "clusters: [{name: c, cluster: {server: https://a}}]\ncontexts: []\ncurrent-context: gone\n",
                      "contexts: no entry named \"gone\""},
        BadKubeconfig{"NoContext", "clusters: []\n", "current-context: not set"},
        BadKubeconfig{"UnknownCluster", std::string("clusters: [{name: d, cluster: {server: https://a}}]\n") + kContext,
                      "clusters: no entry named \"c\""},
        BadKubeconfig{"UnknownUser",
                      std::string("clusters: [{name: c, cluster: {server: https://a}}]\nusers: []\n") + kContext,
                      "users: no entry named \"u\""},
        BadKubeconfig{"ExecPlugin",
                      std::string("clusters: [{name: c, cluster: {server: https://a}}]\nusers: [{name: u, user: "
                                  "{exec: {command: aws}}}]\n") +
                          kContext,
                      "users[u].user.exec: not supported"},
        BadKubeconfig{"KeyWithoutCert",
                      std::string("clusters: [{name: c, cluster: {server: https://a}}]\nusers: [{name: u, user: "
                                  "{client-key-data: " +
                                  base64(kKey) + "}}]\n") +
                          kContext,
                      "users[u].user.client-certificate: missing"},
        BadKubeconfig{"MissingTokenFile",
                      std::string("clusters: [{name: c, cluster: {server: https://a}}]\nusers: [{name: u, user: "
                                  "{tokenFile: /nonexistent/token}}]\n") +
                          kContext,
                      "users[u].user.tokenFile: /nonexistent/token"},
        BadKubeconfig{"ServerNotAString",
                      std::string("clusters: [{name: c, cluster: {server: [1, 2]}}]\n") + kContext,
                      "clusters[c].cluster.server: expected a string"},
        BadKubeconfig{"InsecureNotABool",
                      std::string("clusters: [{name: c, cluster: {server: https://a, insecure-skip-tls-verify: "
                                  "maybe}}]\n") +
                          kContext,
                      "clusters[c].cluster.insecure-skip-tls-verify: expected true or false"},
        BadKubeconfig{"YamlSyntax", "clusters: [unclosed\n", "kubeconfig"},
        BadKubeconfig{"NotAMapping", "- just\n- a list\n", "expected a mapping at the top level"}),
    [](const ::testing::TestParamInfo<BadKubeconfig>& param_info) { return param_info.param.name; });

TEST(LoadKubeconfig, MissingFile) {
  auto config = load_kubeconfig("/nonexistent/kubeconfig");
  ASSERT_FALSE(config);
  EXPECT_THAT(config.error(), HasSubstr("/nonexistent/kubeconfig"));
}

TEST(BearerToken, RereadsTheFileWhenItChanges) {
  TempDir dir;
  ApiServerConfig config;
  config.token = "static";
  config.token_file = dir.write("token", "first\n");
  BearerToken token(config);
  EXPECT_EQ(token.current(), "first");
  EXPECT_EQ(token.current(), "first");
  // Same size, different content: the modification time tells.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  dir.write("token", "secnd\n");
  EXPECT_EQ(token.current(), "secnd");
  dir.write("token", "a-longer-third-token");
  EXPECT_EQ(token.current(), "a-longer-third-token");
  // Gone (mid-rotation): the last token read stays.
  fs::remove(config.token_file);
  EXPECT_EQ(token.current(), "a-longer-third-token");
}

TEST(BearerToken, StaticTokenWithoutFile) {
  ApiServerConfig config;
  config.token = "static";
  BearerToken token(config);
  EXPECT_EQ(token.current(), "static");
}

TEST(InClusterConfig, ReadsTheServiceAccount) {
  TempDir dir;
  dir.write("var/run/secrets/kubernetes.io/serviceaccount/token", "sa-token\n");
  dir.write("var/run/secrets/kubernetes.io/serviceaccount/ca.crt", kCa);
  auto config = in_cluster_config({"10.96.0.1", "443", dir.path().string()});
  ASSERT_TRUE(config) << config.error();
  EXPECT_EQ(config->server, "https://10.96.0.1:443");
  EXPECT_EQ(config->ca_pem, kCa);
  EXPECT_EQ(config->token, "");
  EXPECT_EQ(BearerToken(*config).current(), "sa-token");

  auto ipv6 = in_cluster_config({"fd00::1", "6443", dir.path().string()});
  ASSERT_TRUE(ipv6) << ipv6.error();
  EXPECT_EQ(ipv6->server, "https://[fd00::1]:6443");
}

TEST(InClusterConfig, Errors) {
  TempDir dir;
  EXPECT_THAT(in_cluster_config({"", "443", dir.path().string()}).error(), HasSubstr("KUBERNETES_SERVICE_HOST"));
  EXPECT_THAT(in_cluster_config({"10.96.0.1", "443", dir.path().string()}).error(), HasSubstr("token"));
  dir.write("var/run/secrets/kubernetes.io/serviceaccount/token", "t");
  EXPECT_THAT(in_cluster_config({"10.96.0.1", "443", dir.path().string()}).error(), HasSubstr("ca.crt"));
}

}  // namespace
}  // namespace kubenat
