// SPDX-License-Identifier: Apache-2.0
// partition_log is an interface; this file anchors its vtable.

#include "perdure/cluster/partition_log.hpp"
