// Broker: the dynamic TLS values (certificate reloads) kept across restarts, as Kafka keeps
// dynamic broker configs. File `<log.dirs>/__kaffa_metadata/dynamic-broker-configs`, mode 0600
// (it may hold ssl.key.password or PEM keys), replaced atomically on every change:
//   kaffa-dynamic-broker-configs 1
//   <count>
//   <base64 full setting name> <base64 value>        (one per line)
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>

#include "base/base64.h"
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

std::optional<std::map<std::string, std::string>> load_dynamic(const std::filesystem::path& file,
                                                               std::string* error) {
  std::map<std::string, std::string> out;
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return out;
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  auto damaged = [&](const std::string& why) -> std::optional<std::map<std::string, std::string>> {
    if (error) *error = file.string() + " is damaged: " + why;
    return std::nullopt;
  };
  if (!in) return damaged("unreadable");
  std::string framing;
  const auto lines = security::counted_lines(text, kHeader, &framing);
  if (!lines) return damaged(framing);
  for (size_t i = 2; i < lines->size(); ++i) {
    const auto f = security::split((*lines)[i], ' ');
    std::optional<std::string> name, value;
    if (f.size() != 2 || !(name = base64::decode(f[0])) || !(value = base64::decode(f[1]))) {
      return damaged("line " + std::to_string(i + 1));
    }
    out[*name] = std::move(*value);
  }
  return out;
}

bool save_dynamic(const std::filesystem::path& file,
                  const std::map<std::string, std::string>& values, std::string* error) {
  std::string records;
  for (const auto& [name, value] : values) {
    records += base64::encode(name) + " " + base64::encode(value) + "\n";
  }
  const std::string text = security::counted_text(kHeader, values.size(), records);
  std::error_code ec;
  std::filesystem::create_directories(file.parent_path(), ec);
  if (!storage::write_file_atomically(file, text, error)) return false;
  std::filesystem::permissions(
      file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, ec);
  return true;
}

bool edit_dynamic(const std::string& log_dir,
                  const std::function<void(std::map<std::string, std::string>&)>& edit,
                  std::string* error) {
  static std::mutex serial;
  std::lock_guard lock(serial);
  const auto file = dynamic_path(log_dir);
  auto values = load_dynamic(file, error);
  if (!values) return false;
  edit(*values);
  return save_dynamic(file, *values, error);
}

}  // namespace kaffa::broker::tls_config
