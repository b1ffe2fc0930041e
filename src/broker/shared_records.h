// Helpers for the sets a cluster keeps as one metadata record each, read and written whole
// (EtcdMetadata::update_shared): ACLs and SCRAM credentials (broker_security.cc), client quotas
// (broker_quotas.cc), group configs (broker_group_configs.cc). A single node keeps the same text
// in a file instead.
#pragma once

#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>

#include "base/log.h"
#include "broker/broker.h"
#include "cluster/etcd_metadata.h"
#include "storage/checkpoint_file.h"

namespace kaffa::broker::shared {

// A single node's file of a set (absent: the empty set); nullopt with *why when it does not parse.
template <class Set, class Decode>
std::optional<Set> read_file(const std::filesystem::path& path, Decode decode, std::string* why) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return Set{};
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in && !in.eof()) {
    *why = "unreadable";
    return std::nullopt;
  }
  return decode(text.str(), why);
}

// At start-up: a single node's file of a set (throws naming the file when it does not parse); in a
// cluster, where the set is a record of the metadata store, nullopt and a warning if the file is
// there.
template <class Set, class Decode>
std::optional<Set> load_file(const std::filesystem::path& path, bool clustered, const char* what,
                             Decode decode) {
  if (clustered) {
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) {
      log::warn("{} is not used: in a cluster, {} live in the metadata store", path.string(), what);
    }
    return std::nullopt;
  }
  std::string why;
  auto set = read_file<Set>(path, decode, &why);
  if (!set) throw std::runtime_error(path.string() + ": " + why);
  return set;
}

// Writes a single node's file of a set atomically (its directory made first); "" or why not.
inline std::string write_file(const std::filesystem::path& path, const std::string& text) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  std::string error;
  if (!storage::write_file_atomically(path, text, &error)) return error;
  return "";
}

// A change of a set as a change of its stored text: "" (no record yet) is the empty set.
template <class Set, class Decode, class Encode>
cluster::EtcdMetadata::RecordChange as_text_change(
    std::string what, std::function<std::optional<Set>(const Set&)> change, Decode decode,
    Encode encode) {
  return [what = std::move(what), change = std::move(change), decode, encode](
             const std::string& text, std::string* error) -> std::optional<std::string> {
    Set current;
    if (!text.empty()) {
      std::string why;
      auto decoded = decode(text, &why);
      if (!decoded) {
        *error = "the " + what + " in the metadata store are damaged: " + why;
        return std::nullopt;
      }
      current = std::move(*decoded);
    }
    auto next = change(current);
    if (!next) return std::nullopt;
    return encode(*next);
  };
}

inline void finish(const Broker::SecurityDone& done, protocol::ErrorCode e, std::string why) {
  if (e == protocol::ErrorCode::none) return done("");
  done(why.empty() ? "metadata store error " + std::to_string(protocol::code(e)) : why);
}

// The set a shared record holds (absent: empty); nullopt (logged) when it does not parse.
template <class Set, class Decode>
std::optional<Set> decode_record(const cluster::SharedRecord& record, const char* what,
                                 Decode decode) {
  if (!record.value) return Set{};
  std::string why;
  auto decoded = decode(*record.value, &why);
  if (!decoded) {
    log::error(
        "cluster: the {} in the metadata store (revision {}) are damaged: {}; keeping "
        "the ones in use",
        what, record.mod_revision, why);
  }
  return decoded;
}

// The set of record `which` changed in place by `change` on a copy (false: nothing to write),
// through update_shared; done("") once this broker's image has it, else done(why).
template <class Set, class Decode, class Encode>
void update_set(cluster::EtcdMetadata& store, cluster::EtcdMetadata::Shared which, std::string what,
                std::function<bool(Set&)> change, Decode decode, Encode encode,
                Broker::SecurityDone done) {
  std::function<std::optional<Set>(const Set&)> on_copy =
      [change = std::move(change)](const Set& current) -> std::optional<Set> {
    auto next = current;
    if (!change(next)) return std::nullopt;
    return next;
  };
  store.update_shared(which,
                      as_text_change<Set>(std::move(what), std::move(on_copy), decode, encode),
                      [done = std::move(done)](protocol::ErrorCode e, std::string why) {
                        finish(done, e, std::move(why));
                      });
}

}  // namespace kaffa::broker::shared
