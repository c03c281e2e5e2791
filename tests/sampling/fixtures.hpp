/// @file
/// Loading the sampling fixtures written by tools/reference/sampling_fixtures.py.
#pragma once

#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sampling_test {

/// tests/data/sampling/<name> parsed as JSON; the "cases" array.
inline nlohmann::json load_cases(const std::string& name) {
  const std::string path = std::string(SANA_TEST_DATA_DIR) + "/sampling/" + name;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open fixture " + path);
  return nlohmann::json::parse(in).at("cases");
}

/// A JSON array of numbers as float32 (the fixtures round-trip float32 exactly).
inline std::vector<float> floats(const nlohmann::json& j) {
  std::vector<float> out;
  out.reserve(j.size());
  for (const auto& v : j) out.push_back(static_cast<float>(v.get<double>()));
  return out;
}

inline std::vector<double> doubles(const nlohmann::json& j) {
  std::vector<double> out;
  for (const auto& v : j) out.push_back(v.get<double>());
  return out;
}

} // namespace sampling_test
