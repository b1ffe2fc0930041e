// The one binary: `kaffa serve [server.properties] [--override key=value]...`, `kaffa --version`,
// and the client verbs (topic, config, produce, consume, group, cluster: cli_*.cc).
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "base/file.h"
#include "base/log.h"
#include "broker/broker.h"
#include "broker/config.h"
#include "tools/cli_common.h"

#ifndef KAFFA_VERSION
#define KAFFA_VERSION "0.0.0"
#endif

namespace {

// A broker holds a descriptor per connection and per written partition (storage/README.md):
// the soft limit (often 1024) is raised to the hard one, as Kafka's packaged service files do
// with LimitNOFILE.
void raise_descriptor_limit() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0) return;
  if (r.rlim_cur < r.rlim_max) {
    const rlim_t was = r.rlim_cur;
    r.rlim_cur = r.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &r) != 0) {
      kaffa::log::warn("cannot raise the open file limit from {}", static_cast<uint64_t>(was));
      return;
    }
  }
  kaffa::log::info("open file limit {}", static_cast<uint64_t>(r.rlim_cur));
}

int serve(const std::string& properties_file, const std::vector<std::string>& overrides) {
  using namespace kaffa;
  std::map<std::string, std::string> props;
  if (!properties_file.empty()) {
    const auto text = file::read_all(properties_file);
    if (!text) {
      std::fprintf(stderr, "kaffa: cannot read %s\n", properties_file.c_str());
      return 2;
    }
    std::string error;
    if (!broker::parse_properties(*text, props, error)) {
      std::fprintf(stderr, "kaffa: %s: %s\n", properties_file.c_str(), error.c_str());
      return 2;
    }
  }
  broker::BrokerConfig config;
  if (auto err = broker::load_config(props, overrides, config)) {
    std::fprintf(stderr, "kaffa: configuration error: %s\n", err->message.c_str());
    return 2;
  }
  log::Level level;
  log::parse_level(config.log_level, level);
  log::set_level(level);
  log::Format format;
  log::parse_format(config.log_format, format);
  log::set_format(format);
  raise_descriptor_limit();
  for (const auto& notice : config.notices) log::warn("{}", notice);
  try {
    broker::Broker b(std::move(config));
    b.start();
    b.run();
    log::info("kaffa stopped");
  } catch (const std::exception& e) {
    log::error("kaffa cannot start: {}", e.what());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  namespace cli = kaffa::cli;
  CLI::App app{"Kaffa: a Kafka-compatible event store"};
  app.set_version_flag("--version", std::string("kaffa ") + KAFFA_VERSION);
  app.require_subcommand(1);
  app.fallthrough();  // client options may follow the verb: `kaffa topic list -b host:9092`

  auto* serve_cmd = app.add_subcommand("serve", "Run a broker (as kafka-server-start.sh)");
  std::string properties_file;
  std::vector<std::string> overrides;
  bool help_config = false;
  serve_cmd->add_option("properties", properties_file, "server.properties file")
      ->check(CLI::ExistingFile);
  serve_cmd->add_option("--override", overrides, "Override a setting: key=value (repeatable)");
  serve_cmd->add_flag("--help-config", help_config, "List every setting with its default");

  cli::Globals g;
  cli::add_global_options(app, g);
  cli::add_topic_commands(app, g);
  cli::add_config_commands(app, g);
  cli::add_produce_command(app, g);
  cli::add_consume_command(app, g);
  cli::add_group_commands(app, g);
  cli::add_cluster_commands(app, g);
  cli::add_user_commands(app, g);
  cli::add_acl_commands(app, g);
  cli::add_reassign_commands(app, g);
  cli::add_quota_commands(app, g);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);  // prints help, the version or the error
    return code == 0 ? 0 : cli::kExitUsage;
  }
  if (serve_cmd->parsed()) {
    if (help_config) {
      std::fputs(kaffa::broker::describe_settings().c_str(), stdout);
      return 0;
    }
    return serve(properties_file, overrides);
  }
  if (!g.run) return cli::kExitUsage;
  try {
    int code = g.run();
    std::fflush(stdout);
    return code;
  } catch (const cli::Failure& f) {
    std::fflush(stdout);
    std::fprintf(stderr, "kaffa: %s\n", f.what());
    return f.code;
  }
}
