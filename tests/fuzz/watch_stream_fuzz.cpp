// Fuzzes what an informer reads from the API server: a list response, then a
// watch stream's body cut into lines by the framing ApiClient::stream() uses
// (LineSplitter) and decoded by a real Informer as watch events (ADDED,
// MODIFIED, DELETED, BOOKMARK, ERROR) of Services, EndpointSlices, v1
// Endpoints or Nodes, reported to a listener that only counts.
//
// The input:
//   byte 0   bits 0-1: the resource (Services, EndpointSlices, Endpoints,
//            Nodes); bits 2-7: the size of the pieces the body arrives in,
//            1 to 64 bytes
//   byte 1   bits 0-2: the longest unfinished line, 256 << n bytes; bit 3:
//            the watch is answered with an HTTP error instead, 410 (bit 4
//            set) or 504, and the body is its Status
//   then     the list response's body, up to the first '\n'; later pages
//            of a paginated list are empty
//   then     the watch response's body
// One input is one pass: the transport answers one watch, then only
// "aborted", and the informer's backoff delays return at once, a few times.
//
// The seeds (corpus/watch_stream/) are written in this format from the
// objects and events of tests/watch/informer_test.cpp: each resource's list
// and ADDED, MODIFIED, DELETED and BOOKMARK events, ERROR events 410 Gone and
// 504 ResourceVersionTooLarge, the same two as HTTP statuses, '\r\n' lines,
// keep-alive blank lines and a last line without '\n', pieces of 1 to 64
// bytes, a paginated list, a list that does not parse, a line over the
// maximum, lines that are not events and objects that do not decode.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "watch/api_transport.h"
#include "watch/backoff.h"
#include "watch/cluster_listener.h"
#include "watch/informer.h"
#include "watch/line_splitter.h"

namespace kubenat {
namespace {

constexpr std::string_view kEmptyPage = R"({"kind":"List","metadata":{"resourceVersion":"1"},"items":[]})";

std::unexpected<TransportError> aborted() {
  return std::unexpected(TransportError{TransportFailure::Aborted, "the fuzz input is used up"});
}

// The API server of one input.
class OnePassTransport final : public ApiTransport {
 public:
  struct Watch {
    int status = 200;
    std::string_view body;
    std::size_t piece_bytes = 1;
    std::size_t max_line_bytes = 256;
  };
  OnePassTransport(std::string_view list_body, Watch watch) : list_body_(list_body), watch_(watch) {}

  std::expected<HttpResponse, TransportError> get(const std::string&) override {
    if (watched_) return aborted();
    HttpResponse response{200, std::string(listed_ ? kEmptyPage : list_body_)};
    listed_ = true;
    return response;
  }

  std::expected<StreamEnd, TransportError> stream(const std::string&, const LineHandler& on_line) override {
    if (watched_) return aborted();
    watched_ = true;
    if (watch_.status != 200) return StreamEnd{watch_.status, std::string(watch_.body), false};
    LineSplitter lines(watch_.max_line_bytes);
    for (std::size_t at = 0; at < watch_.body.size(); at += watch_.piece_bytes) {
      auto more = lines.feed(watch_.body.substr(at, watch_.piece_bytes), on_line);
      if (!more) return std::unexpected(TransportError{TransportFailure::Broken, more.error()});
      if (!*more) return StreamEnd{200, "", true};
    }
    return StreamEnd{200, "", !lines.finish(on_line)};
  }

  void abort() override { watched_ = true; }

 private:
  std::string_view list_body_;
  Watch watch_;
  bool listed_ = false;
  bool watched_ = false;
};

// Returns at once, a few times: enough for a failed list to be retried (on
// the empty page) before the watch, never a loop.
class CountingSleeper final : public Sleeper {
 public:
  bool sleep_for(std::chrono::milliseconds) override { return !cancelled_ && ++sleeps_ <= 3; }
  void cancel() override { cancelled_ = true; }

 private:
  int sleeps_ = 0;
  bool cancelled_ = false;
};

class CountingListener final : public ClusterListener {
 public:
  void service_changed(const ObjectName&, std::optional<Service>) override { ++reports; }
  void slice_changed(const ObjectName&, const std::string&, std::optional<EndpointSlice>) override { ++reports; }
  void node_changed(const std::string&, std::optional<Node>) override { ++reports; }
  void synced(WatchedResource) override { ++reports; }
  void diagnostics(const Diagnostics& diagnostics) override { reports += diagnostics.size(); }
  void incident(WatchedResource, WatchIncident, const std::string&) override { ++reports; }

  std::size_t reports = 0;
};

constexpr WatchedResource kResources[] = {WatchedResource::Services, WatchedResource::EndpointSlices,
                                          WatchedResource::Endpoints, WatchedResource::Nodes};

}  // namespace
}  // namespace kubenat

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kubenat;
  if (size < 2) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);
  const std::size_t newline = input.find('\n');
  const std::string_view list_body = input.substr(0, newline);
  OnePassTransport::Watch watch;
  watch.body = newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);
  watch.piece_bytes = (data[0] >> 2) + 1u;
  watch.max_line_bytes = std::size_t{256} << (data[1] & 7);
  if ((data[1] & 8) != 0) watch.status = (data[1] & 16) != 0 ? 410 : 504;

  InformerOptions options;
  options.resource = kResources[data[0] & 3];
  options.fall_back_to_endpoints = false;  // no discovery request
  options.backoff_seed = 1;
  OnePassTransport transport(list_body, watch);
  CountingListener listener;
  CountingSleeper sleeper;
  Informer informer(transport, listener, options, sleeper);
  informer.run();
  return 0;
}
