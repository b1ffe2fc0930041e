// The controller: active on the one broker that holds the controller key (etcd_metadata.h runs
// the election). On winning and on every new image it applies the repair rules of
// controller_rules.h; every `rebalance_interval` (auto.leader.rebalance.enable) the preferred
// leader elections. Each change is written through `Write`, a compare-and-swap on the partition
// record's version (and on the controller key, so a deposed controller writes nothing): a lost
// CAS is simply dropped — the next image shows the new state and the rules run again. A write
// that failed for another reason (etcd unreachable) is retried on the newest image shortly after.
//
// Threading: the metadata thread only (the io_context given at construction).
#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "cluster/controller_rules.h"
#include "cluster/metadata_image.h"

namespace kaffa::cluster {

class Controller {
 public:
  enum class Outcome { applied, lost_race, failed };
  using Write = std::function<void(const PartitionChange&, std::function<void(Outcome)>)>;

  struct Options {
    bool unclean_leader_election = false;
    bool auto_leader_rebalance = true;
    std::chrono::milliseconds rebalance_interval{300000};
    std::chrono::milliseconds retry_backoff{500};
  };

  Controller(asio::io_context& io, Options options, Write write);
  ~Controller();

  void activate(ImagePtr image);
  void deactivate();
  bool active() const { return active_; }
  void on_image(ImagePtr image);
  // The broker default of unclean.leader.election.enable changed (a dynamic broker config): the
  // partitions are looked at again with it.
  void set_unclean_leader_election(bool enabled);

 private:
  void act();
  void apply(std::vector<PartitionChange> changes);
  void schedule_rebalance();
  void schedule_retry();

  Options options_;
  Write write_;
  asio::steady_timer rebalance_timer_;
  asio::steady_timer retry_timer_;
  ImagePtr image_;
  bool active_ = false;
  bool retry_pending_ = false;
  uint64_t generation_ = 0;  // of the current activation; callbacks of older ones are ignored
  std::set<std::pair<std::string, int32_t>> in_flight_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace kaffa::cluster
