// The one translation unit that compiles Asio's implementation (ASIO_SEPARATE_COMPILATION is set
// for every user of kaffa_net, so other files include only declarations).
#include <asio/impl/src.hpp>
