#include "broker/handlers/handlers.h"

namespace kaffa::broker {
namespace {

constexpr HandlerEntry kHandlers[] = {
    {3, 0, 12, handle_metadata},
    {18, 0, 3, handle_api_versions},
    {19, 0, 7, handle_create_topics},
    {20, 0, 6, handle_delete_topics},
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
