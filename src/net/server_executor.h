// Access to a Server's event loops as Asio executors, for code that runs its own asynchronous
// work on them (e.g. per-partition owners pinned to one loop). Kept out of server.h so that code
// that only handles requests does not pay for the Asio headers.
#pragma once

#include <asio/io_context.hpp>
#include <cstddef>

#include "net/server.h"

namespace kaffa::net {

// Executor of event loop `thread_index` (< server.thread_count()). Valid while the Server lives.
asio::io_context::executor_type executor(Server& server, size_t thread_index);

}  // namespace kaffa::net
