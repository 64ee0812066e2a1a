// The only file that includes Boost.Beast in engine/: it is slow to compile.

#include "engine/daemon/http_server.h"

#include <atomic>
#include <charconv>
#include <chrono>
#include <exception>
#include <functional>
#include <future>
#include <map>
#include <optional>
#include <thread>
#include <utility>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
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

HttpReply route(const Routes& routes, http::verb method, std::string_view target);

// What answers on one listening socket, shared by its connections: they may
// outlive the listener (a closed health-check port answers the requests it
// already read).
struct Responder {
  std::function<HttpReply(http::verb method, std::string_view target)> respond;
  int open_connections = 0;  // touched on the serving thread only
};

// One connection: read a request, answer it, and again while the client
// keeps the connection alive. Owned by the handlers it has pending; gone
// (socket closed) when none are left or the io_context is destroyed.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<Responder> responder)
      : stream_(std::move(socket)), responder_(std::move(responder)) {
    ++responder_->open_connections;
  }
  ~Session() { --responder_->open_connections; }
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
    const HttpReply reply = responder_->respond(request.method(), std::string_view(target.data(), target.size()));

    response_ = {};
    response_.version(request.version());
    response_.result(static_cast<unsigned>(reply.status));
    response_.set(http::field::content_type, reply.content_type);
    response_.set("X-Content-Type-Options", "nosniff");
    for (const auto& [name, value] : reply.headers) response_.set(name, value);
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
  std::shared_ptr<Responder> responder_;
};

// A handler's reply, or a 500 when it throws.
HttpReply call(const HttpHandler& handler) {
  try {
    return handler();
  } catch (const std::exception& error) {
    return HttpReply{500, "text/plain; charset=utf-8", std::string("internal error: ") + error.what() + "\n"};
  } catch (...) {
    return HttpReply{500, "text/plain; charset=utf-8", "internal error\n"};
  }
}

// A listening socket and its accept loop, on one io_context.
struct Listener {
  Listener(asio::io_context& io, std::shared_ptr<Responder> responder_)
      : acceptor(io), retry_timer(io), responder(std::move(responder_)) {}

  // Binds and listens; "[::]" also takes IPv4 unless `v6_only`. The error
  // names the address.
  std::expected<std::uint16_t, std::string> open(const std::string& bind_text, bool v6_only) {
    auto bind = parse_bind_address(bind_text);
    if (!bind) return std::unexpected(bind.error());
    const auto fail = [&](const beast::error_code& ec) {
      beast::error_code ignored;
      acceptor.close(ignored);
      return std::unexpected("listen on " + bind_text + ": " + ec.message());
    };
    const tcp::endpoint endpoint(asio::ip::make_address(bind->host), bind->port);
    beast::error_code ec;
    acceptor.open(endpoint.protocol(), ec);
    if (ec) return fail(ec);
    // A restarted kubenat must not wait for TIME_WAIT connections to expire;
    // on Linux this still refuses a port another socket listens on.
    acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (ec) return fail(ec);
    if (endpoint.address().is_v6()) {
      acceptor.set_option(asio::ip::v6_only(v6_only || !endpoint.address().is_unspecified()), ec);
      if (ec) return fail(ec);
    }
    acceptor.bind(endpoint, ec);
    if (ec) return fail(ec);
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return fail(ec);
    const tcp::endpoint local = acceptor.local_endpoint(ec);
    if (ec) return fail(ec);
    accept();
    return local.port();
  }

  void accept() {
    // The handlers may run after close() destroyed the listener: they look
    // at `alive`, which they share, before they touch it.
    acceptor.async_accept([this, alive = alive](beast::error_code ec, tcp::socket socket) {
      if (!*alive || ec == asio::error::operation_aborted) return;
      if (ec) {
        // Out of descriptors, say: back off instead of spinning.
        retry_timer.expires_after(kAcceptRetryDelay);
        retry_timer.async_wait([this, alive = alive](beast::error_code timer_ec) {
          if (*alive && !timer_ec) accept();
        });
        return;
      }
      if (responder->open_connections < kMaxConnections) {
        std::make_shared<Session>(std::move(socket), responder)->read();
      }
      // else: the socket closes here; the client retries.
      accept();
    });
  }

  void close() {
    *alive = false;
    beast::error_code ignored;
    acceptor.close(ignored);
    retry_timer.cancel();
  }

  std::shared_ptr<bool> alive = std::make_shared<bool>(true);
  tcp::acceptor acceptor;
  asio::steady_timer retry_timer;
  std::shared_ptr<Responder> responder;
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
  std::unique_ptr<Listener> listener;
  std::thread thread;
  std::atomic<std::uint16_t> port{0};
  bool started = false;
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
  impl.io = std::make_unique<asio::io_context>(1);
  auto responder = std::make_shared<Responder>();
  responder->respond = [&routes = impl.routes](http::verb method, std::string_view target) {
    return route(routes, method, target);
  };
  impl.listener = std::make_unique<Listener>(*impl.io, std::move(responder));
  // "[::]" means every address, IPv4 too, as with Go's net.Listen.
  auto port = impl.listener->open(impl.bind_text, false);
  if (!port) {
    impl.listener.reset();
    impl.io.reset();
    return std::unexpected(port.error());
  }
  impl.port = *port;
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
  // the sessions and their sockets. The listener goes first: it belongs to
  // it.
  impl.listener.reset();
  impl.io.reset();
}

std::uint16_t HttpServer::port() const { return impl_->port; }

namespace {

HttpReply route(const Routes& routes, http::verb method, std::string_view target) {
  if (method != http::verb::get && method != http::verb::head) {
    return HttpReply{405, "text/plain; charset=utf-8", "method not allowed\n"};
  }
  const std::string_view path = target.substr(0, target.find('?'));
  const auto it = routes.find(path);
  // Go's net/http wording, which is what kube-proxy answers.
  if (it == routes.end()) return HttpReply{404, "text/plain; charset=utf-8", "404 page not found\n"};
  return call(it->second);
}

}  // namespace

struct HttpListeners::Impl {
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
  std::map<Id, std::unique_ptr<Listener>> listeners;  // serving thread only
  Id next_id = 1;                                      // serving thread only
  std::atomic<std::size_t> size{0};
  std::thread thread;

  // Runs `task` on the serving thread and waits for it.
  template <class Task>
  auto on_thread(Task task) -> decltype(task()) {
    std::packaged_task<decltype(task())()> packaged(std::move(task));
    auto result = packaged.get_future();
    asio::post(io, [&packaged] { packaged(); });
    return result.get();
  }
};

HttpListeners::HttpListeners() : impl_(std::make_unique<Impl>()) {
  impl_->thread = std::thread([io = &impl_->io] { io->run(); });
}

HttpListeners::~HttpListeners() {
  impl_->on_thread([this] {
    for (auto& [id, listener] : impl_->listeners) listener->close();
  });
  impl_->work.reset();
  impl_->io.stop();
  impl_->thread.join();
  // The listeners go before the io_context they belong to.
  impl_->listeners.clear();
}

std::expected<HttpListeners::Listening, std::string> HttpListeners::listen(const std::string& bind_address,
                                                                           HttpHandler handler) {
  return impl_->on_thread([&]() -> std::expected<Listening, std::string> {
    auto responder = std::make_shared<Responder>();
    responder->respond = [handler = std::move(handler)](http::verb, std::string_view) { return call(handler); };
    auto listener = std::make_unique<Listener>(impl_->io, std::move(responder));
    // Each family's port its own socket: a "[::]" listener leaves IPv4 to
    // the IPv4 one.
    auto port = listener->open(bind_address, true);
    if (!port) return std::unexpected(port.error());
    const Id id = impl_->next_id++;
    impl_->listeners.emplace(id, std::move(listener));
    impl_->size = impl_->listeners.size();
    return Listening{id, *port};
  });
}

void HttpListeners::close(Id id) {
  impl_->on_thread([&] {
    auto it = impl_->listeners.find(id);
    if (it == impl_->listeners.end()) return;
    it->second->close();
    impl_->listeners.erase(it);
    impl_->size = impl_->listeners.size();
  });
}

std::size_t HttpListeners::size() const { return impl_->size; }

}  // namespace kubenat
