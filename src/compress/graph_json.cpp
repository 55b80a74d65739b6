#include "compress/graph_json.h"

#include <cmath>
#include <limits>

#include "stern/error.h"

namespace stern::compress {
namespace {

json double_to_json(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return v;
}

double double_from_json(const json& j, const std::string& where) {
  if (j.is_number()) return j.get<double>();
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
    if (s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-inf") return -std::numeric_limits<double>::infinity();
  }
  fail(where, "expected a number, \"nan\", \"inf\" or \"-inf\"");
}

// Each attribute is a one-member object whose key is its type, so integers and floats that
// happen to be integral stay distinct: {"i": 3}, {"f": 0.5}, {"s": "relu"}, {"is": [..]},
// {"fs": [..]}.
json attrs_to_json(const Attributes& attrs) {
  json out = json::object();
  for (const auto& [key, value] : attrs) {
    json v;
    if (const auto* i = std::get_if<int64_t>(&value)) {
      v["i"] = *i;
    } else if (const auto* f = std::get_if<double>(&value)) {
      v["f"] = double_to_json(*f);
    } else if (const auto* s = std::get_if<std::string>(&value)) {
      v["s"] = *s;
    } else if (const auto* is = std::get_if<std::vector<int64_t>>(&value)) {
      v["is"] = *is;
    } else {
      json list = json::array();
      for (const double d : std::get<std::vector<double>>(value)) list.push_back(double_to_json(d));
      v["fs"] = std::move(list);
    }
    out[key] = std::move(v);
  }
  return out;
}

Attributes attrs_from_json(const json& j, const std::string& where) {
  if (!j.is_object()) fail(where, "expected an object of attributes");
  Attributes attrs;
  for (const auto& [key, v] : j.items()) {
    const std::string at = where + " attribute '" + key + "'";
    if (!v.is_object() || v.size() != 1) fail(at, "expected one {type: value} member");
    const std::string type = v.begin().key();
    const json& value = v.begin().value();
    if (type == "i") {
      if (!value.is_number_integer()) fail(at, "expected an integer");
      attrs[key] = value.get<int64_t>();
    } else if (type == "f") {
      attrs[key] = double_from_json(value, at);
    } else if (type == "s") {
      if (!value.is_string()) fail(at, "expected a string");
      attrs[key] = value.get<std::string>();
    } else if (type == "is") {
      std::vector<int64_t> list;
      if (!value.is_array()) fail(at, "expected a list of integers");
      for (const auto& e : value) {
        if (!e.is_number_integer()) fail(at, "expected a list of integers");
        list.push_back(e.get<int64_t>());
      }
      attrs[key] = std::move(list);
    } else if (type == "fs") {
      std::vector<double> list;
      if (!value.is_array()) fail(at, "expected a list of floats");
      for (const auto& e : value) list.push_back(double_from_json(e, at));
      attrs[key] = std::move(list);
    } else {
      fail(at, "unknown attribute type '" + type + "', expected i, f, s, is or fs");
    }
  }
  return attrs;
}

json values_to_json(const std::vector<ValueInfo>& values) {
  json out = json::array();
  for (const auto& v : values) out.push_back({{"name", v.name}, {"shape", v.shape}});
  return out;
}

std::vector<ValueInfo> values_from_json(const json& j, const char* key, const std::string& where) {
  std::vector<ValueInfo> values;
  for (const auto& v : get_array(j, key, where)) {
    const std::string at = where + " " + key;
    values.push_back({get_string(v, "name", at), get_ints(v, "shape", at)});
  }
  return values;
}

std::vector<std::string> strings_from_json(const json& j, const char* key, const std::string& where) {
  std::vector<std::string> out;
  for (const auto& s : get_array(j, key, where)) {
    if (!s.is_string()) fail(where, std::string("'") + key + "' must hold strings");
    out.push_back(s.get<std::string>());
  }
  return out;
}

}  // namespace

const json& member(const json& object, const char* key, const std::string& where) {
  if (!object.is_object()) fail(where, std::string("expected an object holding '") + key + "'");
  const auto it = object.find(key);
  if (it == object.end()) fail(where, std::string("missing field '") + key + "'");
  return *it;
}

int64_t get_int(const json& object, const char* key, const std::string& where) {
  const json& v = member(object, key, where);
  if (!v.is_number_integer()) fail(where, std::string("field '") + key + "' must be an integer");
  if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
    fail(where, std::string("field '") + key + "' is out of range");
  return v.get<int64_t>();
}

std::string get_string(const json& object, const char* key, const std::string& where) {
  const json& v = member(object, key, where);
  if (!v.is_string()) fail(where, std::string("field '") + key + "' must be a string");
  return v.get<std::string>();
}

const json& get_array(const json& object, const char* key, const std::string& where) {
  const json& v = member(object, key, where);
  if (!v.is_array()) fail(where, std::string("field '") + key + "' must be a list");
  return v;
}

std::vector<int64_t> get_ints(const json& object, const char* key, const std::string& where) {
  std::vector<int64_t> out;
  for (const auto& e : get_array(object, key, where)) {
    if (!e.is_number_integer()) fail(where, std::string("field '") + key + "' must hold integers");
    out.push_back(e.get<int64_t>());
  }
  return out;
}

json graph_to_json(const Graph& graph) {
  json nodes = json::array();
  for (const Node& n : graph.nodes) {
    nodes.push_back({{"op", op_name(n.op)},
                     {"name", n.name},
                     {"in", n.inputs},
                     {"out", n.outputs},
                     {"attrs", attrs_to_json(n.attrs)}});
  }
  return {{"inputs", values_to_json(graph.inputs)},
          {"outputs", values_to_json(graph.outputs)},
          {"nodes", std::move(nodes)},
          {"metadata", attrs_to_json(graph.metadata)}};
}

void graph_from_json(const json& j, Graph& graph, const std::string& where) {
  graph.inputs = values_from_json(j, "inputs", where);
  graph.outputs = values_from_json(j, "outputs", where);
  for (const auto& n : get_array(j, "nodes", where)) {
    const std::string at = where + " node " + std::to_string(graph.nodes.size());
    Node node;
    try {
      node.op = op_from_name(get_string(n, "op", at));
    } catch (const Error& e) {
      fail(at, e.what());
    }
    node.name = get_string(n, "name", at);
    node.inputs = strings_from_json(n, "in", at);
    node.outputs = strings_from_json(n, "out", at);
    node.attrs = attrs_from_json(member(n, "attrs", at), at);
    graph.nodes.push_back(std::move(node));
  }
  graph.metadata = attrs_from_json(member(j, "metadata", where), where + " metadata");
}

}  // namespace stern::compress
