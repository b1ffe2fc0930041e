#include "broker/handlers/handlers.h"

namespace kaffa::broker {
namespace {

// Produce advertises 0 (librdkafka needs it to keep compression on) but answers 0-2 with an
// error; Fetch starts at 4 (record batch v2).
constexpr HandlerEntry kHandlers[] = {
    {0, 0, 11, handle_produce},
    {1, 4, 17, handle_fetch},
    {2, 0, 9, handle_list_offsets},
    {3, 0, 12, handle_metadata},
    {8, 0, 9, handle_offset_commit},
    {9, 0, 9, handle_offset_fetch},
    {10, 0, 6, handle_find_coordinator},
    {11, 0, 9, handle_join_group},
    {12, 0, 4, handle_heartbeat},
    {13, 0, 5, handle_leave_group},
    {14, 0, 5, handle_sync_group},
    {15, 0, 5, handle_describe_groups},
    {16, 0, 5, handle_list_groups},
    {17, 0, 1, handle_sasl_handshake},
    {18, 0, 3, handle_api_versions},
    {19, 0, 7, handle_create_topics},
    {20, 0, 6, handle_delete_topics},
    {21, 0, 2, handle_delete_records},
    {22, 0, 5, handle_init_producer_id},
    {23, 0, 4, handle_offset_for_leader_epoch},
    {24, 0, 5, handle_add_partitions_to_txn},
    {25, 0, 3, handle_add_offsets_to_txn},
    {26, 0, 3, handle_end_txn},
    {27, 0, 1, handle_write_txn_markers},
    {28, 0, 3, handle_txn_offset_commit},
    {29, 0, 3, handle_describe_acls},
    {30, 0, 3, handle_create_acls},
    {31, 0, 3, handle_delete_acls},
    {32, 0, 4, handle_describe_configs},
    {33, 0, 2, handle_alter_configs},
    {34, 0, 2, handle_alter_replica_log_dirs},
    {35, 0, 4, handle_describe_log_dirs},
    {36, 0, 2, handle_sasl_authenticate},
    {37, 0, 3, handle_create_partitions},
    {42, 0, 2, handle_delete_groups},
    {43, 0, 2, handle_elect_leaders},
    {44, 0, 1, handle_incremental_alter_configs},
    {45, 0, 0, handle_alter_partition_reassignments},
    {46, 0, 0, handle_list_partition_reassignments},
    {47, 0, 0, handle_offset_delete},
    {48, 0, 1, handle_describe_client_quotas},
    {49, 0, 1, handle_alter_client_quotas},
    {50, 0, 0, handle_describe_user_scram_credentials},
    {51, 0, 0, handle_alter_user_scram_credentials},
    {60, 0, 1, handle_describe_cluster},
    {61, 0, 0, handle_describe_producers},
    {65, 0, 0, handle_describe_transactions},
    {66, 0, 1, handle_list_transactions},
    {68, 0, 1, handle_consumer_group_heartbeat},
    {69, 0, 1, handle_consumer_group_describe},
    {75, 0, 0, handle_describe_topic_partitions},
};

}  // namespace

std::span<const HandlerEntry> handler_table() {
  return kHandlers;
}

const HandlerEntry* find_handler(int16_t api_key) {
  for (const auto& h : kHandlers) {
    if (h.api_key == api_key) return &h;
  }
  return nullptr;
}

}  // namespace kaffa::broker
