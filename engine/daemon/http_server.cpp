// The only file that includes Boost.Beast in engine/: it is slow to compile.

#include "engine/daemon/http_server.h"

#include <atomic>
#include <charconv>
#include <chrono>
#include <exception>
#include <map>
#include <optional>
#include <thread>
#include <utility>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace kubenat {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// A probe sends a few hundred bytes and waits a second or so; these bounds
// only keep a broken or hostile client from holding the thread's resources.
constexpr auto kRequestDeadline = std::chrono::seconds(10);
constexpr std::uint32_t kHeaderLimit = 8 * 1024;
constexpr int kMaxConnections = 64;
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);

using Routes = std::map<std::string, HttpHandler, std::less<>>;

HttpReply route(const Routes& routes, http::verb method, std::string_view target) {
  if (method != http::verb::get && method != http::verb::head) {
    return HttpReply{405, "text/plain; charset=utf-8", "method not allowed\n"};
  }
  const std::string_view path = target.substr(0, target.find('?'));
  const auto it = routes.find(path);
  // Go's net/http wording, which is what kube-proxy answers.
  if (it == routes.end()) return HttpReply{404, "text/plain; charset=utf-8", "404 page not found\n"};
  try {
    return it->second();
  } catch (const std::exception& error) {
    return HttpReply{500, "text/plain; charset=utf-8", std::string("internal error: ") + error.what() + "\n"};
  } catch (...) {
    return HttpReply{500, "text/plain; charset=utf-8", "internal error\n"};
  }
}

// One connection: read a request, answer it, and again while the client
// keeps the connection alive. Owned by the handlers it has pending; gone
// (socket closed) when none are left or the io_context is destroyed.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const Routes& routes, int& open_connections)
      : stream_(std::move(socket)), routes_(routes), open_connections_(open_connections) {
    ++open_connections_;
  }
  ~Session() { --open_connections_; }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void read() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    stream_.expires_after(kRequestDeadline);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

 private:
  void on_read(beast::error_code ec) {
    // End of stream, timeout, or a request we cannot parse: close.
    if (ec) return;
    const auto& request = parser_->get();
    const auto target = request.target();
    const HttpReply reply = route(routes_, request.method(), std::string_view(target.data(), target.size()));

    response_ = {};
    response_.version(request.version());
    response_.result(static_cast<unsigned>(reply.status));
    response_.set(http::field::content_type, reply.content_type);
    response_.set("X-Content-Type-Options", "nosniff");
    if (reply.status == 405) response_.set(http::field::allow, "GET, HEAD");
    response_.keep_alive(request.keep_alive());
    response_.content_length(reply.body.size());
    // HEAD: the same headers, no body.
    if (request.method() != http::verb::head) response_.body() = reply.body;

    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code write_ec, std::size_t) {
                        self->on_write(write_ec);
                      });
  }

  void on_write(beast::error_code ec) {
    if (ec) return;
    if (!response_.keep_alive()) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      return;
    }
    read();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> parser_;
  http::response<http::string_body> response_;
  const Routes& routes_;
  int& open_connections_;  // touched on the server thread only
};

}  // namespace

std::expected<BindAddress, std::string> parse_bind_address(std::string_view text) {
  const auto fail = [&](std::string_view why) {
    return std::unexpected("bind address \"" + std::string(text) + "\": " + std::string(why));
  };
  std::string_view host;
  std::string_view port_text;
  if (text.starts_with('[')) {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return fail("missing ']'");
    host = text.substr(1, close - 1);
    if (close + 1 >= text.size() || text[close + 1] != ':') return fail("expects [IPv6]:port");
    port_text = text.substr(close + 2);
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return fail("expects host:port");
    host = text.substr(0, colon);
    if (host.find(':') != std::string_view::npos) return fail("IPv6 addresses need brackets, as in [::]:10256");
    port_text = text.substr(colon + 1);
  }

  unsigned port = 0;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    return fail("invalid port \"" + std::string(port_text) + "\"");
  }

  std::string ip(host);
  if (ip.empty()) ip = "0.0.0.0";
  if (ip == "localhost") ip = "127.0.0.1";
  beast::error_code parse_error;
  const asio::ip::address address = asio::ip::make_address(ip, parse_error);
  if (parse_error) return fail("\"" + ip + "\" is not an IP address");
  if (text.starts_with('[') != address.is_v6()) return fail("IPv6 addresses need brackets, IPv4 ones none");
  return BindAddress{address.to_string(), static_cast<std::uint16_t>(port)};
}

struct HttpServer::Impl {
  std::string bind_text;
  Routes routes;
  std::unique_ptr<asio::io_context> io;
  std::optional<tcp::acceptor> acceptor;
  std::optional<asio::steady_timer> retry_timer;
  std::thread thread;
  std::atomic<std::uint16_t> port{0};
  int open_connections = 0;  // server thread only
  bool started = false;

  void accept() {
    acceptor->async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;  // stopping
      if (ec) {
        // Out of descriptors, say: back off instead of spinning.
        retry_timer->expires_after(kAcceptRetryDelay);
        retry_timer->async_wait([this](beast::error_code timer_ec) {
          if (!timer_ec) accept();
        });
        return;
      }
      if (open_connections < kMaxConnections) {
        std::make_shared<Session>(std::move(socket), routes, open_connections)->read();
      }
      // else: the socket closes here; the client retries.
      accept();
    });
  }
};

HttpServer::HttpServer(std::string bind_address) : impl_(std::make_unique<Impl>()) {
  impl_->bind_text = std::move(bind_address);
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::handle(std::string path, HttpHandler handler) {
  impl_->routes.insert_or_assign(std::move(path), std::move(handler));
}

std::expected<void, std::string> HttpServer::start() {
  Impl& impl = *impl_;
  if (impl.started) return std::unexpected("listen on " + impl.bind_text + ": already started");
  auto bind = parse_bind_address(impl.bind_text);
  if (!bind) return std::unexpected(bind.error());

  impl.io = std::make_unique<asio::io_context>(1);
  impl.acceptor.emplace(*impl.io);
  const auto fail = [&](const beast::error_code& ec) {
    impl.acceptor.reset();
    impl.io.reset();
    return std::unexpected("listen on " + impl.bind_text + ": " + ec.message());
  };

  const tcp::endpoint endpoint(asio::ip::make_address(bind->host), bind->port);
  beast::error_code ec;
  impl.acceptor->open(endpoint.protocol(), ec);
  if (ec) return fail(ec);
  // A restarted kubenat must not wait for TIME_WAIT connections to expire;
  // on Linux this still refuses a port another socket listens on.
  impl.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) return fail(ec);
  if (endpoint.address().is_v6() && endpoint.address().is_unspecified()) {
    // "[::]" means every address, IPv4 too, as with Go's net.Listen.
    impl.acceptor->set_option(asio::ip::v6_only(false), ec);
    if (ec) return fail(ec);
  }
  impl.acceptor->bind(endpoint, ec);
  if (ec) return fail(ec);
  impl.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail(ec);
  const tcp::endpoint local = impl.acceptor->local_endpoint(ec);
  if (ec) return fail(ec);
  impl.port = local.port();

  impl.retry_timer.emplace(*impl.io);
  impl.accept();
  impl.started = true;
  impl.thread = std::thread([io = impl.io.get()] { io->run(); });
  return {};
}

void HttpServer::stop() {
  Impl& impl = *impl_;
  if (!impl.io) return;
  impl.io->stop();
  if (impl.thread.joinable()) impl.thread.join();
  // Destroying the io_context destroys the pending handlers, and with them
  // the sessions and their sockets. The acceptor and timer go first: they
  // belong to it.
  impl.retry_timer.reset();
  impl.acceptor.reset();
  impl.io.reset();
}

std::uint16_t HttpServer::port() const { return impl_->port; }

}  // namespace kubenat
