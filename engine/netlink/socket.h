#pragma once

// The one netlink socket layer: every conversation kubenat has with the
// kernel over netlink (nf_tables batches and queries, rtnetlink routes)
// goes through a NetlinkSocket. It owns the socket, matches answers to
// requests by sequence number, reads the kernel's extended ACKs, and sends
// a batch as one datagram. What the messages say is the caller's business
// (engine/nftables/, engine/routes/).

#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

struct mnl_socket;
struct nlmsghdr;

namespace kubenat {

// A failed exchange with the kernel: the errno (0 when the failure is not
// one) and what failed, naming the syscall or quoting the kernel.
struct NetlinkError {
  int code = 0;
  std::string message;
};

// "No such file or directory (ENOENT)".
std::string describe_errno(int code);

// The kernel's answer to one message (NLMSG_ERROR): an acknowledgement, or
// a refusal with the extended ACK's details when it gave them.
struct NetlinkAck {
  std::uint32_t seq = 0;
  int error = 0;  // 0 for success, else a positive errno
  // Where in the refused message the attribute at fault starts, and the
  // kernel's words.
  std::optional<std::uint32_t> offset;
  std::string message;
};

// Reads an NLMSG_ERROR message of at most `length` bytes (a truncated one is
// EBADMSG). The extended ACK is read only where it lies within the message.
NetlinkAck parse_netlink_ack(const nlmsghdr* header, std::size_t length);

// One datagram of the kernel's answer to request `seq` sent from `port`, read
// as NetlinkSocket::exchange() reads each one, apart from any socket (so that
// tests and the fuzzer can feed it any bytes). `datagram` is aligned for
// nlmsghdr. Messages of other requests (another seq, another port) are
// skipped; NLMSG_ERROR ends the answer (an acknowledgement, or the kernel's
// refusal), and so does NLMSG_DONE (a dump's end, or its failure); every
// other message of the request goes to `on_message`. `interrupted` carries
// over from one datagram of an answer to the next (false before the first):
// a message flagged NLM_F_DUMP_INTR sets it, and a dump that ends with it set
// fails with EINTR. Returns nullopt when the answer goes on in the next
// datagram, else how it ended, as exchange() returns it. A message whose
// length runs past the datagram ends the walk.
[[nodiscard]] std::optional<std::expected<void, NetlinkError>> read_answer_datagram(
    std::span<const std::byte> datagram, std::uint32_t seq, std::uint32_t port, bool& interrupted,
    const std::function<void(const nlmsghdr&)>& on_message);

class NetlinkSocket {
 public:
  struct Options {
    // How long exchange() waits for the kernel before it gives up: a
    // request never takes the kernel long, so without an answer by then the
    // socket is wedged, and the caller's sync fails instead of hanging.
    int receive_timeout_seconds = 5;
    // Ask the kernel to filter dumps by the request's header fields
    // (NETLINK_GET_STRICT_CHK; rtnetlink).
    bool strict_check = false;
  };

  // socket(AF_NETLINK, SOCK_RAW, bus) bound to a kernel-chosen port id in
  // the calling thread's network namespace, with extended ACKs (which
  // attribute the kernel refused) and capped ACKs (a refusal does not echo
  // the whole message back). The error names the syscall that failed.
  [[nodiscard]] static std::expected<NetlinkSocket, NetlinkError> open(int bus, Options options);
  [[nodiscard]] static std::expected<NetlinkSocket, NetlinkError> open(int bus) { return open(bus, Options{}); }

  NetlinkSocket(NetlinkSocket&&) noexcept;
  NetlinkSocket& operator=(NetlinkSocket&&) noexcept;
  NetlinkSocket(const NetlinkSocket&) = delete;
  NetlinkSocket& operator=(const NetlinkSocket&) = delete;
  ~NetlinkSocket();

  int fd() const;
  std::uint32_t port_id() const;
  // A sequence number for the next request, apart from the numbers batches
  // use (those count up from 1; these from 2^31).
  std::uint32_t next_sequence() { return next_sequence_++; }

  // Sends one request (a single message carrying `seq`) and reads its
  // answer: the messages of a dump, up to NLMSG_DONE, or for a request with
  // NLM_F_ACK its replies up to the acknowledgement. Every message with this
  // sequence number that is neither goes to `on_message`; answers to other
  // requests (late ones, given up on) are skipped. The error carries the
  // kernel's errno and extended-ACK text; EINTR when the kernel flagged a
  // dump as interrupted (the table changed meanwhile: dump again);
  // ETIMEDOUT after the receive timeout.
  [[nodiscard]] std::expected<void, NetlinkError> exchange(std::span<const std::byte> request, std::uint32_t seq,
                                                           const std::function<void(const nlmsghdr&)>& on_message);

  // A batch: drops any answer still queued, makes room for `acks` answers,
  // sends `datagram` whole (one sendmsg; the send buffer is raised to fit,
  // with SO_SNDBUFFORCE where the caller has CAP_NET_ADMIN), and returns the
  // answers the kernel queued while handling it, which it does within
  // sendmsg. The error is for failing to talk to the kernel; whether the
  // batch was applied is then unknown.
  [[nodiscard]] std::expected<std::vector<NetlinkAck>, NetlinkError> send_batch(std::span<const std::byte> datagram,
                                                                                std::size_t acks);

 private:
  struct Closer {
    void operator()(mnl_socket* socket) const;
  };
  explicit NetlinkSocket(mnl_socket* socket) : socket_(socket) {}
  std::expected<void, NetlinkError> ensure_buffers(std::size_t send_bytes, std::size_t receive_bytes);
  std::expected<std::vector<NetlinkAck>, NetlinkError> read_queued();
  void drain();

  std::unique_ptr<mnl_socket, Closer> socket_;
  std::uint32_t next_sequence_ = 1u << 31;
  std::size_t send_buffer_ = 0;
  std::size_t receive_buffer_ = 0;
};

}  // namespace kubenat
