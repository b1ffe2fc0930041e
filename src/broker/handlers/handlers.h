// The API handlers, one file each in this directory, and the table of what the broker advertises.
#pragma once

#include <cstdint>
#include <span>

#include "broker/request_context.h"

namespace kaffa::broker {

using HandlerFn = void (*)(RequestContext& ctx, Responder respond);

struct HandlerEntry {
  int16_t api_key;
  int16_t min_version;  // advertised range; requests outside it never reach the handler
  int16_t max_version;
  HandlerFn handle;
};

void handle_produce(RequestContext& ctx, Responder respond);
void handle_fetch(RequestContext& ctx, Responder respond);
void handle_list_offsets(RequestContext& ctx, Responder respond);
void handle_offset_commit(RequestContext& ctx, Responder respond);
void handle_offset_fetch(RequestContext& ctx, Responder respond);
void handle_find_coordinator(RequestContext& ctx, Responder respond);
void handle_join_group(RequestContext& ctx, Responder respond);
void handle_heartbeat(RequestContext& ctx, Responder respond);
void handle_leave_group(RequestContext& ctx, Responder respond);
void handle_sync_group(RequestContext& ctx, Responder respond);
void handle_describe_groups(RequestContext& ctx, Responder respond);
void handle_list_groups(RequestContext& ctx, Responder respond);
void handle_delete_groups(RequestContext& ctx, Responder respond);
void handle_offset_delete(RequestContext& ctx, Responder respond);
void handle_api_versions(RequestContext& ctx, Responder respond);
void handle_metadata(RequestContext& ctx, Responder respond);
void handle_create_topics(RequestContext& ctx, Responder respond);
void handle_delete_topics(RequestContext& ctx, Responder respond);
void handle_describe_configs(RequestContext& ctx, Responder respond);
void handle_alter_configs(RequestContext& ctx, Responder respond);
void handle_create_partitions(RequestContext& ctx, Responder respond);
void handle_elect_leaders(RequestContext& ctx, Responder respond);
void handle_alter_partition_reassignments(RequestContext& ctx, Responder respond);
void handle_list_partition_reassignments(RequestContext& ctx, Responder respond);
void handle_incremental_alter_configs(RequestContext& ctx, Responder respond);
void handle_delete_records(RequestContext& ctx, Responder respond);
void handle_init_producer_id(RequestContext& ctx, Responder respond);
void handle_add_partitions_to_txn(RequestContext& ctx, Responder respond);
void handle_add_offsets_to_txn(RequestContext& ctx, Responder respond);
void handle_end_txn(RequestContext& ctx, Responder respond);
void handle_write_txn_markers(RequestContext& ctx, Responder respond);
void handle_describe_producers(RequestContext& ctx, Responder respond);
void handle_describe_topic_partitions(RequestContext& ctx, Responder respond);
void handle_consumer_group_heartbeat(RequestContext& ctx, Responder respond);
void handle_consumer_group_describe(RequestContext& ctx, Responder respond);
void handle_describe_transactions(RequestContext& ctx, Responder respond);
void handle_list_transactions(RequestContext& ctx, Responder respond);
void handle_offset_for_leader_epoch(RequestContext& ctx, Responder respond);
void handle_txn_offset_commit(RequestContext& ctx, Responder respond);
void handle_describe_acls(RequestContext& ctx, Responder respond);
void handle_create_acls(RequestContext& ctx, Responder respond);
void handle_delete_acls(RequestContext& ctx, Responder respond);
void handle_describe_cluster(RequestContext& ctx, Responder respond);
void handle_alter_replica_log_dirs(RequestContext& ctx, Responder respond);
void handle_describe_log_dirs(RequestContext& ctx, Responder respond);
void handle_sasl_handshake(RequestContext& ctx, Responder respond);
void handle_sasl_authenticate(RequestContext& ctx, Responder respond);
void handle_describe_user_scram_credentials(RequestContext& ctx, Responder respond);
void handle_alter_user_scram_credentials(RequestContext& ctx, Responder respond);
void handle_describe_client_quotas(RequestContext& ctx, Responder respond);
void handle_alter_client_quotas(RequestContext& ctx, Responder respond);

// Sorted by API key. An API that is not implemented is not listed (and so not advertised).
std::span<const HandlerEntry> handler_table();
const HandlerEntry* find_handler(int16_t api_key);

}  // namespace kaffa::broker
