#pragma once

// An ApiTransport that plays a script: each request gets the next scripted
// reply, and is checked against the path the script expects. When the script
// runs out, on_exhausted runs (tests stop the informer there) and the request
// fails as aborted, so Informer::run() returns on the test's own thread.

#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "watch/api_transport.h"

namespace kubenat::testing {

class ScriptedTransport final : public ApiTransport {
 public:
  // get(): answers `status` with `body`.
  ScriptedTransport& on_get(std::string expect, int status, std::string body) {
    steps_.push_back({false, std::move(expect), status, std::move(body), {}, std::nullopt});
    return *this;
  }
  // get() or stream(): fails.
  ScriptedTransport& on_get_fail(std::string expect, TransportFailure failure, std::string message = "scripted") {
    steps_.push_back({false, std::move(expect), 0, {}, {}, TransportError{failure, std::move(message)}});
    return *this;
  }
  // stream(): delivers `lines`, then ends normally (status 200), or with
  // `error` after the lines.
  ScriptedTransport& on_watch(std::string expect, std::vector<std::string> lines,
                              std::optional<TransportFailure> error = std::nullopt) {
    std::optional<TransportError> failure;
    if (error) {
      failure = TransportError{*error, "scripted"};
    }
    steps_.push_back({true, std::move(expect), 200, {}, std::move(lines), failure});
    return *this;
  }
  // stream(): a non-2xx answer.
  ScriptedTransport& on_watch_status(std::string expect, int status, std::string body) {
    steps_.push_back({true, std::move(expect), status, std::move(body), {}, std::nullopt});
    return *this;
  }

  std::function<void()> on_exhausted;

  // "GET <path>" and "WATCH <path>", in order.
  const std::vector<std::string>& requests() const { return requests_; }
  bool exhausted() const { return steps_.empty(); }

  std::expected<HttpResponse, TransportError> get(const std::string& path) override {
    requests_.push_back("GET " + path);
    if (aborted_) {
      return std::unexpected(TransportError{TransportFailure::Aborted, "aborted"});
    }
    std::optional<Step> step = next(false, path);
    if (!step) {
      return std::unexpected(TransportError{TransportFailure::Aborted, "script exhausted"});
    }
    if (step->error) {
      return std::unexpected(*step->error);
    }
    return HttpResponse{step->status, step->body};
  }

  std::expected<StreamEnd, TransportError> stream(const std::string& path, const LineHandler& on_line) override {
    requests_.push_back("WATCH " + path);
    if (aborted_) {
      return std::unexpected(TransportError{TransportFailure::Aborted, "aborted"});
    }
    std::optional<Step> step = next(true, path);
    if (!step) {
      return std::unexpected(TransportError{TransportFailure::Aborted, "script exhausted"});
    }
    if (step->status < 200 || step->status >= 300) {
      return StreamEnd{step->status, step->body, false};
    }
    for (const std::string& line : step->lines) {
      if (!on_line(line)) {
        return StreamEnd{step->status, "", true};
      }
    }
    if (step->error) {
      return std::unexpected(*step->error);
    }
    return StreamEnd{step->status, "", false};
  }

  void abort() override { aborted_ = true; }

 private:
  struct Step {
    bool stream = false;
    std::string expect;  // a substring of the path
    int status = 200;
    std::string body;
    std::vector<std::string> lines;
    std::optional<TransportError> error;
  };

  std::optional<Step> next(bool stream, const std::string& path) {
    if (steps_.empty()) {
      if (on_exhausted) {
        on_exhausted();
      }
      return std::nullopt;
    }
    Step step = std::move(steps_.front());
    steps_.pop_front();
    EXPECT_EQ(step.stream, stream) << "request " << requests_.size() << ": " << path;
    EXPECT_NE(path.find(step.expect), std::string::npos)
        << "request " << requests_.size() << ": expected a path containing \"" << step.expect << "\", got " << path;
    return step;
  }

  std::deque<Step> steps_;
  std::vector<std::string> requests_;
  std::atomic<bool> aborted_{false};
};

}  // namespace kubenat::testing
