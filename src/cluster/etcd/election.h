// Leader election on one key under a lease (what controller election uses).
//
// campaign(): a txn "if create_revision(key) == 0 then put(key, value, lease) else get(key)".
// Won: the campaigner is leader. Lost: it watches the key from the holder's revision and tries
// again when the key is deleted (the holder resigned, or its lease expired or was revoked).
// A key already held under this campaigner's own lease counts as won (a campaign repeated after
// a lost answer). Once leader, the key stays watched: if it is deleted or rewritten by anyone
// else, `on_lost` runs (leadership is gone; campaign again if wanted).
//
// resign(): deletes the key if it is still this campaign's (txn on its create_revision).
//
// Threading: like Client. Callbacks on its executor; cancel() stops campaigning and watching
// without touching the key.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "cluster/etcd/client.h"
#include "cluster/etcd/watch.h"

namespace kaffa::etcd {

class Election : public std::enable_shared_from_this<Election> {
 public:
  static std::shared_ptr<Election> create(std::shared_ptr<Client> client, std::string key,
                                          int64_t lease_id);

  // Completes with the leader key (ours: value, create_revision) once this campaigner leads,
  // or with an error (the campaign stops at the first error other than a transient watch
  // reconnect). `on_lost` is called if leadership is lost afterwards.
  void campaign(std::string value, Callback<KeyValue> done, std::function<void()> on_lost = {});
  // Gives up leadership (or stops a campaign in progress). Done when the key is deleted, or was
  // not ours any more.
  void resign(Callback<Done> done);
  // Stops campaigning and watching; the key is left alone.
  void cancel();

  bool leader() const { return leader_.has_value(); }
  // The current holder of the key, if any.
  void current_leader(Callback<std::optional<KeyValue>> done);

  Election(std::shared_ptr<Client> client, std::string key, int64_t lease_id);

 private:
  void try_acquire();
  void became_leader(KeyValue kv);
  void wait_for_deletion(int64_t from_revision);
  void fail(Error e);

  std::shared_ptr<Client> client_;
  std::string key_;
  int64_t lease_;
  std::string value_;
  Callback<KeyValue> done_;
  std::function<void()> on_lost_;
  std::shared_ptr<Watch> watch_;
  std::optional<KeyValue> leader_;
  bool active_ = false;
};

}  // namespace kaffa::etcd
