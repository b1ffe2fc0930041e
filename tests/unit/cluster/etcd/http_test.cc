#include "cluster/etcd/http.h"

#include <gtest/gtest.h>
