// sana::parse_number: the whole text is the number, in range, finite; nothing else gets through.
#include <catch2/catch.hpp>

#include <cstdint>
#include <optional>

#include "sana/core/number.hpp"

using sana::parse_number;

TEST_CASE("parse_number accepts exactly one number", "[unit][number]") {
  CHECK(parse_number<int>("42") == 42);
  CHECK(parse_number<int>("-7") == -7);
  CHECK(parse_number<std::uint64_t>("18446744073709551615") == UINT64_MAX);
  CHECK(parse_number<double>("4.5") == 4.5);
  CHECK(parse_number<double>("-1e-3") == -1e-3);
  CHECK(parse_number<float>("0.25") == 0.25f);
}

TEST_CASE("parse_number rejects signs, spaces, overflow and non-finite values", "[unit][number][negative]") {
  for (const char* bad : {"", " 1", "1 ", "+1", "1x", "0x10", "1e3", "--1", "\t2"}) {
    INFO(bad);
    CHECK_FALSE(parse_number<int>(bad).has_value());
  }
  for (const char* bad : {"-1", " -1", "-0", "18446744073709551616", "+5"}) {
    INFO(bad);
    CHECK_FALSE(parse_number<std::uint64_t>(bad).has_value());
  }
  CHECK_FALSE(parse_number<std::int8_t>("128").has_value());
  CHECK_FALSE(parse_number<int>("4294967297").has_value());
  for (const char* bad : {"inf", "-inf", "nan", "1e999", "-1e999", "infinity", " 1.5", "1.5 ", "1,5", "0x1p3x"}) {
    INFO(bad);
    CHECK_FALSE(parse_number<double>(bad).has_value());
  }
  CHECK_FALSE(parse_number<float>("1e39").has_value());
}
