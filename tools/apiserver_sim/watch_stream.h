#pragma once

// One watch response, as text: what the connection's thread writes, chunk by
// chunk. Knows nothing of sockets: next() blocks until there is something to
// send, or says the response ends (cleanly, or cut for a fault).

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "tools/apiserver_sim/apiserver_sim.h"
#include "tools/apiserver_sim/store.h"

namespace kubenat::apiserver_sim {

struct WatchStreamOptions {
  bool bookmarks = false;  // allowWatchBookmarks=true
  std::chrono::milliseconds bookmark_interval{1000};
  // sendInitialEvents=true: after the synthetic ADDED events, a BOOKMARK
  // annotated k8s.io/initial-events-end (the streaming-list protocol).
  bool initial_events_end = false;
  // timeoutSeconds (or the server's watch timeout): the response ends then.
  std::optional<std::chrono::steady_clock::time_point> deadline;
  // Renders an object for an event; by default its stored JSON text. kubectl
  // get -w asks for Tables, one row per event.
  std::function<std::string(const StoredObject&)> render;
  // The faults in force; read for every batch.
  std::function<FaultSettings()> faults;
};

class WatchStream {
 public:
  // Takes over a registered watch (or an expired one: then the stream is
  // one ERROR event). Unregisters it when destroyed.
  WatchStream(Store& store, WatchStart start, WatchStreamOptions options);
  ~WatchStream();
  WatchStream(const WatchStream&) = delete;
  WatchStream& operator=(const WatchStream&) = delete;

  struct Step {
    enum class Kind {
      Data,  // write `data` as a chunk, then call next() again
      End,   // write the final chunk: the response is complete
      Drop,  // cut the connection: no final chunk, reset if possible
      Idle,  // nothing to send for a while: check the client is still there, then call next() again
    };
    Kind kind = Kind::End;
    std::string data;
  };
  Step next();

  // The garbage lines a fault injects: not JSON, then JSON cut short.
  static const std::string& garbage();

 private:
  std::string event_line(std::string_view type, const StoredObject& object) const;
  std::string bookmark_line(std::uint64_t resource_version, bool initial_events_end) const;
  // The event as this watcher sees it: selections turn a MODIFIED into an
  // ADDED or DELETED when the object enters or leaves them; nullopt when it
  // is not this watcher's business.
  std::optional<std::string_view> visible_type(const Event& event) const;

  Store& store_;
  WatchStart start_;
  WatchStreamOptions options_;
  bool started_ = false;
  bool ending_ = false;
  std::uint64_t last_resource_version_ = 0;
  std::uint64_t events_sent_ = 0;
  std::chrono::steady_clock::time_point next_bookmark_;
};

// How long next() waits with nothing to send before it returns Idle.
inline constexpr std::chrono::milliseconds kWatchIdleCheck{1000};

}  // namespace kubenat::apiserver_sim
