// Shared pieces of the client verbs of `kaffa` (topic, config, produce, consume, group, cluster):
// global options, librdkafka handles, errors -> messages + exit codes, tables and JSON.
// The verbs speak the Kafka protocol through librdkafka, so they work against any Kafka cluster.
#pragma once

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/json.h"

namespace CLI {
class App;
}

namespace kaffa::cli {

// Exit codes: 0 success, 1 a Kafka (or client) error, 2 a usage error.
inline constexpr int kExitKafka = 1;
inline constexpr int kExitUsage = 2;

// What a verb throws to stop: main prints "kaffa: <message>" on stderr and exits with `code`.
struct Failure : std::runtime_error {
  Failure(int c, const std::string& message) : std::runtime_error(message), code(c) {}
  int code;
};
[[noreturn]] void usage_error(const std::string& message);
[[noreturn]] void kafka_error(const std::string& what, rd_kafka_resp_err_t err,
                              const char* errstr = nullptr);

// Options common to every client verb (given before or after the verb).
struct Globals {
  std::string brokers = "localhost:9092";
  bool json = false;
  int timeout_ms = 30000;
  std::vector<std::string> properties;  // -X key=value, passed to librdkafka
  bool verbose = false;
  std::function<int()> run;  // set by the chosen verb's callback; main runs it after parsing
};
void add_global_options(CLI::App& app, Globals& g);
// Makes `sub`, when it is the chosen verb, set g.run to `action`.
void on_run(CLI::App* sub, Globals& g, std::function<int()> action);

// Each verb group registers its subcommands (cli_*.cc).
void add_topic_commands(CLI::App& app, Globals& g);
void add_config_commands(CLI::App& app, Globals& g);
void add_produce_command(CLI::App& app, Globals& g);
void add_consume_command(CLI::App& app, Globals& g);
void add_group_commands(CLI::App& app, Globals& g);
void add_cluster_commands(CLI::App& app, Globals& g);
void add_log_dirs_command(CLI::App* cluster, Globals& g);  // cli_log_dirs.cc, under `cluster`
void add_user_commands(CLI::App& app, Globals& g);
void add_acl_commands(CLI::App& app, Globals& g);
void add_reassign_commands(CLI::App& app, Globals& g);
void add_quota_commands(CLI::App& app, Globals& g);

// cli_log_dirs.cc: moves each replica (partition of `topic` on `broker`) to that broker's log
// directory `dir` with AlterReplicaLogDirs, one request per broker. A replica not there yet
// (REPLICA_NOT_AVAILABLE: a reassignment is creating it; the broker keeps the directory for it)
// is asked again until `wait_ms` has passed, as kafka-reassign-partitions.sh does. Prints each
// outcome; kExitKafka if any failed.
struct ReplicaDir {
  int32_t broker = -1;
  std::string dir;
  std::string topic;
  int32_t partition = 0;
};
int move_replica_dirs(Globals& g, const std::vector<ReplicaDir>& moves, int64_t wait_ms);

// A librdkafka configuration with bootstrap servers, quiet logging (unless -v) and -X applied
// after `defaults`. The caller may add callbacks before handing it to Client.
rd_kafka_conf_t* make_conf(const Globals& g,
                           const std::vector<std::pair<std::string, std::string>>& defaults);
void conf_set(rd_kafka_conf_t* conf, const std::string& key, const std::string& value);

// One rd_kafka_t (producer handles also serve admin requests, metadata and watermarks).
class Client {
 public:
  Client(const Globals& g, rd_kafka_type_t type, rd_kafka_conf_t* conf = nullptr);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  rd_kafka_t* get() const { return rk_; }
  const Globals& globals() const { return g_; }

 private:
  const Globals& g_;
  rd_kafka_t* rk_ = nullptr;
};

// An admin result event; constructed by admin_call, which throws on a request-level error.
struct EventDeleter {
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
};
using Event = std::unique_ptr<rd_kafka_event_t, EventDeleter>;
// Starts an admin request through `start(options, queue)` and waits for its result.
// `what` names the operation in error messages.
Event admin_call(Client& c, rd_kafka_admin_op_t op, const std::string& what,
                 const std::function<void(rd_kafka_AdminOptions_t*, rd_kafka_queue_t*)>& start);

// Metadata of all topics (so that no topic gets auto-created by looking at it), or of one topic
// (which the broker may auto-create, as for a producer).
struct MetadataDeleter {
  void operator()(const rd_kafka_metadata_t* m) const { rd_kafka_metadata_destroy(m); }
};
using Metadata = std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter>;
Metadata fetch_metadata(Client& c, const std::string& only_topic = {});
const rd_kafka_metadata_topic_t* find_topic(const rd_kafka_metadata_t* md, const std::string& t);
// The topic's metadata or a Failure("topic X does not exist").
const rd_kafka_metadata_topic_t& require_topic(const rd_kafka_metadata_t* md, const std::string& t);
std::pair<int64_t, int64_t> watermarks(Client& c, const std::string& topic, int32_t partition);

// Configs of a topic or broker (DescribeConfigs).
struct ConfigRow {
  std::string name;
  std::optional<std::string> value;
  std::string source;
  rd_kafka_ConfigSource_t source_id = RD_KAFKA_CONFIG_SOURCE_UNKNOWN_CONFIG;
  bool read_only = false, is_default = false, sensitive = false;
};
std::vector<ConfigRow> describe_configs(Client& c, rd_kafka_ResourceType_t type,
                                        const std::string& name);
void json_configs(class Json& j, const std::vector<ConfigRow>& rows);

// A non-negative int32 named `what` in a usage error.
int32_t parse_id(const std::string& s, const std::string& what);
// "TOPIC:PARTITION" (the topic may contain ':', the last one separates); nullopt otherwise.
std::optional<std::pair<std::string, int32_t>> split_topic_partition(const std::string& s);
// Splits "key=value" (usage error without '=' or with an empty key).
std::pair<std::string, std::string> split_kv(const std::string& s, const char* what);
bool stderr_is_terminal();

// SIGINT/SIGTERM set a flag (no SA_RESTART: a blocking read returns EINTR) instead of killing.
void install_stop_signals();
bool stop_requested();

// "\r<verb> N records (R/s)" on stderr, at most twice a second, only when stderr is a terminal.
class Progress {
 public:
  explicit Progress(const char* verb, bool enabled = true);
  void tick(uint64_t n);
  void done(uint64_t n);

 private:
  void show(uint64_t n);
  const char* verb_;
  bool on_;
  int64_t start_ns_, last_ns_ = 0;
};

// Column-aligned table on stdout; the header row is upper-case by convention.
class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  void print() const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// The CLI's JSON output: base/json.h's writer (commas placed automatically; invalid UTF-8 in
// keys and values becomes U+FFFD) with the CLI's vocabulary and a print to stdout.
class Json {
 public:
  Json& begin_object() { return wrap(w_.begin_object()); }
  Json& end_object() { return wrap(w_.end_object()); }
  Json& begin_array() { return wrap(w_.begin_array()); }
  Json& end_array() { return wrap(w_.end_array()); }
  Json& key(const std::string& k) { return wrap(w_.key(k)); }
  Json& str(std::string_view s) { return wrap(w_.value(s)); }
  Json& num(int64_t v) { return wrap(w_.value(v)); }
  Json& boolean(bool v) { return wrap(w_.value(v)); }
  Json& null() { return wrap(w_.null()); }
  Json& opt_str(const std::optional<std::string>& s) { return s ? str(*s) : null(); }
  Json& opt_bytes(const void* p, size_t n) {  // null when p is null
    return p ? str(std::string_view(static_cast<const char*>(p), n)) : null();
  }
  const std::string& text() const { return w_.str(); }
  void print() const;  // the text and a newline on stdout

 private:
  Json& wrap(json::Writer&) { return *this; }
  json::Writer w_;
};

}  // namespace kaffa::cli
