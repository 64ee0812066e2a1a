#pragma once

// The one seam between the informers and the network: GET a resource, or
// stream a watch line by line. ApiClient (api_client.h) implements it over
// HTTP/1.1; the informer tests use a scripted fake.

#include <expected>
#include <functional>
#include <string>
#include <string_view>

namespace kubenat {

struct HttpResponse {
  int status = 0;
  std::string body;
};

enum class TransportFailure {
  Unreachable,  // no connection: resolve, connect or TLS handshake failed or timed out
  Broken,       // connected, but the request or response failed, timed out or was malformed
  Aborted,      // abort() was called
};

struct TransportError {
  TransportFailure failure = TransportFailure::Broken;
  std::string message;  // what failed and why, naming the server
};

// How a stream ended when it did not fail.
struct StreamEnd {
  int status = 0;
  // The response body when status is not 2xx (then no line was delivered); a
  // Kubernetes Status object, usually.
  std::string body;
  // on_line returned false: the rest of the response was not read.
  bool stopped = false;
};

// Called with each complete line of a streamed body, without the '\n'. Return
// false to stop reading.
using LineHandler = std::function<bool(std::string_view line)>;

class ApiTransport {
 public:
  virtual ~ApiTransport() = default;

  // GETs `path_and_query` ("/api/v1/services?limit=500") and reads the whole
  // response. Any HTTP status is a response; errors are for failures to
  // exchange one.
  [[nodiscard]] virtual std::expected<HttpResponse, TransportError> get(const std::string& path_and_query) = 0;

  // GETs `path_and_query` and, when the status is 2xx, calls on_line for
  // every line of the body as soon as the line is complete, until the server
  // ends the response (a final line without '\n' is delivered too), on_line
  // returns false, or an error. A 2xx response cut short is an error
  // (TransportFailure::Broken), after the lines that did arrive. An exception
  // from on_line propagates (the connection is closed first).
  [[nodiscard]] virtual std::expected<StreamEnd, TransportError> stream(const std::string& path_and_query,
                                                                        const LineHandler& on_line) = 0;

  // Callable from any thread: makes a get() or stream() in progress return
  // TransportFailure::Aborted promptly, and every later call too. Final.
  virtual void abort() = 0;
};

}  // namespace kubenat
