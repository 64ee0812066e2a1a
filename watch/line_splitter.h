#pragma once

// The framing of a watch stream: the response body cut into lines at '\n',
// whatever the sizes of the pieces it arrives in. ApiClient::stream() feeds
// it what each read returns; it is apart from the socket so that tests and
// the fuzzer can feed it any bytes in any pieces.

#include <cstddef>
#include <expected>
#include <string>
#include <string_view>

#include "watch/api_transport.h"

namespace kubenat {

class LineSplitter {
 public:
  // A line still without its '\n' after more than `max_line_bytes` is an
  // error (a server that never ends a line would otherwise fill the memory).
  explicit LineSplitter(std::size_t max_line_bytes) : max_line_bytes_(max_line_bytes) {}

  // Adds the next piece of the body and calls on_line for every line it
  // completes, without the '\n' and without a '\r' before it. Returns true to
  // go on, false once on_line returned false (the rest of this piece is not
  // read; nor is any later piece to be fed); the error "a line longer than N
  // bytes" when the unfinished line at the end of the piece is longer than the
  // maximum. An exception from on_line propagates.
  [[nodiscard]] std::expected<bool, std::string> feed(std::string_view bytes, const LineHandler& on_line);

  // The body has ended: its last line, if it did not end with '\n', goes to
  // on_line (without a trailing '\r'; an empty one is not delivered).
  // Returns what on_line returned, true when it was not called.
  [[nodiscard]] bool finish(const LineHandler& on_line);

 private:
  std::size_t max_line_bytes_;
  std::string pending_;  // the start of a line whose '\n' has not arrived yet
};

}  // namespace kubenat
