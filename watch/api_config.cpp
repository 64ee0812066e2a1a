#include "watch/api_config.h"

#include <sys/stat.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>

#include <yaml-cpp/yaml.h>

#include "rules/yaml_documents.h"

namespace kubenat {
namespace {

constexpr std::string_view kServiceAccountDir = "var/run/secrets/kubernetes.io/serviceaccount";
// Far above any real kubeconfig, certificate or token; keeps a mistaken path
// (a device, a huge file) from eating memory at start-up.
constexpr std::uintmax_t kMaxFileBytes = 4 * 1024 * 1024;

std::expected<std::string, std::string> read_file(const std::string& path) {
  std::error_code error;
  const std::uintmax_t size = std::filesystem::file_size(path, error);
  if (error) {
    return std::unexpected(path + ": " + error.message());
  }
  if (size > kMaxFileBytes) {
    return std::unexpected(path + ": larger than " + std::to_string(kMaxFileBytes) + " bytes");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return std::unexpected(path + ": cannot open");
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return std::unexpected(path + ": read failed");
  }
  return text.str();
}

// A name or value for a message, quoted, with control characters made
// harmless so that a hostile kubeconfig cannot forge log lines.
std::string quote_name(std::string_view name) {
  std::string out = "\"";
  for (const char c : name.substr(0, 128)) {
    out.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c);
  }
  if (name.size() > 128) {
    out += "...";
  }
  return out + "\"";
}

std::string trim_space(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n\v\f";
  const std::size_t first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) {
    return {};
  }
  return std::string(text.substr(first, text.find_last_not_of(kSpace) - first + 1));
}

// Reads the fields of one kubeconfig section, turning yaml-cpp's exceptions
// and type mismatches into messages that name the field.
class Section {
 public:
  Section(YAML::Node node, std::string path) : node_(std::move(node)), path_(std::move(path)) {}

  const std::string& path() const { return path_; }
  std::string field(std::string_view key) const { return path_ + "." + std::string(key); }

  // The string at `key`, nullopt when absent or null, an error naming the
  // field when it is not a scalar.
  std::expected<std::optional<std::string>, std::string> string(std::string_view key) const {
    const YAML::Node value = node_[std::string(key)];
    if (!value || value.IsNull()) {
      return std::nullopt;
    }
    if (!value.IsScalar()) {
      return std::unexpected(field(key) + ": expected a string");
    }
    return value.Scalar();
  }

  std::expected<bool, std::string> boolean(std::string_view key) const {
    const YAML::Node value = node_[std::string(key)];
    if (!value || value.IsNull()) {
      return false;
    }
    bool result = false;
    if (!value.IsScalar() || !YAML::convert<bool>::decode(value, result)) {
      return std::unexpected(field(key) + ": expected true or false");
    }
    return result;
  }

  bool has(std::string_view key) const {
    const YAML::Node value = node_[std::string(key)];
    return value && !value.IsNull();
  }

 private:
  YAML::Node node_;
  std::string path_;
};

// The entry of the named list (clusters, users, contexts) called `name`, as
// a section for its inner object (`cluster`, `user`, `context`).
std::expected<Section, std::string> find_entry(const YAML::Node& root, const std::string& list,
                                               const std::string& inner, const std::string& name) {
  const YAML::Node entries = root[list];
  if (!entries || entries.IsNull()) {
    return std::unexpected(list + ": missing (looking for " + quote_name(name) + ")");
  }
  if (!entries.IsSequence()) {
    return std::unexpected(list + ": expected a list");
  }
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const YAML::Node entry = entries[i];
    if (!entry.IsMap()) {
      return std::unexpected(list + "[" + std::to_string(i) + "]: expected a mapping");
    }
    const YAML::Node entry_name = entry["name"];
    if (!entry_name || !entry_name.IsScalar() || entry_name.Scalar() != name) {
      continue;
    }
    const std::string path = list + "[" + name + "]." + inner;
    const YAML::Node body = entry[inner];
    if (!body || body.IsNull()) {
      // An empty user (anonymous access) is legal; an empty cluster fails
      // later on its missing server.
      return Section(YAML::Node(YAML::NodeType::Map), path);
    }
    if (!body.IsMap()) {
      return std::unexpected(path + ": expected a mapping");
    }
    return Section(body, path);
  }
  return std::unexpected(list + ": no entry named " + quote_name(name));
}

// A file path from the kubeconfig, resolved against its directory.
std::string resolve(const std::filesystem::path& base, const std::string& path) {
  const std::filesystem::path file(path);
  return file.is_absolute() ? path : (base / file).string();
}

// `key`-data (base64) or `key` (a file path): the content, or empty when
// neither is set. The inline data wins, as in client-go.
std::expected<std::string, std::string> data_or_file(const Section& section, const std::string& key,
                                                     const std::filesystem::path& base) {
  auto data = section.string(key + "-data");
  if (!data) {
    return std::unexpected(data.error());
  }
  if (*data) {
    auto decoded = decode_base64(**data);
    if (!decoded) {
      return std::unexpected(section.field(key + "-data") + ": " + decoded.error());
    }
    return std::move(*decoded);
  }
  auto file = section.string(key);
  if (!file) {
    return std::unexpected(file.error());
  }
  if (!*file || (*file)->empty()) {
    return std::string();
  }
  auto content = read_file(resolve(base, **file));
  if (!content) {
    return std::unexpected(section.field(key) + ": " + content.error());
  }
  return std::move(*content);
}

std::expected<ApiServerConfig, std::string> parse_kubeconfig(const YAML::Node& root, const std::filesystem::path& base,
                                                             const std::string& requested_context) {
  if (!root.IsMap()) {
    return std::unexpected("expected a mapping at the top level");
  }
  std::string context_name = requested_context;
  if (context_name.empty()) {
    const YAML::Node current = root["current-context"];
    if (current && current.IsScalar()) {
      context_name = current.Scalar();
    }
  }
  if (context_name.empty()) {
    const YAML::Node contexts = root["contexts"];
    if (contexts && contexts.IsSequence() && contexts.size() == 1 && contexts[0].IsMap() &&
        contexts[0]["name"].IsScalar()) {
      context_name = contexts[0]["name"].Scalar();
    } else {
      return std::unexpected("current-context: not set, and no context was chosen");
    }
  }

  auto context = find_entry(root, "contexts", "context", context_name);
  if (!context) {
    return std::unexpected(context.error());
  }
  auto cluster_name = context->string("cluster");
  if (!cluster_name) {
    return std::unexpected(cluster_name.error());
  }
  if (!*cluster_name || (*cluster_name)->empty()) {
    return std::unexpected(context->field("cluster") + ": missing");
  }
  auto user_name = context->string("user");
  if (!user_name) {
    return std::unexpected(user_name.error());
  }

  ApiServerConfig config;
  auto cluster = find_entry(root, "clusters", "cluster", **cluster_name);
  if (!cluster) {
    return std::unexpected(cluster.error());
  }
  auto server = cluster->string("server");
  if (!server) {
    return std::unexpected(server.error());
  }
  if (!*server || (*server)->empty()) {
    return std::unexpected(cluster->field("server") + ": missing");
  }
  if (!(*server)->starts_with("https://") && !(*server)->starts_with("http://")) {
    return std::unexpected(cluster->field("server") + ": " + quote_name(**server) +
                           " is not an http:// or https:// URL");
  }
  config.server = **server;
  auto ca = data_or_file(*cluster, "certificate-authority", base);
  if (!ca) {
    return std::unexpected(ca.error());
  }
  config.ca_pem = std::move(*ca);
  auto insecure = cluster->boolean("insecure-skip-tls-verify");
  if (!insecure) {
    return std::unexpected(insecure.error());
  }
  config.insecure_skip_tls_verify = *insecure;
  auto server_name = cluster->string("tls-server-name");
  if (!server_name) {
    return std::unexpected(server_name.error());
  }
  config.tls_server_name = server_name->value_or("");

  if (!*user_name || (*user_name)->empty()) {
    return config;  // no user: anonymous, as kubectl allows
  }
  auto user = find_entry(root, "users", "user", **user_name);
  if (!user) {
    return std::unexpected(user.error());
  }
  for (const char* unsupported : {"exec", "auth-provider", "username", "password"}) {
    if (user->has(unsupported)) {
      return std::unexpected(user->field(unsupported) + ": not supported by kubenat (use a token, tokenFile or a "
                                                        "client certificate)");
    }
  }
  auto cert = data_or_file(*user, "client-certificate", base);
  if (!cert) {
    return std::unexpected(cert.error());
  }
  auto key = data_or_file(*user, "client-key", base);
  if (!key) {
    return std::unexpected(key.error());
  }
  if (cert->empty() != key->empty()) {
    return std::unexpected(user->field(cert->empty() ? "client-certificate" : "client-key") +
                           ": missing (a client certificate needs its key and the key its certificate)");
  }
  config.client_cert_pem = std::move(*cert);
  config.client_key_pem = std::move(*key);
  auto token = user->string("token");
  if (!token) {
    return std::unexpected(token.error());
  }
  config.token = token->value_or("");
  auto token_file = user->string("tokenFile");
  if (!token_file) {
    return std::unexpected(token_file.error());
  }
  if (*token_file && !(*token_file)->empty()) {
    config.token_file = resolve(base, **token_file);
    // Fail at start-up rather than at the first request.
    auto content = read_file(config.token_file);
    if (!content) {
      return std::unexpected(user->field("tokenFile") + ": " + content.error());
    }
  }
  return config;
}

constexpr std::array<std::int8_t, 256> make_base64_table() {
  std::array<std::int8_t, 256> table{};
  for (auto& entry : table) {
    entry = -1;
  }
  constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (std::size_t i = 0; i < kAlphabet.size(); ++i) {
    table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
  }
  return table;
}

}  // namespace

std::expected<std::string, std::string> decode_base64(std::string_view text) {
  static constexpr std::array<std::int8_t, 256> kTable = make_base64_table();
  std::string out;
  out.reserve(text.size() / 4 * 3 + 3);
  std::uint32_t accumulator = 0;
  int bits = 0;
  std::size_t padding = 0;
  std::size_t symbols = 0;
  for (const char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      continue;
    }
    if (c == '=') {
      ++padding;
      continue;
    }
    const std::int8_t value = kTable[static_cast<unsigned char>(c)];
    if (value < 0 || padding > 0) {
      return std::unexpected(padding > 0 ? std::string("invalid base64: data after padding")
                                         : "invalid base64: unexpected character " + quote_name(std::string(1, c)));
    }
    ++symbols;
    accumulator = (accumulator << 6) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((accumulator >> bits) & 0xff));
    }
  }
  // A lone symbol in the last group carries fewer than 8 bits: truncated.
  if (symbols % 4 == 1 || padding > 2 || (padding > 0 && (symbols + padding) % 4 != 0)) {
    return std::unexpected("invalid base64: truncated");
  }
  return out;
}

std::expected<ApiServerConfig, std::string> load_kubeconfig(const std::string& path, const std::string& context) {
  auto text = read_file(path);
  if (!text) {
    return std::unexpected("kubeconfig " + text.error());
  }
  return parse_kubeconfig_text(*text, path, context);
}

std::expected<ApiServerConfig, std::string> parse_kubeconfig_text(std::string_view text, const std::string& path,
                                                                  const std::string& context) {
  try {
    const YAML::Node root = load_yaml_document(text);
    const std::filesystem::path base = std::filesystem::path(path).parent_path();
    auto config = parse_kubeconfig(root, base.empty() ? std::filesystem::path(".") : base, context);
    if (!config) {
      return std::unexpected("kubeconfig " + path + ": " + config.error());
    }
    return config;
  } catch (const YAML::Exception& error) {
    // Syntax errors, and the odd type mismatch the checks above do not catch.
    return std::unexpected("kubeconfig " + path + ": " + error.what());
  }
}

InClusterEnvironment InClusterEnvironment::from_process() {
  InClusterEnvironment environment;
  if (const char* host = std::getenv("KUBERNETES_SERVICE_HOST")) {
    environment.service_host = host;
  }
  if (const char* port = std::getenv("KUBERNETES_SERVICE_PORT")) {
    environment.service_port = port;
  }
  return environment;
}

std::expected<ApiServerConfig, std::string> in_cluster_config(const InClusterEnvironment& environment) {
  if (environment.service_host.empty() || environment.service_port.empty()) {
    return std::unexpected(
        "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
  }
  const std::filesystem::path dir = std::filesystem::path(environment.root) / kServiceAccountDir;
  ApiServerConfig config;
  const bool ipv6 = environment.service_host.find(':') != std::string::npos;
  config.server = "https://" + (ipv6 ? "[" + environment.service_host + "]" : environment.service_host) + ":" +
                  environment.service_port;
  config.token_file = (dir / "token").string();
  auto token = read_file(config.token_file);
  if (!token) {
    return std::unexpected("in-cluster service account token " + token.error());
  }
  auto ca = read_file((dir / "ca.crt").string());
  if (!ca) {
    return std::unexpected("in-cluster service account CA " + ca.error());
  }
  config.ca_pem = std::move(*ca);
  return config;
}

BearerToken::BearerToken(const ApiServerConfig& config) : file_(config.token_file), token_(config.token) {}

std::string BearerToken::current() {
  const std::lock_guard lock(mutex_);
  if (file_.empty()) {
    return token_;
  }
  struct stat status {};
  if (::stat(file_.c_str(), &status) != 0) {
    return token_;
  }
  const std::int64_t mtime_ns =
      static_cast<std::int64_t>(status.st_mtim.tv_sec) * 1'000'000'000 + status.st_mtim.tv_nsec;
  const auto size = static_cast<std::int64_t>(status.st_size);
  if (mtime_ns == mtime_ns_ && size == size_) {
    return token_;
  }
  if (auto content = read_file(file_)) {
    token_ = trim_space(*content);
    mtime_ns_ = mtime_ns;
    size_ = size;
  }
  return token_;
}

}  // namespace kubenat
