#include "watch/api_client.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <limits>
#include <optional>
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "watch/line_splitter.h"

namespace kubenat {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

using Parser = http::response_parser<http::buffer_body>;

constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kMaxErrorBody = 1024 * 1024;
constexpr std::uint32_t kMaxHeaderBytes = 64 * 1024;

std::unexpected<TransportError> fail(TransportFailure failure, std::string message) {
  return std::unexpected(TransportError{failure, std::move(message)});
}

bool is_ip_literal(const std::string& host) {
  boost::system::error_code error;
  (void)asio::ip::make_address(host, error);
  return !error;
}

// The SSL context every connection of one client shares: trust, client
// certificate and protocol floor. Errors name the configuration field.
std::expected<std::unique_ptr<ssl::context>, std::string> make_ssl_context(const ApiServerConfig& config) {
  auto context = std::make_unique<ssl::context>(ssl::context::tls_client);
  boost::system::error_code error;
  // The API server speaks TLS 1.2 and 1.3 only.
  SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
  if (config.insecure_skip_tls_verify) {
    context->set_verify_mode(ssl::verify_none);
  } else {
    context->set_verify_mode(ssl::verify_peer);
    if (config.ca_pem.empty()) {
      context->set_default_verify_paths(error);
      if (error) {
        return std::unexpected("system CA certificates: " + error.message());
      }
    } else {
      context->add_certificate_authority(asio::buffer(config.ca_pem), error);
      if (error) {
        return std::unexpected("certificate authority: not a PEM certificate: " + error.message());
      }
    }
  }
  if (!config.client_cert_pem.empty() || !config.client_key_pem.empty()) {
    context->use_certificate_chain(asio::buffer(config.client_cert_pem), error);
    if (error) {
      return std::unexpected("client certificate: " + error.message());
    }
    context->use_private_key(asio::buffer(config.client_key_pem), ssl::context::pem, error);
    if (error) {
      return std::unexpected("client key: " + error.message());
    }
    if (SSL_CTX_check_private_key(context->native_handle()) != 1) {
      return std::unexpected("client key: does not match the client certificate");
    }
  }
  return context;
}

}  // namespace

std::expected<ServerUrl, std::string> parse_server_url(const std::string& server) {
  ServerUrl url;
  std::string_view rest = server;
  if (rest.starts_with("https://")) {
    rest.remove_prefix(8);
    url.tls = true;
  } else if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
    url.tls = false;
  } else {
    return std::unexpected("server URL \"" + server + "\": must start with https:// or http://");
  }
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view prefix = rest.substr(slash);
    while (prefix.ends_with('/')) {
      prefix.remove_suffix(1);
    }
    url.path_prefix = std::string(prefix);
  }
  if (authority.find('@') != std::string_view::npos || authority.find('?') != std::string_view::npos ||
      authority.find('#') != std::string_view::npos) {
    return std::unexpected("server URL \"" + server + "\": user info, query and fragment are not supported");
  }
  std::string_view port;
  if (authority.starts_with('[')) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return std::unexpected("server URL \"" + server + "\": unterminated IPv6 address");
    }
    url.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (!after.starts_with(':')) {
        return std::unexpected("server URL \"" + server + "\": unexpected text after the IPv6 address");
      }
      port = after.substr(1);
    }
  } else {
    const std::size_t colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
    }
  }
  if (url.host.empty()) {
    return std::unexpected("server URL \"" + server + "\": no host");
  }
  if (port.empty()) {
    url.port = url.tls ? "443" : "80";
  } else {
    int number = 0;
    const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (error != std::errc() || end != port.data() + port.size() || number < 1 || number > 65535) {
      return std::unexpected("server URL \"" + server + "\": invalid port \"" + std::string(port) + "\"");
    }
    url.port = std::string(port);
  }
  return url;
}

// Every operation is an asynchronous Beast operation run to completion on
// this client's private io_context by the calling thread. That gives the
// synchronous interface per-operation timeouts (tcp_stream's), and abort()
// a safe way in from another thread: it posts the socket's closing to the
// io_context, so the socket is only ever touched by the thread running it.
class ApiClient::Impl {
 public:
  Impl(ServerUrl url, const ApiServerConfig& config, ApiClientOptions options,
       std::unique_ptr<ssl::context> ssl_context)
      : url_(std::move(url)),
        options_(std::move(options)),
        token_(config),
        tls_server_name_(config.tls_server_name),
        verify_(!config.insecure_skip_tls_verify),
        ssl_context_(std::move(ssl_context)) {
    const bool default_port = url_.port == (url_.tls ? "443" : "80");
    const bool ipv6 = url_.host.find(':') != std::string::npos;
    host_header_ = (ipv6 ? "[" + url_.host + "]" : url_.host) + (default_port ? "" : ":" + url_.port);
    origin_ = std::string(url_.tls ? "https://" : "http://") + host_header_;
  }

  std::expected<HttpResponse, TransportError> get(const std::string& target) {
    const Clock::time_point deadline = Clock::now() + options_.request_timeout;
    auto parser = open(target, deadline);
    if (!parser) {
      return std::unexpected(parser.error());
    }
    HttpResponse response;
    response.status = static_cast<int>((*parser)->get().result_int());
    std::array<char, kReadChunk> chunk{};
    while (!(*parser)->is_done()) {
      auto bytes = read_some(**parser, chunk, deadline, target);
      if (!bytes) {
        return std::unexpected(bytes.error());
      }
      if (response.body.size() + *bytes > options_.max_body_bytes) {
        close();
        return fail(TransportFailure::Broken, describe(target) + ": response body larger than " +
                                                  std::to_string(options_.max_body_bytes) + " bytes");
      }
      response.body.append(chunk.data(), *bytes);
    }
    finish(**parser);
    return response;
  }

  std::expected<StreamEnd, TransportError> stream(const std::string& target, const LineHandler& on_line) {
    auto parser = open(target, Clock::now() + options_.request_timeout);
    if (!parser) {
      return std::unexpected(parser.error());
    }
    StreamEnd end;
    end.status = static_cast<int>((*parser)->get().result_int());
    const bool success = end.status >= 200 && end.status < 300;
    std::array<char, kReadChunk> chunk{};
    LineSplitter lines(options_.max_line_bytes);
    const LineHandler deliver_line = [&](std::string_view line) { return deliver(on_line, line); };
    while (!(*parser)->is_done()) {
      const Clock::time_point deadline =
          Clock::now() + (success ? options_.stream_idle_timeout : options_.request_timeout);
      auto bytes = read_some(**parser, chunk, deadline, target);
      if (!bytes) {
        return std::unexpected(bytes.error());
      }
      if (!success) {
        if (end.body.size() < kMaxErrorBody) {
          end.body.append(chunk.data(), std::min(*bytes, kMaxErrorBody - end.body.size()));
        }
        continue;
      }
      auto more = lines.feed(std::string_view(chunk.data(), *bytes), deliver_line);
      if (!more) {
        close();
        return fail(TransportFailure::Broken, describe(target) + ": " + more.error());
      }
      if (!*more) {
        // The rest of the response is unread: the connection cannot carry
        // another request.
        close();
        end.stopped = true;
        return end;
      }
    }
    finish(**parser);
    if (success && !lines.finish(deliver_line)) {
      end.stopped = true;
    }
    return end;
  }

  // Calls on_line; if it throws, the response is left half read, so the
  // connection goes before the exception does.
  bool deliver(const LineHandler& on_line, std::string_view line) {
    try {
      return on_line(line);
    } catch (...) {
      close();
      throw;
    }
  }

  // Any thread.
  void abort() {
    aborted_.store(true);
    asio::post(io_, [this] { close(); });
  }

 private:
  std::string describe(const std::string& target) const { return "GET " + origin_ + target; }

  std::unexpected<TransportError> aborted(const std::string& target) const {
    return fail(TransportFailure::Aborted, describe(target) + ": aborted");
  }

  beast::tcp_stream& lowest() { return tls_ ? beast::get_lowest_layer(*tls_) : *tcp_; }

  template <class Operation>
  auto with_stream(Operation&& operation) {
    if (tls_) {
      return operation(*tls_);
    }
    return operation(*tcp_);
  }

  // Starts one asynchronous operation with a completion handler that records
  // its error code, and runs the io_context until it completes.
  template <class Initiate>
  boost::system::error_code run(Initiate&& initiate) {
    boost::system::error_code result;
    bool done = false;
    initiate([&](boost::system::error_code error, auto&&...) {
      result = error;
      done = true;
    });
    io_.restart();
    while (!done && io_.run_one() > 0) {
      if (aborted_.load()) {
        close();  // cancels the operation, whatever abort()'s posted close found
      }
    }
    if (!done) {
      // Cannot happen while the operation holds work; be safe anyway.
      result = asio::error::operation_aborted;
    }
    return result;
  }

  void close() {
    boost::system::error_code ignored;
    resolver_.cancel();
    if (tcp_) {
      tcp_->socket().close(ignored);
    }
    if (tls_) {
      beast::get_lowest_layer(*tls_).socket().close(ignored);
    }
    connected_ = false;
  }

  std::expected<void, TransportError> connect(const std::string& target, Clock::time_point deadline) {
    tcp_.reset();
    tls_.reset();
    buffer_.clear();
    // Beast reads as much as the buffer has room for, and at least 512
    // bytes: left to grow by itself it stays small, and the lists of 100,000
    // Services and their EndpointSlices cost hundreds of thousands of
    // 512-byte reads, each with a timer set and an epoll wait.
    buffer_.reserve(kReadChunk);
    const std::string where = "connecting to " + origin_;
    tcp::resolver::results_type endpoints;
    asio::steady_timer timer(io_);
    timer.expires_at(deadline);
    timer.async_wait([this](boost::system::error_code error) {
      if (!error) {
        resolver_.cancel();
      }
    });
    const boost::system::error_code resolve_error = run([&](auto handler) {
      resolver_.async_resolve(url_.host, url_.port,
                              [&endpoints, handler](boost::system::error_code error, tcp::resolver::results_type results) {
                                endpoints = std::move(results);
                                handler(error);
                              });
    });
    timer.cancel();
    if (aborted_) {
      return aborted(target);
    }
    if (resolve_error) {
      return fail(TransportFailure::Unreachable, where + ": resolving " + url_.host + ": " +
                                                     (Clock::now() >= deadline ? "timed out" : resolve_error.message()));
    }

    if (url_.tls) {
      tls_.emplace(io_, *ssl_context_);
    } else {
      tcp_.emplace(io_);
    }
    lowest().expires_at(deadline);
    const boost::system::error_code connect_error =
        run([&](auto handler) { lowest().async_connect(endpoints, handler); });
    if (aborted_) {
      return aborted(target);
    }
    if (connect_error) {
      close();
      return fail(TransportFailure::Unreachable, where + ": " + connect_error.message());
    }
    // Keepalive probes notice a peer that vanished without closing (a node
    // reboot, a partition) on connections that otherwise wait for minutes.
    boost::system::error_code ignored;
    lowest().socket().set_option(asio::socket_base::keep_alive(true), ignored);
    lowest().socket().set_option(tcp::no_delay(true), ignored);

    if (tls_) {
      const std::string& name = tls_server_name_.empty() ? url_.host : tls_server_name_;
      SSL* handle = tls_->native_handle();
      if (!is_ip_literal(name)) {
        SSL_set_tlsext_host_name(handle, name.c_str());
      }
      if (verify_) {
        // OpenSSL checks the name during chain verification: an IP against
        // the certificate's IP SANs, a host name against its DNS SANs.
        X509_VERIFY_PARAM* param = SSL_get0_param(handle);
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        const int set = is_ip_literal(name) ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str())
                                            : X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
        if (set != 1) {
          close();
          return fail(TransportFailure::Unreachable, where + ": cannot verify the server name \"" + name + "\"");
        }
      }
      const boost::system::error_code handshake_error =
          run([&](auto handler) { tls_->async_handshake(ssl::stream_base::client, handler); });
      if (aborted_) {
        return aborted(target);
      }
      if (handshake_error) {
        close();
        std::string message = handshake_error.message();
        const long verify_result = SSL_get_verify_result(handle);
        if (verify_result != X509_V_OK) {
          message += std::string(" (") + X509_verify_cert_error_string(verify_result) + ")";
        }
        return fail(TransportFailure::Unreachable, where + ": TLS handshake: " + message);
      }
    }
    connected_ = true;
    return {};
  }

  // Connects if needed, sends the request and reads the response header. A
  // kept-alive connection the server has meanwhile closed fails before any
  // response byte; such a request is sent again on a new connection once.
  std::expected<std::unique_ptr<Parser>, TransportError> open(const std::string& target,
                                                              Clock::time_point deadline) {
    for (int attempt = 0;; ++attempt) {
      if (aborted_) {
        return aborted(target);
      }
      const bool reused = connected_;
      if (!connected_) {
        if (auto connected = connect(target, deadline); !connected) {
          return std::unexpected(connected.error());
        }
      }
      http::request<http::empty_body> request{http::verb::get, url_.path_prefix + target, 11};
      request.set(http::field::host, host_header_);
      request.set(http::field::user_agent, options_.user_agent);
      request.set(http::field::accept, "application/json");
      if (const std::string token = token_.current(); !token.empty()) {
        request.set(http::field::authorization, "Bearer " + token);
      }
      lowest().expires_at(deadline);
      boost::system::error_code error = with_stream([&](auto& stream) {
        return run([&](auto handler) { http::async_write(stream, request, handler); });
      });
      auto parser = std::make_unique<Parser>();
      parser->header_limit(kMaxHeaderBytes);
      // Watches are long and get() counts for itself. Not boost::none: Beast
      // 1.74 then rejects every Content-Length (optional comparison bug).
      parser->body_limit(std::numeric_limits<std::uint64_t>::max());
      if (!error) {
        error = with_stream([&](auto& stream) {
          return run([&](auto handler) { http::async_read_header(stream, buffer_, *parser, handler); });
        });
      }
      if (aborted_) {
        return aborted(target);
      }
      if (!error) {
        return parser;
      }
      close();
      const bool server_closed = error == http::error::end_of_stream || error == asio::error::connection_reset ||
                                 error == asio::error::broken_pipe || error == asio::error::eof ||
                                 error == ssl::error::stream_truncated;
      if (reused && server_closed && attempt == 0) {
        continue;
      }
      return fail(TransportFailure::Broken,
                  describe(target) + ": " + (error == beast::error::timeout ? "timed out" : error.message()));
    }
  }

  // Reads some of the body into `chunk`; 0 bytes at its end.
  std::expected<std::size_t, TransportError> read_some(Parser& parser, std::array<char, kReadChunk>& chunk,
                                                       Clock::time_point deadline, const std::string& target) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    lowest().expires_at(deadline);
    boost::system::error_code error = with_stream([&](auto& stream) {
      return run([&](auto handler) { http::async_read_some(stream, buffer_, parser, handler); });
    });
    if (error == http::error::need_buffer) {
      error = {};  // the chunk is full
    }
    if (aborted_) {
      return aborted(target);
    }
    if (error) {
      close();
      std::string why = error == beast::error::timeout ? "timed out"
                        : error == http::error::partial_message || error == http::error::end_of_stream ||
                                error == ssl::error::stream_truncated
                            ? "the server closed the connection before the end of the response"
                            : error.message();
      return fail(TransportFailure::Broken, describe(target) + ": " + why);
    }
    return chunk.size() - parser.get().body().size;
  }

  void finish(Parser& parser) {
    if (!parser.keep_alive()) {
      close();
    }
  }

  ServerUrl url_;
  ApiClientOptions options_;
  BearerToken token_;
  std::string tls_server_name_;
  bool verify_ = true;
  std::unique_ptr<ssl::context> ssl_context_;  // null for http://
  std::string host_header_;
  std::string origin_;

  asio::io_context io_;
  tcp::resolver resolver_{io_};
  std::optional<beast::tcp_stream> tcp_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
  beast::flat_buffer buffer_;
  bool connected_ = false;
  std::atomic<bool> aborted_{false};
};

std::expected<std::unique_ptr<ApiClient>, std::string> ApiClient::create(const ApiServerConfig& config,
                                                                         const ApiClientOptions& options) {
  auto url = parse_server_url(config.server);
  if (!url) {
    return std::unexpected(url.error());
  }
  std::unique_ptr<ssl::context> ssl_context;
  if (url->tls) {
    auto context = make_ssl_context(config);
    if (!context) {
      return std::unexpected(context.error());
    }
    ssl_context = std::move(*context);
  }
  return std::unique_ptr<ApiClient>(
      new ApiClient(std::make_unique<Impl>(std::move(*url), config, options, std::move(ssl_context))));
}

ApiClient::ApiClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ApiClient::~ApiClient() = default;

std::expected<HttpResponse, TransportError> ApiClient::get(const std::string& path_and_query) {
  return impl_->get(path_and_query);
}

std::expected<StreamEnd, TransportError> ApiClient::stream(const std::string& path_and_query,
                                                           const LineHandler& on_line) {
  return impl_->stream(path_and_query, on_line);
}

void ApiClient::abort() { impl_->abort(); }

}  // namespace kubenat
