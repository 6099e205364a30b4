#pragma once

// The umbrella header of perdure: durable workflows (and, as the other
// modules land, virtual actors and events). `#include <perdure/perdure.hpp>`.

#include "perdure/runtime/context.hpp"
#include "perdure/runtime/engine.hpp"
#include "perdure/runtime/errors.hpp"
#include "perdure/runtime/graph.hpp"
#include "perdure/runtime/handle.hpp"
#include "perdure/runtime/metadata.hpp"
#include "perdure/runtime/options.hpp"
#include "perdure/runtime/step.hpp"
#include "perdure/runtime/values.hpp"
