// The transport: sockets, HTTP/1.1 framing (Boost.Beast), TLS, threads and
// the faults that act on connections. The only file that includes Beast,
// which is slow to compile; what a request means is decided in handler.cpp.
//
// One thread per connection with blocking I/O: simple, and plenty for tests
// (a watch is a thread parked on its queue's condition variable). Sockets
// are closed only by their own thread, after they left the registry under
// the lock, so the faults that shut down descriptors from other threads can
// never hit a reused descriptor.

#include <poll.h>
#include <sys/socket.h>

#include <condition_variable>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "tools/apiserver_sim/apiserver_sim.h"
#include "tools/apiserver_sim/certificates.h"
#include "tools/apiserver_sim/handler.h"
#include "tools/apiserver_sim/store.h"
#include "tools/apiserver_sim/text.h"

namespace kubenat::apiserver_sim {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using nlohmann::json;

// Seeds and bulk writes can be large; anything larger is a mistake.
constexpr std::uint64_t kMaxBody = 512ull << 20;

std::string host_for_url(const std::string& host) {
  if (host == "0.0.0.0" || host.empty()) return "127.0.0.1";
  if (host == "::") return "[::1]";
  if (host.find(':') != std::string::npos) return "[" + host + "]";
  return host;
}

}  // namespace

struct ApiServerSim::Impl final : SimControl {
  explicit Impl(Options options)
      : options_(std::move(options)),
        store_(StoreOptions{options_.history_limit, options_.history_age, options_.node_port_range}),
        faults_(options_.faults) {}

  // --- SimControl --------------------------------------------------------

  void drop_watches() override {
    stats_.dropped(store_.open_watches());
    store_.drop_watches();
    // A reset rather than a FIN when the stream's thread closes the socket.
    std::lock_guard lock(mutex_);
    for (auto& [id, connection] : connections_) {
      if (connection.watching) set_linger_zero(connection.fd);
    }
  }

  void inject_garbage(bool close) override { store_.inject_garbage(close); }

  void restart(std::uint64_t jump) override {
    // Jump first: a client that reconnects at once must already get 410.
    store_.jump(jump);
    drop_watches();
  }

  void compact() override { store_.compact(); }

  void outage(std::chrono::milliseconds duration) override {
    {
      std::lock_guard lock(mutex_);
      offline_until_ = std::max(offline_until_, std::chrono::steady_clock::now() + duration);
      if (listen_fd_ >= 0) ::shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
    }
    changed_.notify_all();
    drop_watches();
    std::lock_guard lock(mutex_);
    for (auto& [id, connection] : connections_) {
      // Idle keep-alive connections wake from their read and are reset.
      set_linger_zero(connection.fd);
      ::shutdown(connection.fd, SHUT_RD);
    }
  }

  void set_faults(const FaultSettings& faults) override {
    std::lock_guard lock(faults_mutex_);
    faults_ = faults;
  }

  FaultSettings faults() const override {
    std::lock_guard lock(faults_mutex_);
    return faults_;
  }

  Stats stats() const override {
    Stats stats = stats_.snapshot();
    stats.open_watches = store_.open_watches();
    stats.resource_version = store_.resource_version();
    return stats;
  }

  void reset_stats() override { stats_.reset(); }

  // --- Lifecycle ---------------------------------------------------------

  std::expected<void, std::string> listen() {
    boost::system::error_code ec;
    const net::ip::address address = net::ip::make_address(options_.host, ec);
    if (ec) return std::unexpected("listen: \"" + options_.host + "\" is not an IP address");
    endpoint_ = tcp::endpoint(address, options_.port);
    acceptor_.emplace(io_);
    if (auto opened = open_acceptor(); !opened) return opened;
    endpoint_ = acceptor_->local_endpoint(ec);
    if (options_.tls) {
      auto certificates = generate_certificates(options_.host);
      if (!certificates) return std::unexpected(certificates.error());
      certificates_ = std::move(*certificates);
      ssl_.emplace(net::ssl::context::tls_server);
      ssl_->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                        net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 | net::ssl::context::no_tlsv1_1);
      ssl_->use_certificate_chain(net::buffer(certificates_.cert_pem), ec);
      if (!ec) ssl_->use_private_key(net::buffer(certificates_.key_pem), net::ssl::context::pem, ec);
      if (ec) return std::unexpected("tls: " + ec.message());
    }
    HandlerConfig config{options_.token, options_.kubernetes_version,
                         host_for_url(options_.host) + ":" + std::to_string(endpoint_.port()),
                         options_.bookmark_interval, options_.watch_timeout};
    handler_.emplace(std::move(config), store_, stats_, *this);
    accept_thread_ = std::thread([this] { accept_loop(); });
    return {};
  }

  void stop() {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      stopping_ = true;
      if (listen_fd_ >= 0) ::shutdown(listen_fd_, SHUT_RDWR);
    }
    changed_.notify_all();
    if (accept_thread_.joinable()) accept_thread_.join();
    store_.stop_watches();  // watches end with their final chunk where they can
    std::map<std::uint64_t, std::thread> threads;
    {
      std::lock_guard lock(mutex_);
      for (auto& [id, connection] : connections_) ::shutdown(connection.fd, SHUT_RDWR);
      threads.swap(threads_);
      finished_.clear();
    }
    for (auto& [id, thread] : threads) thread.join();
  }

  std::string url() const {
    return std::string(options_.tls ? "https://" : "http://") + host_for_url(options_.host) + ":" +
           std::to_string(endpoint_.port());
  }

  // --- Threads -------------------------------------------------------------

  std::expected<void, std::string> open_acceptor() {
    boost::system::error_code ec;
    const std::string where = options_.host + ":" + std::to_string(endpoint_.port());
    acceptor_->open(endpoint_.protocol(), ec);
    if (!ec) acceptor_->set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_->bind(endpoint_, ec);
    if (!ec) acceptor_->listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      boost::system::error_code ignored;
      acceptor_->close(ignored);
      return std::unexpected("listen " + where + ": " + ec.message());
    }
    std::lock_guard lock(mutex_);
    listen_fd_ = acceptor_->native_handle();
    return {};
  }

  void accept_loop() {
    while (true) {
      {
        std::unique_lock lock(mutex_);
        if (stopping_) break;
        if (offline_until_ > std::chrono::steady_clock::now()) {
          if (acceptor_->is_open()) {
            boost::system::error_code ignored;
            acceptor_->close(ignored);  // new connections are refused from now
            listen_fd_ = -1;
          }
          changed_.wait_until(lock, offline_until_, [&] {
            return stopping_ || offline_until_ <= std::chrono::steady_clock::now();
          });
          continue;
        }
      }
      if (!acceptor_->is_open()) {
        if (auto opened = open_acceptor(); !opened) {
          std::cerr << "kubenat-apiserver-sim: " << opened.error() << "; retrying\n";
          std::unique_lock lock(mutex_);
          changed_.wait_for(lock, std::chrono::milliseconds(100), [&] { return stopping_; });
          continue;
        }
      }
      tcp::socket socket(io_);
      boost::system::error_code ec;
      acceptor_->accept(socket, ec);
      if (ec) {
        // Woken by stop() or outage() (the loop sees why), or out of
        // descriptors: wait a little instead of spinning.
        std::unique_lock lock(mutex_);
        if (!stopping_ && offline_until_ <= std::chrono::steady_clock::now()) {
          changed_.wait_for(lock, std::chrono::milliseconds(10));
        }
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
      join_finished_threads();
      std::lock_guard registry_lock(mutex_);
      const std::uint64_t id = next_id_++;
      connections_[id] = Connection{socket.native_handle(), false};
      // Registered under the lock, so the thread cannot report itself
      // finished before it is in the map.
      threads_.emplace(id, std::thread([this, id, connection = std::move(socket)]() mutable {
                         serve_connection(id, connection);
                         {
                           std::lock_guard lock(mutex_);
                           connections_.erase(id);
                         }
                         boost::system::error_code ignored;
                         connection.close(ignored);
                         std::lock_guard lock(mutex_);
                         finished_.push_back(id);
                       }));
    }
  }

  // Connection threads are joined, never detached: a thread's exit still
  // runs OpenSSL's per-thread cleanup, which must not overlap the process's
  // own cleanup of the same locks at exit.
  void join_finished_threads() {
    std::vector<std::thread> done;
    {
      std::lock_guard lock(mutex_);
      for (const std::uint64_t id : finished_) {
        auto node = threads_.extract(id);
        if (!node.empty()) done.push_back(std::move(node.mapped()));
      }
      finished_.clear();
    }
    for (auto& thread : done) thread.join();
  }

  void serve_connection(std::uint64_t id, tcp::socket& socket) {
    if (!ssl_) {
      serve(socket, id, socket);
      return;
    }
    net::ssl::stream<tcp::socket&> stream(socket, *ssl_);
    boost::system::error_code ec;
    stream.handshake(net::ssl::stream_base::server, ec);
    if (!ec) serve(stream, id, socket);
  }

  template <class Stream>
  void serve(Stream& stream, std::uint64_t id, tcp::socket& socket) {
    beast::flat_buffer buffer;
    while (true) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(kMaxBody);
      beast::error_code ec;
      http::read(stream, buffer, parser, ec);
      if (ec) return;  // closed, reset, shut down or not HTTP
      http::request<http::string_body> request = parser.release();
      HttpRequest in{std::string(request.method_string()),
                     std::string(request.target()),
                     std::string(request[http::field::accept]),
                     std::string(request[http::field::content_type]),
                     std::string(request[http::field::authorization]),
                     std::move(request.body())};
      Handler::Outcome outcome = handler_->handle(in);
      if (auto* response = std::get_if<HttpResponse>(&outcome)) {
        http::response<http::string_body> out{static_cast<http::status>(response->status), request.version()};
        out.set(http::field::server, "kubenat-apiserver-sim");
        out.set(http::field::content_type, response->content_type);
        out.set(http::field::cache_control, "no-cache, private");
        out.keep_alive(request.keep_alive());
        out.body() = std::move(response->body);
        out.prepare_payload();
        http::write(stream, out, ec);
        if (response->after) response->after();
        if (ec || !out.keep_alive()) return;
        continue;
      }
      auto watch = std::move(std::get<std::unique_ptr<WatchStream>>(outcome));
      set_watching(id, true);
      const bool complete = stream_watch(stream, socket, request, *watch);
      watch.reset();  // unregisters before the connection is reused or closed
      set_watching(id, false);
      if (!complete || !request.keep_alive()) return;
    }
  }

  // Returns whether the response was completed (the connection may be reused).
  template <class Stream>
  bool stream_watch(Stream& stream, tcp::socket& socket, const http::request<http::string_body>& request,
                    WatchStream& watch) {
    http::response<http::empty_body> head{http::status::ok, request.version()};
    head.set(http::field::server, "kubenat-apiserver-sim");
    head.set(http::field::content_type, "application/json");
    head.set(http::field::cache_control, "no-cache, private");
    head.keep_alive(request.keep_alive());
    head.chunked(true);
    http::response_serializer<http::empty_body> serializer{head};
    beast::error_code ec;
    http::write_header(stream, serializer, ec);
    if (ec) return false;
    while (true) {
      WatchStream::Step step = watch.next();
      switch (step.kind) {
        case WatchStream::Step::Kind::Data:
          net::write(stream, http::make_chunk(net::buffer(step.data)), ec);
          if (ec) return false;
          break;
        case WatchStream::Step::Kind::End:
          net::write(stream, http::make_chunk_last(), ec);
          return !ec;
        case WatchStream::Step::Kind::Drop:
          set_linger_zero(socket.native_handle());
          return false;
        case WatchStream::Step::Kind::Idle:
          if (peer_closed(socket.native_handle())) return false;
          break;
      }
    }
  }

  void set_watching(std::uint64_t id, bool watching) {
    std::lock_guard lock(mutex_);
    if (auto it = connections_.find(id); it != connections_.end()) it->second.watching = watching;
  }

  // Whether the client has closed or reset its end (a watch client never
  // sends anything once its request is in).
  static bool peer_closed(int fd) {
    pollfd poller{fd, POLLRDHUP, 0};
    return ::poll(&poller, 1, 0) > 0 && (poller.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
  }

  static void set_linger_zero(int fd) {
    const linger option{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, sizeof option);
  }

  const Options options_;
  Store store_;
  StatsRecorder stats_;
  mutable std::mutex faults_mutex_;
  FaultSettings faults_;
  std::optional<Handler> handler_;
  Certificates certificates_;
  std::optional<net::ssl::context> ssl_;
  // Sockets need an io_context; nothing runs it (all I/O is blocking).
  net::io_context io_;
  std::optional<tcp::acceptor> acceptor_;  // used by the accept thread only, once started
  tcp::endpoint endpoint_;
  std::thread accept_thread_;

  struct Connection {
    int fd = -1;
    bool watching = false;
  };
  std::mutex mutex_;  // guards what follows
  std::condition_variable changed_;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point offline_until_{};
  int listen_fd_ = -1;
  std::map<std::uint64_t, Connection> connections_;
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, std::thread> threads_;  // one per connection
  std::vector<std::uint64_t> finished_;           // threads_ that are done and not yet joined
};

// --- ApiServerSim ------------------------------------------------------------

std::expected<std::unique_ptr<ApiServerSim>, std::string> ApiServerSim::start(Options options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  if (auto listening = impl->listen(); !listening) return std::unexpected(listening.error());
  return std::unique_ptr<ApiServerSim>(new ApiServerSim(std::move(impl)));
}

ApiServerSim::ApiServerSim(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ApiServerSim::~ApiServerSim() { stop(); }

void ApiServerSim::stop() { impl_->stop(); }

int ApiServerSim::port() const { return impl_->endpoint_.port(); }

std::string ApiServerSim::url() const { return impl_->url(); }

std::string ApiServerSim::ca_pem() const { return impl_->certificates_.ca_pem; }

std::string ApiServerSim::kubeconfig() const {
  std::string cluster = "    server: " + url() + "\n";
  if (impl_->options_.tls) cluster += "    certificate-authority-data: " + base64_encode(ca_pem()) + "\n";
  const std::string user = impl_->options_.token.empty() ? "  user: {}\n" : "  user:\n    token: " + json(impl_->options_.token).dump() + "\n";
  return "apiVersion: v1\n"
         "kind: Config\n"
         "clusters:\n"
         "- name: kubenat-sim\n"
         "  cluster:\n" +
         cluster +
         "contexts:\n"
         "- name: kubenat-sim\n"
         "  context:\n"
         "    cluster: kubenat-sim\n"
         "    user: kubenat-sim\n"
         "    namespace: default\n"
         "current-context: kubenat-sim\n"
         "users:\n"
         "- name: kubenat-sim\n" +
         user + "preferences: {}\n";
}

std::expected<void, std::string> ApiServerSim::write_kubeconfig(const std::string& path) const {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return std::unexpected("kubeconfig " + path + ": cannot open for writing");
  out << kubeconfig();
  out.close();
  if (!out) return std::unexpected("kubeconfig " + path + ": write failed");
  return {};
}

std::expected<std::size_t, std::string> ApiServerSim::seed(const json& list) {
  auto stored = impl_->store_.seed(list);
  if (!stored) return std::unexpected(stored.error().message);
  return *stored;
}

std::expected<std::size_t, std::string> ApiServerSim::seed_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected(path + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  auto document = parse_document(text.str());
  if (!document) return std::unexpected(path + ": " + document.error());
  auto stored = seed(*document);
  if (!stored) return std::unexpected(path + ": " + stored.error());
  return stored;
}

namespace {

ApiError unknown_kind(const json& object) {
  return ApiError{400, "BadRequest",
                  "no resource for apiVersion \"" + object.value("apiVersion", std::string()) + "\" kind \"" +
                      object.value("kind", std::string()) + "\"",
                  nullptr};
}

std::string namespace_of(const json& object) {
  if (!object.contains("metadata") || !object["metadata"].is_object()) return "";
  return object["metadata"].value("namespace", std::string());
}

}  // namespace

std::expected<json, ApiError> ApiServerSim::create(const json& object) {
  if (!object.is_object()) return std::unexpected(unknown_kind(json::object()));
  auto resource = find_resource_by_kind(object.value("apiVersion", ""), object.value("kind", ""));
  if (!resource) return std::unexpected(unknown_kind(object));
  auto stored = impl_->store_.create(*resource, namespace_of(object), object, false);
  if (!stored) return std::unexpected(stored.error());
  return (*stored)->object;
}

std::expected<json, ApiError> ApiServerSim::replace(const json& object) {
  if (!object.is_object()) return std::unexpected(unknown_kind(json::object()));
  auto resource = find_resource_by_kind(object.value("apiVersion", ""), object.value("kind", ""));
  if (!resource) return std::unexpected(unknown_kind(object));
  std::string namespace_name = namespace_of(object);
  if (resource_type(*resource).namespaced && namespace_name.empty()) namespace_name = "default";
  const std::string name = object.contains("metadata") ? object["metadata"].value("name", std::string()) : "";
  auto stored = impl_->store_.replace(*resource, namespace_name, name, object, false, false);
  if (!stored) return std::unexpected(stored.error());
  return (*stored)->object;
}

namespace {

std::expected<ResourceId, ApiError> resource_by_plural(const std::string& plural) {
  auto resource = find_resource_by_plural(plural);
  if (!resource) return std::unexpected(ApiError{404, "NotFound", "no resource \"" + plural + "\"", nullptr});
  return *resource;
}

}  // namespace

std::expected<json, ApiError> ApiServerSim::remove(const std::string& resource, const std::string& namespace_name,
                                                   const std::string& name) {
  auto id = resource_by_plural(resource);
  if (!id) return std::unexpected(id.error());
  auto removed = impl_->store_.remove(*id, namespace_name, name, nullptr, false);
  if (!removed) return std::unexpected(removed.error());
  return (*removed)->object;
}

std::expected<json, ApiError> ApiServerSim::get(const std::string& resource, const std::string& namespace_name,
                                                const std::string& name) const {
  auto id = resource_by_plural(resource);
  if (!id) return std::unexpected(id.error());
  auto object = impl_->store_.get(*id, namespace_name, name);
  if (!object) return std::unexpected(object.error());
  return (*object)->object;
}

std::expected<json, ApiError> ApiServerSim::list(const std::string& resource, const std::string& namespace_name) const {
  auto id = resource_by_plural(resource);
  if (!id) return std::unexpected(id.error());
  ListOptions options;
  options.selection.namespace_name = namespace_name;
  auto result = impl_->store_.list(*id, options);
  if (!result) return std::unexpected(result.error());
  const ResourceType& type = resource_type(*id);
  json items = json::array();
  for (const ObjectPtr& item : result->items) items.push_back(item->object);
  return json{{"kind", type.list_kind()},
              {"apiVersion", type.api_version()},
              {"metadata", {{"resourceVersion", std::to_string(result->resource_version)}}},
              {"items", std::move(items)}};
}

std::uint64_t ApiServerSim::resource_version() const { return impl_->store_.resource_version(); }

void ApiServerSim::drop_watches() { impl_->drop_watches(); }
void ApiServerSim::inject_garbage(bool close) { impl_->inject_garbage(close); }
void ApiServerSim::restart(std::uint64_t jump) { impl_->restart(jump); }
void ApiServerSim::compact() { impl_->compact(); }
void ApiServerSim::outage(std::chrono::milliseconds duration) { impl_->outage(duration); }
void ApiServerSim::set_faults(const FaultSettings& faults) { impl_->set_faults(faults); }
FaultSettings ApiServerSim::faults() const { return impl_->faults(); }
Stats ApiServerSim::stats() const { return impl_->stats(); }
void ApiServerSim::reset_stats() { impl_->reset_stats(); }

}  // namespace kubenat::apiserver_sim
