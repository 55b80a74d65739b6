// The graph structure of a .sternz archive (everything but tensor payloads) as JSON, plus
// field accessors that reject a malformed header with a message naming the field. JSON keeps
// the archive header self-describing; zstd makes its verbosity cost a few hundred bytes.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "stern/graph.h"

namespace stern::compress {

using nlohmann::json;

// Inputs, outputs, nodes and metadata. Doubles round-trip exactly (shortest representation);
// NaN and infinities, which JSON lacks, travel as strings.
json graph_to_json(const Graph& graph);
// Fills graph.inputs/outputs/nodes/metadata; throws stern::Error prefixed with `where`.
void graph_from_json(const json& j, Graph& graph, const std::string& where);

// Checked access: the member must exist and have the requested type.
const json& member(const json& object, const char* key, const std::string& where);
int64_t get_int(const json& object, const char* key, const std::string& where);
std::string get_string(const json& object, const char* key, const std::string& where);
const json& get_array(const json& object, const char* key, const std::string& where);
std::vector<int64_t> get_ints(const json& object, const char* key, const std::string& where);

}  // namespace stern::compress
