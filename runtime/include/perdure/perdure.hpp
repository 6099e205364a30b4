// SPDX-License-Identifier: Apache-2.0
#pragma once

// The umbrella header of perdure: durable workflows (and, as the other
// modules land, virtual actors and events). `#include <perdure/perdure.hpp>`.

#include "perdure/runtime/child.hpp"
#include "perdure/runtime/context.hpp"
#include "perdure/runtime/engine.hpp"
#include "perdure/runtime/errors.hpp"
#include "perdure/runtime/graph.hpp"
#include "perdure/runtime/handle.hpp"
#include "perdure/runtime/metadata.hpp"
#include "perdure/runtime/options.hpp"
#include "perdure/runtime/schedule.hpp"
#include "perdure/runtime/promise.hpp"
#include "perdure/runtime/race.hpp"
#include "perdure/runtime/retry.hpp"
#include "perdure/runtime/signal.hpp"
#include "perdure/runtime/step.hpp"
#include "perdure/runtime/values.hpp"
#include "perdure/eventlog/storage_dir.hpp"
#include "perdure/version.hpp"
// Virtual actors, for targets that link perdure_actors.
#if __has_include("perdure/actors/actor.hpp")
#include "perdure/actors/actor.hpp"
#endif
// Events (timers, custom listeners, Kafka), for targets that link
// perdure_listeners.
#if __has_include("perdure/listeners/events.hpp")
#include "perdure/listeners/events.hpp"
#if PERDURE_HAS_KAFKA
#include "perdure/listeners/kafka.hpp"
#endif
#endif
// Kafka records into virtual actors (deliver_to), when both are linked.
#if PERDURE_HAS_KAFKA && __has_include("perdure/listeners/kafka_actors.hpp") \
  && __has_include("perdure/actors/actor.hpp")
#include "perdure/listeners/kafka_actors.hpp"
#endif
