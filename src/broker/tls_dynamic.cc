// Broker: the dynamic broker configs kept across restarts (the TLS values of certificate reloads,
// and dynamic_configs.h's). This broker's own values are in
// `<log.dirs>/__kaffa_metadata/dynamic-broker-configs`, mode 0600 (it may hold ssl.key.password
// or PEM keys), replaced atomically on every change; a single node's cluster-wide defaults in
// `dynamic-default-broker-configs` beside it, and a cluster's in the metadata store, in the same
// text:
//   kaffa-dynamic-broker-configs 1
//   <count>
//   <base64 full setting name> <base64 value>        (one per line)
#include <filesystem>
#include <functional>
#include <mutex>

#include "base/base64.h"
#include "base/file.h"
#include "broker/tls_config.h"
#include "security/text_lines.h"
#include "storage/checkpoint_file.h"

namespace kaffa::broker::tls_config {
namespace {

constexpr std::string_view kHeader = "kaffa-dynamic-broker-configs 1";

}  // namespace

std::filesystem::path dynamic_path(const std::string& log_dir) {
  return std::filesystem::path(log_dir) / "__kaffa_metadata" / "dynamic-broker-configs";
}

std::filesystem::path dynamic_default_path(const std::string& log_dir) {
  return std::filesystem::path(log_dir) / "__kaffa_metadata" / "dynamic-default-broker-configs";
}

std::string encode_dynamic(const std::map<std::string, std::string>& values) {
  std::string records;
  for (const auto& [name, value] : values) {
    records += base64::encode(name) + " " + base64::encode(value) + "\n";
  }
  return security::counted_text(kHeader, values.size(), records);
}

std::optional<std::map<std::string, std::string>> decode_dynamic(const std::string& text,
                                                                 std::string* why) {
  std::map<std::string, std::string> out;
  std::string framing;
  const auto lines = security::counted_lines(text, kHeader, &framing);
  if (!lines) {
    if (why) *why = framing;
    return std::nullopt;
  }
  for (size_t i = 2; i < lines->size(); ++i) {
    const auto f = security::split((*lines)[i], ' ');
    std::optional<std::string> name, value;
    if (f.size() != 2 || !(name = base64::decode(f[0])) || !(value = base64::decode(f[1]))) {
      if (why) *why = "line " + std::to_string(i + 1);
      return std::nullopt;
    }
    out[*name] = std::move(*value);
  }
  return out;
}

std::optional<std::map<std::string, std::string>> load_dynamic(const std::filesystem::path& file,
                                                               std::string* error) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return std::map<std::string, std::string>{};
  const auto text = file::read_all(file);
  std::string why = "unreadable";
  std::optional<std::map<std::string, std::string>> out;
  if (text) out = decode_dynamic(*text, &why);
  if (!out && error) *error = file.string() + " is damaged: " + why;
  return out;
}

bool save_dynamic(const std::filesystem::path& file,
                  const std::map<std::string, std::string>& values, std::string* error) {
  std::error_code ec;
  std::filesystem::create_directories(file.parent_path(), ec);
  if (!storage::write_file_atomically(file, encode_dynamic(values), error)) return false;
  std::filesystem::permissions(
      file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, ec);
  return true;
}

bool edit_dynamic(const std::filesystem::path& file,
                  const std::function<void(std::map<std::string, std::string>&)>& edit,
                  std::string* error) {
  static std::mutex serial;
  std::lock_guard lock(serial);
  auto values = load_dynamic(file, error);
  if (!values) return false;
  edit(*values);
  return save_dynamic(file, *values, error);
}

}  // namespace kaffa::broker::tls_config
