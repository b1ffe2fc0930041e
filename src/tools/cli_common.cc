#include "tools/cli_common.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <mutex>

namespace kaffa::cli {

namespace {

// librdkafka calls log and error callbacks from its own threads; the conf opaque stays free for
// the verbs (the consumer's rebalance callback uses it), so this state is process-wide.
std::mutex g_mu;
std::string g_last_client_error;
std::string g_brokers;
bool g_verbose = false;
std::atomic<bool> g_all_brokers_down{false};

void log_cb(const rd_kafka_t*, int level, const char* fac, const char* buf) {
  if (g_verbose) std::fprintf(stderr, "kaffa: rdkafka %d %s: %s\n", level, fac, buf);
}

void error_cb(rd_kafka_t*, int err, const char* reason, void*) {
  if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) g_all_brokers_down = true;
  std::lock_guard lk(g_mu);
  g_last_client_error = reason;
  if (g_verbose) {
    std::fprintf(stderr, "kaffa: client error %s: %s\n",
                 rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)), reason);
  }
}

bool is_connectivity(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__TIMED_OUT ||
         err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || err == RD_KAFKA_RESP_ERR__RESOLVE ||
         err == RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE;
}

// Serves error callbacks (for a consumer only before rd_kafka_poll_set_consumer) and fails fast
// once librdkafka reports that no broker can be reached.
void fail_if_unreachable(Client& c, const std::string& what) {
  rd_kafka_poll(c.get(), 0);
  if (g_all_brokers_down) kafka_error(what, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN);
}

}  // namespace

void usage_error(const std::string& message) {
  throw Failure(kExitUsage, message);
}

void kafka_error(const std::string& what, rd_kafka_resp_err_t err, const char* errstr) {
  std::string msg = what + ": ";
  msg += errstr && *errstr ? errstr : rd_kafka_err2str(err);
  msg += std::string(" (") + rd_kafka_err2name(err) + ")";
  if (is_connectivity(err)) {
    std::lock_guard lk(g_mu);
    msg += "; is a broker reachable at " + g_brokers + "?";
    if (!g_last_client_error.empty()) msg += " Last client error: " + g_last_client_error;
  }
  throw Failure(kExitKafka, msg);
}

void add_global_options(CLI::App& app, Globals& g) {
  auto* grp = "Client options";
  app.add_option("-b,--brokers", g.brokers, "Bootstrap brokers host:port[,host:port]")
      ->capture_default_str()
      ->group(grp);
  app.add_flag("--json", g.json, "Machine-readable JSON output on stdout")->group(grp);
  app.add_option("--timeout", g.timeout_ms, "Request timeout in milliseconds")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600 * 1000))
      ->group(grp);
  app.add_option("-X", g.properties, "librdkafka property key=value (repeatable)")->group(grp);
  app.add_flag("-v,--verbose", g.verbose, "Show librdkafka's log on stderr")->group(grp);
}

void on_run(CLI::App* sub, Globals& g, std::function<int()> action) {
  sub->callback([&g, action = std::move(action)] { g.run = action; });
}

void conf_set(rd_kafka_conf_t* conf, const std::string& key, const std::string& value) {
  char buf[512];
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), buf, sizeof buf) != RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    usage_error("client property " + key + "=" + value + ": " + buf);
  }
}

rd_kafka_conf_t* make_conf(const Globals& g,
                           const std::vector<std::pair<std::string, std::string>>& defaults) {
  {
    std::lock_guard lk(g_mu);
    g_brokers = g.brokers;
    g_verbose = g.verbose;
  }
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set_log_cb(conf, log_cb);
  rd_kafka_conf_set_error_cb(conf, error_cb);
  conf_set(conf, "bootstrap.servers", g.brokers);
  conf_set(conf, "client.id", "kaffa-cli");
  for (const auto& [k, v] : defaults) conf_set(conf, k, v);
  for (const auto& p : g.properties) {
    auto [k, v] = split_kv(p, "-X");
    conf_set(conf, k, v);
  }
  return conf;
}

Client::Client(const Globals& g, rd_kafka_type_t type, rd_kafka_conf_t* conf) : g_(g) {
  if (!conf) conf = make_conf(g, {});
  char buf[512];
  rk_ = rd_kafka_new(type, conf, buf, sizeof buf);
  if (!rk_) {
    rd_kafka_conf_destroy(conf);
    throw Failure(kExitKafka, std::string("cannot create a client: ") + buf);
  }
}

Client::~Client() {
  rd_kafka_destroy(rk_);
}

Event admin_call(Client& c, rd_kafka_admin_op_t op, const std::string& what,
                 const std::function<void(rd_kafka_AdminOptions_t*, rd_kafka_queue_t*)>& start) {
  rd_kafka_AdminOptions_t* opts = rd_kafka_AdminOptions_new(c.get(), op);
  char buf[512];
  int t = c.globals().timeout_ms;
  rd_kafka_AdminOptions_set_request_timeout(opts, t, buf, sizeof buf);
  if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS || op == RD_KAFKA_ADMIN_OP_DELETETOPICS ||
      op == RD_KAFKA_ADMIN_OP_CREATEPARTITIONS) {
    rd_kafka_AdminOptions_set_operation_timeout(opts, t, buf, sizeof buf);
  }
  rd_kafka_queue_t* q = rd_kafka_queue_new(c.get());
  start(opts, q);
  // Admin requests always produce a result event (an error one on timeout); the bound is a
  // safety net only.
  Event ev;
  for (int waited = 0; !ev && waited < t * 2 + 10000; waited += 250) {
    ev.reset(rd_kafka_queue_poll(q, 250));
    if (!ev) {
      try {
        fail_if_unreachable(c, what);
      } catch (...) {
        rd_kafka_queue_destroy(q);
        rd_kafka_AdminOptions_destroy(opts);
        throw;
      }
    }
  }
  rd_kafka_queue_destroy(q);
  rd_kafka_AdminOptions_destroy(opts);
  if (!ev) kafka_error(what, RD_KAFKA_RESP_ERR__TIMED_OUT);
  if (auto err = rd_kafka_event_error(ev.get())) {
    kafka_error(what, err, rd_kafka_event_error_string(ev.get()));
  }
  return ev;
}

Metadata fetch_metadata(Client& c, const std::string& only_topic) {
  // In slices, so that an unreachable cluster fails in about a second, not after --timeout.
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;
  for (int left = c.globals().timeout_ms; left > 0; left -= 1000) {
    rd_kafka_topic_t* rkt =
        only_topic.empty() ? nullptr : rd_kafka_topic_new(c.get(), only_topic.c_str(), nullptr);
    err = rd_kafka_metadata(c.get(), rkt ? 0 : 1, rkt, &md, std::min(left, 1000));
    if (rkt) rd_kafka_topic_destroy(rkt);
    if (!err) return Metadata(md);
    if (err != RD_KAFKA_RESP_ERR__TIMED_OUT && err != RD_KAFKA_RESP_ERR__TRANSPORT) break;
    fail_if_unreachable(c, "metadata");
  }
  kafka_error("metadata", err);
}

const rd_kafka_metadata_topic_t* find_topic(const rd_kafka_metadata_t* md, const std::string& t) {
  for (int i = 0; i < md->topic_cnt; ++i) {
    if (t == md->topics[i].topic) return &md->topics[i];
  }
  return nullptr;
}

const rd_kafka_metadata_topic_t& require_topic(const rd_kafka_metadata_t* md,
                                               const std::string& t) {
  const auto* mt = find_topic(md, t);
  if (!mt || mt->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
    throw Failure(kExitKafka, "topic " + t + " does not exist");
  }
  if (mt->err) kafka_error("topic " + t, mt->err);
  return *mt;
}

std::pair<int64_t, int64_t> watermarks(Client& c, const std::string& topic, int32_t partition) {
  int64_t lo = -1, hi = -1;
  auto err = rd_kafka_query_watermark_offsets(c.get(), topic.c_str(), partition, &lo, &hi,
                                              c.globals().timeout_ms);
  if (err) kafka_error("offsets of " + topic + "-" + std::to_string(partition), err);
  return {lo, hi};
}

std::vector<ConfigRow> describe_configs(Client& c, rd_kafka_ResourceType_t type,
                                        const std::string& name) {
  rd_kafka_ConfigResource_t* res = rd_kafka_ConfigResource_new(type, name.c_str());
  std::string what = std::string("describe configs of ") +
                     (type == RD_KAFKA_RESOURCE_TOPIC ? "topic " : "broker ") + name;
  Event ev = [&] {
    try {
      return admin_call(c, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, what, [&](auto* o, auto* q) {
        rd_kafka_DescribeConfigs(c.get(), &res, 1, o, q);
      });
    } catch (...) {
      rd_kafka_ConfigResource_destroy(res);
      throw;
    }
  }();
  rd_kafka_ConfigResource_destroy(res);
  size_t n = 0;
  const auto** results = rd_kafka_DescribeConfigs_result_resources(
      rd_kafka_event_DescribeConfigs_result(ev.get()), &n);
  std::vector<ConfigRow> rows;
  for (size_t i = 0; i < n; ++i) {
    if (auto err = rd_kafka_ConfigResource_error(results[i])) {
      kafka_error(what, err, rd_kafka_ConfigResource_error_string(results[i]));
    }
    size_t cnt = 0;
    const auto** entries = rd_kafka_ConfigResource_configs(results[i], &cnt);
    for (size_t k = 0; k < cnt; ++k) {
      ConfigRow r;
      r.name = rd_kafka_ConfigEntry_name(entries[k]);
      if (const char* v = rd_kafka_ConfigEntry_value(entries[k])) r.value = v;
      r.source_id = rd_kafka_ConfigEntry_source(entries[k]);
      r.source = rd_kafka_ConfigSource_name(r.source_id);
      r.read_only = rd_kafka_ConfigEntry_is_read_only(entries[k]);
      r.is_default = rd_kafka_ConfigEntry_is_default(entries[k]);
      r.sensitive = rd_kafka_ConfigEntry_is_sensitive(entries[k]);
      rows.push_back(std::move(r));
    }
  }
  return rows;
}

void json_configs(Json& j, const std::vector<ConfigRow>& rows) {
  j.begin_array();
  for (const auto& r : rows) {
    j.begin_object().key("name").str(r.name).key("value").opt_str(r.value);
    j.key("source").str(r.source).key("default").boolean(r.is_default);
    j.key("read_only").boolean(r.read_only).key("sensitive").boolean(r.sensitive).end_object();
  }
  j.end_array();
}

int32_t parse_id(const std::string& s, const std::string& what) {
  try {
    size_t used = 0;
    const long v = std::stol(s, &used);
    if (used == s.size() && v >= 0 && v <= INT32_MAX) return static_cast<int32_t>(v);
  } catch (const std::exception&) {
  }
  usage_error("bad " + what + " in '" + s + "'");
}

std::optional<std::pair<std::string, int32_t>> split_topic_partition(const std::string& s) {
  const size_t colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  return std::make_pair(s.substr(0, colon), parse_id(s.substr(colon + 1), "partition"));
}

std::pair<std::string, std::string> split_kv(const std::string& s, const char* what) {
  auto eq = s.find('=');
  if (eq == std::string::npos || eq == 0) {
    usage_error(std::string(what) + ": expected key=value, got '" + s + "'");
  }
  return {s.substr(0, eq), s.substr(eq + 1)};
}

bool stderr_is_terminal() {
  return isatty(STDERR_FILENO) == 1;
}

namespace {
volatile std::sig_atomic_t g_stop = 0;
void on_stop_signal(int) {
  g_stop = 1;
}
}  // namespace

void install_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool stop_requested() {
  return g_stop != 0;
}

}  // namespace kaffa::cli
