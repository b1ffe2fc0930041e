// ScramCredentialStore: the durable SCRAM credentials (format in scram.h).
#include <charconv>

#include "base/base64.h"
#include "base/file.h"
#include "security/scram.h"
#include "security/text_lines.h"
#include "storage/checkpoint_file.h"

namespace kaffa::security {
namespace {

constexpr std::string_view kHeader = "kaffa-scram 1";

template <class T>
bool number(std::string_view s, T& out) {
  const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

}  // namespace

std::filesystem::path ScramCredentialStore::default_path(const std::filesystem::path& log_dir) {
  return log_dir / "__kaffa_metadata" / "scram-credentials";
}

std::optional<ScramUsers> decode_scram_users(std::string_view text, std::string* error) {
  auto damaged = [&](const std::string& why) -> std::optional<ScramUsers> {
    if (error) *error = why;
    return std::nullopt;
  };
  std::string framing;
  const auto lines = counted_lines(text, kHeader, &framing);
  if (!lines) return damaged(framing);
  ScramUsers users;
  for (size_t i = 2; i < lines->size(); ++i) {
    const auto f = split((*lines)[i], ' ');
    ScramCredential c;
    std::optional<std::string> user, salt, stored, server;
    if (f.size() != 6 || !(user = base64::decode(f[0])) || scram_mechanism_type(f[1]) == 0 ||
        !number(f[2], c.iterations) || !(salt = base64::decode(f[3])) ||
        !(stored = base64::decode(f[4])) || !(server = base64::decode(f[5]))) {
      return damaged("line " + std::to_string(i + 1));
    }
    c.salt = std::move(*salt);
    c.stored_key = std::move(*stored);
    c.server_key = std::move(*server);
    users[*user][std::string(f[1])] = std::move(c);
  }
  return users;
}

std::string encode_scram_users(const ScramUsers& users) {
  std::string lines;
  size_t count = 0;
  for (const auto& [user, mechs] : users) {
    for (const auto& [mech, c] : mechs) {
      lines += base64::encode(user) + " " + mech + " " + std::to_string(c.iterations) + " " +
               base64::encode(c.salt) + " " + base64::encode(c.stored_key) + " " +
               base64::encode(c.server_key) + "\n";
      ++count;
    }
  }
  return counted_text(kHeader, count, lines);
}

void apply_scram_changes(ScramUsers& users,
                         const std::vector<ScramCredentialStore::Change>& changes) {
  for (const auto& ch : changes) {
    if (ch.credential) {
      users[ch.user][ch.mechanism] = *ch.credential;
    } else if (auto u = users.find(ch.user); u != users.end()) {
      u->second.erase(ch.mechanism);
      if (u->second.empty()) users.erase(u);
    }
  }
}

bool ScramCredentialStore::load(std::string* error) {
  std::lock_guard lock(mu_);
  users_.clear();
  std::error_code ec;
  if (!std::filesystem::exists(file_, ec)) return true;
  const auto text = file::read_all(file_);
  std::string why = "unreadable";
  auto users = text ? decode_scram_users(*text, &why) : std::nullopt;
  if (!users) {
    if (error) *error = file_.string() + " is damaged: " + why;
    return false;
  }
  users_ = std::move(*users);
  return true;
}

std::optional<ScramCredential> ScramCredentialStore::find(std::string_view user,
                                                          std::string_view mechanism) const {
  std::lock_guard lock(mu_);
  const auto u = users_.find(user);
  if (u == users_.end()) return std::nullopt;
  const auto m = u->second.find(std::string(mechanism));
  if (m == u->second.end()) return std::nullopt;
  return m->second;
}

std::map<std::string, std::vector<std::pair<std::string, int32_t>>> ScramCredentialStore::describe()
    const {
  std::lock_guard lock(mu_);
  std::map<std::string, std::vector<std::pair<std::string, int32_t>>> out;
  for (const auto& [user, mechs] : users_) {
    for (const auto& [mech, c] : mechs) out[user].emplace_back(mech, c.iterations);
  }
  return out;
}

bool ScramCredentialStore::apply(const std::vector<Change>& changes, std::string* error) {
  return update(
      [&changes](ScramUsers& users) {
        apply_scram_changes(users, changes);
        return true;
      },
      error);
}

bool ScramCredentialStore::update(const std::function<bool(ScramUsers&)>& change,
                                  std::string* error) {
  std::lock_guard lock(mu_);
  auto next = users_;
  if (!change(next)) return true;
  std::error_code ec;
  std::filesystem::create_directories(file_.parent_path(), ec);
  if (!storage::write_file_atomically(file_, encode_scram_users(next), error)) return false;
  users_ = std::move(next);
  return true;
}

void ScramCredentialStore::replace(ScramUsers users) {
  std::lock_guard lock(mu_);
  users_ = std::move(users);
}

}  // namespace kaffa::security
