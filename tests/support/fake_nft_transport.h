#pragma once

// An NftTransport for unit tests: records every batch it is handed and
// answers like the kernel would without looking inside the messages. Every
// message is acknowledged, unless the test scripted a refusal (an errno for
// one message, which then fails the whole batch) or a transport failure. It
// keeps a table handle the way the kernel does: a committed batch that
// deletes and re-adds the table gives it a new handle; delete_table() and
// recreate_table() stand in for `nft delete table` and someone re-adding it.

#include <cstddef>
#include <cstdint>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/nftables/transport.h"

namespace kubenat::testing {

class FakeNftTransport final : public NftTransport {
 public:
  struct Sent {
    std::vector<std::byte> bytes;
    std::vector<NftMessageInfo> messages;
    bool committed = false;

    // The kinds of the messages between BATCH_BEGIN and BATCH_END.
    std::vector<NftMessageKind> kinds() const {
      std::vector<NftMessageKind> out;
      for (const NftMessageInfo& m : messages) {
        if (m.kind != NftMessageKind::BatchBegin && m.kind != NftMessageKind::BatchEnd) out.push_back(m.kind);
      }
      return out;
    }
  };

  struct Refusal {
    std::size_t message = 0;  // index in NftBatch::messages() (0 is BATCH_BEGIN)
    int error = 0;
    std::optional<std::uint32_t> offset;
    std::string text;
  };

  std::vector<Sent> sent;
  std::optional<Refusal> refuse_next;            // for the next send only
  std::optional<std::string> fail_next;          // the next send fails to reach the kernel
  bool drop_acks_next = false;                   // the next send gets no answers at all
  std::optional<std::string> fail_table_handle;  // table_handle() fails while set

  std::expected<std::vector<NftAck>, std::string> send(const NftBatch& batch) override {
    Sent record{{batch.bytes().begin(), batch.bytes().end()}, batch.messages(), false};
    if (fail_next) {
      std::string error = *fail_next;
      fail_next.reset();
      sent.push_back(std::move(record));
      return std::unexpected(error);
    }
    std::vector<NftAck> acks;
    const std::optional<Refusal> refusal = std::exchange(refuse_next, std::nullopt);
    for (std::size_t i = 0; i < batch.messages().size(); ++i) {
      const NftMessageInfo& message = batch.messages()[i];
      if (refusal && refusal->message == i) {
        acks.push_back(NftAck{message.seq, refusal->error, refusal->offset, refusal->text});
        continue;
      }
      if (message.kind == NftMessageKind::BatchBegin || message.kind == NftMessageKind::BatchEnd) continue;
      acks.push_back(NftAck{message.seq, 0, std::nullopt, {}});
    }
    if (std::exchange(drop_acks_next, false)) acks.clear();
    record.committed = !refusal && !acks.empty();
    if (record.committed) {
      bool deleted = false;
      for (const NftMessageInfo& message : batch.messages()) {
        if (message.kind == NftMessageKind::DeleteTable) deleted = true;
        if (message.kind == NftMessageKind::AddTable && (deleted || !handle_)) handle_ = next_handle_++;
      }
    }
    sent.push_back(std::move(record));
    return acks;
  }

  std::expected<std::optional<std::uint64_t>, std::string> table_handle(IpFamily, const std::string&) override {
    ++table_handle_calls;
    if (fail_table_handle) return std::unexpected(*fail_table_handle);
    return handle_;
  }

  // What dump_elements() answers, by set name: as the packet path would
  // have filled the set. A set not listed is not there (an error).
  std::map<std::string, std::vector<NftRawElement>> dumps;
  std::vector<std::string> dumped;  // the sets dump_elements() was asked for

  std::expected<std::vector<NftRawElement>, std::string> dump_elements(IpFamily, const std::string&,
                                                                       const std::string& set) override {
    dumped.push_back(set);
    auto it = dumps.find(set);
    if (it == dumps.end()) return std::unexpected("GETSETELEM " + set + ": No such file or directory");
    return it->second;
  }

  void delete_table() { handle_.reset(); }
  void recreate_table() { handle_ = next_handle_++; }

  int table_handle_calls = 0;

 private:
  std::optional<std::uint64_t> handle_;
  std::uint64_t next_handle_ = 7;
};

}  // namespace kubenat::testing
