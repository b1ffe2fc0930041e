#include "cluster/controller.h"

#include "base/log.h"

namespace kaffa::cluster {

Controller::Controller(asio::io_context& io, Options options, Write write)
    : options_(options), write_(std::move(write)), rebalance_timer_(io), retry_timer_(io) {}

Controller::~Controller() {
  *alive_ = false;
}

void Controller::activate(ImagePtr image) {
  active_ = true;
  ++generation_;
  in_flight_.clear();
  image_ = std::move(image);
  act();
  if (options_.auto_leader_rebalance) schedule_rebalance();
}

void Controller::deactivate() {
  active_ = false;
  ++generation_;
  in_flight_.clear();
  rebalance_timer_.cancel();
  retry_timer_.cancel();
  retry_pending_ = false;
}

void Controller::on_image(ImagePtr image) {
  image_ = std::move(image);
  if (active_) act();
}

void Controller::set_unclean_leader_election(bool enabled) {
  if (options_.unclean_leader_election == enabled) return;
  options_.unclean_leader_election = enabled;
  act();
}

void Controller::act() {
  if (!active_ || !image_) return;
  apply(repair_changes(*image_, options_.unclean_leader_election));
}

void Controller::apply(std::vector<PartitionChange> changes) {
  for (auto& change : changes) {
    auto key = std::make_pair(change.topic, change.index);
    if (!in_flight_.insert(key).second) continue;
    log::info("controller: {}-{} -> leader {}, leader epoch {}, isr size {}", change.topic,
              change.index, change.next.leader, change.next.leader_epoch, change.next.isr.size());
    write_(change, [this, alive = alive_, gen = generation_, key](Outcome outcome) {
      if (!*alive || gen != generation_) return;
      in_flight_.erase(key);
      // Images that arrived while the write was in flight skipped this partition: look again.
      // After a lost race or a failure the image may not show the winner yet: after a pause.
      if (outcome == Outcome::applied) return act();
      schedule_retry();
    });
  }
}

void Controller::schedule_retry() {
  if (retry_pending_ || !active_) return;
  retry_pending_ = true;
  retry_timer_.expires_after(options_.retry_backoff);
  retry_timer_.async_wait([this, alive = alive_](std::error_code ec) {
    if (ec || !*alive) return;
    retry_pending_ = false;
    act();
  });
}

void Controller::schedule_rebalance() {
  rebalance_timer_.expires_after(options_.rebalance_interval);
  rebalance_timer_.async_wait([this, alive = alive_, gen = generation_](std::error_code ec) {
    if (ec || !*alive || gen != generation_ || !active_) return;
    if (image_) apply(rebalance_changes(*image_));
    schedule_rebalance();
  });
}

}  // namespace kaffa::cluster
