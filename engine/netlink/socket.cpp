#include "engine/netlink/socket.h"

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

namespace kubenat {
namespace {

// Large enough for any one datagram the kernel sends: a dump part (libmnl's
// MNL_SOCKET_DUMP_SIZE is 32 KiB) or a capped ACK, with room.
constexpr std::size_t kReceiveBytes = 64 * 1024 + 4096;
// The kernel queues one acknowledgement per message of a batch; nft budgets
// 1 KiB of receive buffer for each (an ACK skb's true size).
constexpr std::size_t kReceiveBytesPerAck = 1024;

NetlinkError failure(int code, std::string message) { return NetlinkError{code, std::move(message)}; }

NetlinkError syscall_failure(const std::string& call) {
  const int code = errno;
  return failure(code, call + ": " + describe_errno(code));
}

int collect_ack_attribute(const nlattr* attribute, void* data) {
  auto** table = static_cast<const nlattr**>(data);
  if (mnl_attr_type_valid(attribute, NLMSGERR_ATTR_MAX) < 0) return MNL_CB_OK;
  table[mnl_attr_get_type(attribute)] = attribute;
  return MNL_CB_OK;
}

// mnl_nlmsg_ok() compares the message's length as an int, so a length of
// 2 GiB or more passes it and the walk reads far past the datagram; here it
// is compared unsigned.
bool message_fits(const nlmsghdr* header, int remaining) {
  return remaining >= static_cast<int>(sizeof(nlmsghdr)) && header->nlmsg_len >= sizeof(nlmsghdr) &&
         header->nlmsg_len <= static_cast<unsigned>(remaining);
}

// The extended ACK attributes after `offset` bytes of payload.
void read_extended_ack(const nlmsghdr* header, std::size_t offset, NetlinkAck& ack) {
  if ((header->nlmsg_flags & NLM_F_ACK_TLVS) == 0 || header->nlmsg_len < mnl_nlmsg_size(offset)) return;
  const nlattr* table[NLMSGERR_ATTR_MAX + 1] = {};
  if (mnl_attr_parse(header, static_cast<unsigned>(offset), collect_ack_attribute, table) < 0) return;
  if (table[NLMSGERR_ATTR_MSG] && mnl_attr_validate(table[NLMSGERR_ATTR_MSG], MNL_TYPE_NUL_STRING) >= 0) {
    ack.message = mnl_attr_get_str(table[NLMSGERR_ATTR_MSG]);
  }
  if (table[NLMSGERR_ATTR_OFFS] && mnl_attr_get_payload_len(table[NLMSGERR_ATTR_OFFS]) >= 4) {
    ack.offset = mnl_attr_get_u32(table[NLMSGERR_ATTR_OFFS]);
  }
}

NetlinkError kernel_refusal(const NetlinkAck& ack) {
  return failure(ack.error, describe_errno(ack.error) + (ack.message.empty() ? "" : " (" + ack.message + ")"));
}

void set_option(int fd, int level, int name, const void* value, socklen_t size) {
  // Each option only improves on the default (error details, shorter ACKs,
  // kernel-side filtering); an older kernel without it still works.
  (void)::setsockopt(fd, level, name, value, size);
}

}  // namespace

std::string describe_errno(int code) {
  const char* name = ::strerrorname_np(code);
  return std::string(std::strerror(code)) + " (" + (name != nullptr ? name : "errno " + std::to_string(code)) + ")";
}

NetlinkAck parse_netlink_ack(const nlmsghdr* header, std::size_t length) {
  NetlinkAck ack;
  ack.seq = header->nlmsg_seq;
  if (length < mnl_nlmsg_size(sizeof(nlmsgerr)) || header->nlmsg_len < mnl_nlmsg_size(sizeof(nlmsgerr)) ||
      header->nlmsg_len > length) {
    ack.error = EBADMSG;
    return ack;
  }
  const auto* error = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(header));
  // -INT_MIN is not an int; no errno is that large anyway.
  ack.error = error->error == INT_MIN ? EBADMSG : error->error < 0 ? -error->error : error->error;
  std::size_t offset = sizeof(nlmsgerr);
  // Without NLM_F_CAPPED the refused message is echoed before the
  // attributes. Its length is read from the answer, so one shorter than a
  // header leaves nothing to read after it (read_extended_ack checks the end).
  if ((header->nlmsg_flags & NLM_F_CAPPED) == 0) {
    if (error->msg.nlmsg_len < sizeof(nlmsghdr)) return ack;
    offset += error->msg.nlmsg_len - sizeof(nlmsghdr);
  }
  read_extended_ack(header, offset, ack);
  return ack;
}

std::optional<std::expected<void, NetlinkError>> read_answer_datagram(
    std::span<const std::byte> datagram, std::uint32_t seq, std::uint32_t port, bool& interrupted,
    const std::function<void(const nlmsghdr&)>& on_message) {
  int remaining = static_cast<int>(std::min<std::size_t>(datagram.size(), INT_MAX));
  for (auto* header = reinterpret_cast<const nlmsghdr*>(datagram.data()); message_fits(header, remaining);
       header = mnl_nlmsg_next(header, &remaining)) {
    // A late answer to an earlier request that gave up (a timeout) must
    // not be taken for this one's.
    if (header->nlmsg_seq != seq || (header->nlmsg_pid != 0 && header->nlmsg_pid != port)) continue;
    if ((header->nlmsg_flags & NLM_F_DUMP_INTR) != 0) interrupted = true;
    if (header->nlmsg_type == NLMSG_NOOP) continue;
    if (header->nlmsg_type == NLMSG_ERROR) {
      const NetlinkAck ack = parse_netlink_ack(header, static_cast<std::size_t>(remaining));
      if (ack.error != 0) return std::unexpected(kernel_refusal(ack));
      return std::expected<void, NetlinkError>();  // the acknowledgement
    }
    if (header->nlmsg_type == NLMSG_DONE) {
      // A dump that failed midway says so in NLMSG_DONE's payload.
      if (header->nlmsg_len >= mnl_nlmsg_size(sizeof(int))) {
        int code = 0;
        std::memcpy(&code, mnl_nlmsg_get_payload(header), sizeof code);
        if (code < 0) {
          NetlinkAck ack;
          ack.error = code == INT_MIN ? EBADMSG : -code;
          read_extended_ack(header, sizeof(int), ack);
          return std::unexpected(kernel_refusal(ack));
        }
      }
      if (interrupted) return std::unexpected(failure(EINTR, "the kernel's table changed during the dump"));
      return std::expected<void, NetlinkError>();
    }
    on_message(*header);
  }
  return std::nullopt;
}

void NetlinkSocket::Closer::operator()(mnl_socket* socket) const { mnl_socket_close(socket); }

std::expected<NetlinkSocket, NetlinkError> NetlinkSocket::open(int bus, Options options) {
  mnl_socket* raw = mnl_socket_open(bus);
  if (raw == nullptr) return std::unexpected(syscall_failure("socket(AF_NETLINK, " + std::to_string(bus) + ")"));
  NetlinkSocket socket(raw);
  if (mnl_socket_bind(raw, 0, MNL_SOCKET_AUTOPID) < 0) return std::unexpected(syscall_failure("bind(AF_NETLINK)"));
  const int fd = socket.fd();
  const int on = 1;
  set_option(fd, SOL_NETLINK, NETLINK_EXT_ACK, &on, sizeof on);
  set_option(fd, SOL_NETLINK, NETLINK_CAP_ACK, &on, sizeof on);
  if (options.strict_check) set_option(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &on, sizeof on);
  const timeval timeout{options.receive_timeout_seconds, 0};
  set_option(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  return socket;
}

NetlinkSocket::NetlinkSocket(NetlinkSocket&&) noexcept = default;
NetlinkSocket& NetlinkSocket::operator=(NetlinkSocket&&) noexcept = default;
NetlinkSocket::~NetlinkSocket() = default;

int NetlinkSocket::fd() const { return mnl_socket_get_fd(socket_.get()); }
std::uint32_t NetlinkSocket::port_id() const { return mnl_socket_get_portid(socket_.get()); }

std::expected<void, NetlinkError> NetlinkSocket::exchange(std::span<const std::byte> request, std::uint32_t seq,
                                                          const std::function<void(const nlmsghdr&)>& on_message) {
  for (;;) {
    if (mnl_socket_sendto(socket_.get(), request.data(), request.size()) >= 0) break;
    if (errno == EINTR) continue;
    return std::unexpected(syscall_failure("sendto(AF_NETLINK)"));
  }
  std::vector<std::byte> buffer(kReceiveBytes);
  bool interrupted = false;
  const std::uint32_t port = port_id();
  for (;;) {
    const ssize_t received = mnl_socket_recvfrom(socket_.get(), buffer.data(), buffer.size());
    if (received < 0) {
      if (errno == EINTR) continue;  // a signal, not an answer
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return std::unexpected(failure(ETIMEDOUT, "no answer from the kernel within the receive timeout"));
      }
      return std::unexpected(syscall_failure("recvfrom(AF_NETLINK)"));
    }
    auto answer = read_answer_datagram(std::span(buffer.data(), static_cast<std::size_t>(received)), seq, port,
                                       interrupted, on_message);
    if (answer) return std::move(*answer);
  }
}

std::expected<void, NetlinkError> NetlinkSocket::ensure_buffers(std::size_t send_bytes, std::size_t receive_bytes) {
  // SO_SNDBUF caps a datagram: netlink refuses a message longer than the
  // send buffer (EMSGSIZE), and a batch must be one datagram. The kernel
  // doubles the value it is given.
  const auto raise = [&](int force_option, int option, std::size_t wanted, std::size_t& current,
                         const char* name) -> std::expected<void, NetlinkError> {
    if (wanted <= current) return {};
    const int value = static_cast<int>(std::min<std::size_t>(wanted, INT_MAX / 2));
    if (::setsockopt(fd(), SOL_SOCKET, force_option, &value, sizeof value) < 0 &&
        ::setsockopt(fd(), SOL_SOCKET, option, &value, sizeof value) < 0) {
      return std::unexpected(syscall_failure(std::string("setsockopt(") + name + ")"));
    }
    current = wanted;
    return {};
  };
  if (auto ok = raise(SO_SNDBUFFORCE, SO_SNDBUF, send_bytes + 64 * 1024, send_buffer_, "SO_SNDBUF"); !ok) return ok;
  return raise(SO_RCVBUFFORCE, SO_RCVBUF, std::max<std::size_t>(receive_bytes, 256 * 1024), receive_buffer_,
               "SO_RCVBUF");
}

void NetlinkSocket::drain() {
  std::vector<std::byte> buffer(kReceiveBytes);
  while (::recv(fd(), buffer.data(), buffer.size(), MSG_DONTWAIT) > 0) {
  }
}

std::expected<std::vector<NetlinkAck>, NetlinkError> NetlinkSocket::read_queued() {
  std::vector<NetlinkAck> acks;
  std::vector<std::byte> buffer(kReceiveBytes);
  bool overrun = false;
  for (;;) {
    const ssize_t received = ::recv(fd(), buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (received < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == ENOBUFS) {  // answers were dropped; keep reading the rest
        overrun = true;
        continue;
      }
      return std::unexpected(syscall_failure("recv(AF_NETLINK)"));
    }
    if (received == 0) break;
    int remaining = static_cast<int>(received);
    for (auto* header = reinterpret_cast<const nlmsghdr*>(buffer.data()); message_fits(header, remaining);
         header = mnl_nlmsg_next(header, &remaining)) {
      if (header->nlmsg_type == NLMSG_ERROR) acks.push_back(parse_netlink_ack(header, static_cast<std::size_t>(remaining)));
    }
  }
  if (overrun) {
    return std::unexpected(failure(ENOBUFS, "recv(AF_NETLINK): the kernel's answers overran the receive buffer"));
  }
  return acks;
}

std::expected<std::vector<NetlinkAck>, NetlinkError> NetlinkSocket::send_batch(std::span<const std::byte> datagram,
                                                                               std::size_t acks) {
  if (auto ok = ensure_buffers(datagram.size(), acks * kReceiveBytesPerAck); !ok) return std::unexpected(ok.error());
  drain();
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  iovec vector{const_cast<std::byte*>(datagram.data()), datagram.size()};
  msghdr message{};
  message.msg_name = &kernel;
  message.msg_namelen = sizeof kernel;
  message.msg_iov = &vector;
  message.msg_iovlen = 1;
  for (;;) {
    if (::sendmsg(fd(), &message, 0) >= 0) break;
    if (errno == EINTR) continue;
    return std::unexpected(syscall_failure("sendmsg(AF_NETLINK, " + std::to_string(datagram.size()) + " bytes)"));
  }
  return read_queued();
}

}  // namespace kubenat
