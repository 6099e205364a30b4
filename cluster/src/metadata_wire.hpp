// SPDX-License-Identifier: Apache-2.0
#pragma once

// A workflow's and a step's metadata on the wire between the nodes of one
// cluster (request_kind::metadata, step_metadata): the owner encodes what
// its engine answers, the asking node decodes it. Nodes of one version:
// positional tuples, no field names.

#include "perdure/eventlog/status.hpp"

#include <perdure/runtime/metadata.hpp>

#include <string>
#include <string_view>

namespace perdure::cluster {

std::string encode_metadata(const workflow_metadata& m);
/// corruption: the bytes are not a workflow's metadata.
result<workflow_metadata> decode_metadata(std::string_view bytes);

std::string encode_step_metadata(const step_metadata& m);
/// corruption: the bytes are not a step's metadata.
result<step_metadata> decode_step_metadata(std::string_view bytes);

} // namespace perdure::cluster
