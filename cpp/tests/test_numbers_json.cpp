// Wire format tests: what the strict parser takes as canonical, what it leaves to the slow path,
// and the writer's exact output.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "wire/numbers_json.hpp"

namespace {

using gilfree::wire::parse_numbers_request;
using gilfree::wire::ParseStatus;
using gilfree::wire::write_numbers_response;

constexpr std::size_t kNoLimit = std::numeric_limits<std::size_t>::max();

std::vector<std::int64_t> ok(const std::string& body) {
  const auto parsed = parse_numbers_request(body, kNoLimit);
  EXPECT_EQ(parsed.status, ParseStatus::kOk) << body;
  EXPECT_EQ(parsed.count, parsed.numbers.size());
  return {parsed.numbers.begin(), parsed.numbers.end()};
}

bool canonical(const std::string& body) {
  return parse_numbers_request(body, kNoLimit).status == ParseStatus::kOk;
}

TEST(ParseNumbers, CanonicalForms) {
  EXPECT_EQ(ok(R"({"numbers":[1,2,3]})"), (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_EQ(ok(R"({"numbers": []})"), std::vector<std::int64_t>{});
  EXPECT_EQ(ok(" \t\r\n{ \"numbers\" : [ -1 , 0 ,\n7 ] } \n"),
            (std::vector<std::int64_t>{-1, 0, 7}));
  EXPECT_EQ(ok(R"({"numbers":[-0]})"), std::vector<std::int64_t>{0});
  EXPECT_EQ(ok(R"({"numbers":[9223372036854775807,-9223372036854775808]})"),
            (std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::max(),
                                       std::numeric_limits<std::int64_t>::min()}));
}

TEST(ParseNumbers, EveryDigitCountAndWhereTheDigitsStop) {
  // The parser takes digits eight at a time where it can: every length from 1 to 19 digits, each
  // followed by every byte that may end a number, and a non-digit at each place of an 8-byte word.
  std::string digits;
  std::uint64_t value = 0;
  for (int length = 1; length <= 19; ++length) {
    const char next = static_cast<char>('0' + (length * 7) % 9 + 1);
    digits += next;
    value = value * 10 + static_cast<std::uint64_t>(next - '0');
    const auto v = static_cast<std::int64_t>(value);
    for (const char* after : {"]}", " ]}", "\n]}"}) {
      EXPECT_EQ(ok("{\"numbers\":[" + digits + after), (std::vector<std::int64_t>{v})) << digits;
      EXPECT_EQ(ok("{\"numbers\":[-" + digits + after), (std::vector<std::int64_t>{-v}));
    }
    EXPECT_EQ(ok("{\"numbers\":[" + digits + "," + digits + "]}"),
              (std::vector<std::int64_t>{v, v}));
  }
  for (std::size_t at = 1; at < 16; ++at) {
    // '/' and ':' border the digits in ASCII; a space makes two numbers without a comma.
    for (const char stop : {'/', ':', '.', 'e', 'a', ' ', '\x80', '\xff'}) {
      std::string number(17, '7');
      number[at] = stop;
      EXPECT_FALSE(canonical("{\"numbers\":[" + number + "]}")) << number;
    }
  }
  EXPECT_FALSE(canonical(R"({"numbers":[01234567]})"));
  EXPECT_FALSE(canonical(R"({"numbers":[0123456789012]})"));
  EXPECT_FALSE(canonical(R"({"numbers":[12345678901234567890]})"));  // 20 digits
  EXPECT_FALSE(canonical(R"({"numbers":[9223372036854775808]})"));
  EXPECT_EQ(ok(R"({"numbers":[12345678,87654321,1234567812345678]})"),
            (std::vector<std::int64_t>{12345678, 87654321, 1234567812345678}));
}

TEST(ParseNumbers, OtherKeysAreSkippedWhenSimple) {
  EXPECT_EQ(ok(R"({"a":1,"numbers":[5],"b":"x","c":true,"d":false,"e":null,"f":-3})"),
            std::vector<std::int64_t>{5});
  EXPECT_FALSE(canonical(R"({"a":{"b":1},"numbers":[5]})"));
  EXPECT_FALSE(canonical(R"({"a":[1],"numbers":[5]})"));
  EXPECT_FALSE(canonical(R"({"a":1.5,"numbers":[5]})"));
  EXPECT_FALSE(canonical(R"({"a":"\n","numbers":[5]})"));
}

TEST(ParseNumbers, RepeatedKeyLastWins) {
  EXPECT_EQ(ok(R"({"numbers":[1,2],"numbers":[3]})"), std::vector<std::int64_t>{3});
  EXPECT_FALSE(canonical(R"({"numbers":[1],"numbers":"x"})"));
}

TEST(ParseNumbers, LeftToTheSlowPath) {
  for (const char* body : {
           "",
           " ",
           "[]",
           "[1,2]",
           "null",
           "{}",
           R"({"numbers":null})",
           R"({"numbers":[1.0]})",
           R"({"numbers":[1e3]})",
           R"({"numbers":[1E3]})",
           R"({"numbers":["12"]})",
           R"({"numbers":[[1]]})",
           R"({"numbers":[true]})",
           R"({"numbers":[01]})",
           R"({"numbers":[+1]})",
           R"({"numbers":[-]})",
           R"({"numbers":[1,]})",
           R"({"numbers":[,1]})",
           R"({"numbers":[1 2]})",
           R"({"numbers":[NaN]})",
           R"({"numbers":[Infinity]})",
           R"({"numbers":[9223372036854775808]})",
           R"({"numbers":[-9223372036854775809]})",
           R"({"numbers":[99999999999999999999999]})",
           R"({"numbers":[1]})"
           "x",
           R"({"numbers":[1]}{})",
           R"({"numbers":[1])",
           R"({"numbers":[1)",
           R"({"numb\u0065rs":[1]})",
           "{\"numbers\":[1]}\xef\xbb\xbf",
           "\xef\xbb\xbf{\"numbers\":[1]}",
           "{\"n\xc3\xa9\":1,\"numbers\":[1]}",
           R"({'numbers':[1]})",
           R"({numbers:[1]})",
           R"({"numbers" [1]})",
           "{\"numbers\":[1]\x0b}",
       }) {
    EXPECT_FALSE(canonical(body)) << body;
  }
}

TEST(ParseNumbers, TooManyCountsAllWithoutKeepingThem) {
  const auto parsed = parse_numbers_request(R"({"numbers":[1,2,3,4,5]})", 3);
  EXPECT_EQ(parsed.status, ParseStatus::kTooMany);
  EXPECT_EQ(parsed.count, 5U);
  EXPECT_TRUE(parsed.numbers.empty());
  // The last "numbers" decides, as for any repeated key.
  EXPECT_EQ(parse_numbers_request(R"({"numbers":[1,2,3,4],"numbers":[1]})", 3).status,
            ParseStatus::kOk);
  EXPECT_EQ(parse_numbers_request(R"({"numbers":[1,2,3]})", 3).status, ParseStatus::kOk);
  // Malformed anywhere, before or past the limit: the slow path answers.
  EXPECT_EQ(parse_numbers_request(R"({"numbers":[1,x,3,4]})", 3).status,
            ParseStatus::kNotCanonical);
  EXPECT_EQ(parse_numbers_request(R"({"numbers":[1,2,3,4,1.5]})", 3).status,
            ParseStatus::kNotCanonical);
}

struct PollCounter {
  mutable std::size_t polls = 0;
  std::size_t stop_at = 0;  // the poll that says stop (0: none)
};

bool counted_poll(const void* context) noexcept {
  const auto* counter = static_cast<const PollCounter*>(context);
  return ++counter->polls == counter->stop_at;
}

TEST(ParseNumbers, ALongParsePollsAndStopsWhenTold) {
  constexpr std::size_t kValues = 5 * gilfree::wire::kParseStopPollValues + 7;
  std::string body = R"({"numbers":[)";
  for (std::size_t i = 0; i < kValues; ++i) {
    if (i > 0) body += ',';
    body += std::to_string(i);
  }
  body += "]}";
  PollCounter never;
  const auto whole = parse_numbers_request(body, kValues, gilfree::memory::process_buffer_cache(),
                                           &counted_poll, &never);
  EXPECT_EQ(whole.status, ParseStatus::kOk);
  EXPECT_EQ(whole.count, kValues);
  EXPECT_EQ(never.polls, 5U);  // once every kParseStopPollValues values
  PollCounter second{0, 2};
  const auto stopped = parse_numbers_request(body, kValues, gilfree::memory::process_buffer_cache(),
                                             &counted_poll, &second);
  EXPECT_EQ(stopped.status, ParseStatus::kStopped);
  EXPECT_EQ(second.polls, 2U);
  EXPECT_EQ(stopped.count, 0U);
  EXPECT_TRUE(stopped.numbers.empty());
  EXPECT_TRUE(stopped.storage.empty());
  // A short parse never polls.
  PollCounter first{0, 1};
  EXPECT_EQ(parse_numbers_request(R"({"numbers":[1,2]})", 10,
                                  gilfree::memory::process_buffer_cache(), &counted_poll, &first)
                .status,
            ParseStatus::kOk);
  EXPECT_EQ(first.polls, 0U);
}

TEST(WriteNumbers, ExactJson) {
  EXPECT_EQ(write_numbers_response(0, {}), R"({"original_count":0,"processed_result":[]})");
  const std::vector<std::int64_t> values{0, -1, 42, std::numeric_limits<std::int64_t>::min(),
                                         std::numeric_limits<std::int64_t>::max()};
  EXPECT_EQ(write_numbers_response(values.size(), values),
            R"({"original_count":5,"processed_result":[0,-1,42,-9223372036854775808,)"
            R"(9223372036854775807]})");
}

TEST(WriteNumbers, FormatsEveryDigitCountExactly) {
  std::vector<std::int64_t> values{0, std::numeric_limits<std::int64_t>::min(),
                                   std::numeric_limits<std::int64_t>::max()};
  std::int64_t power = 1;
  for (int digits = 1; digits <= 18; ++digits) {
    power *= 10;
    for (std::int64_t v : {power - 1, power, power + 1}) {
      values.push_back(v);
      values.push_back(-v);
    }
  }
  char buffer[24];
  for (const std::int64_t v : values) {
    const std::size_t length = gilfree::wire::format_int64(v, buffer);
    EXPECT_EQ(std::string(buffer, length), std::to_string(v));
  }
}

// Every write within the value's own bytes: chunks of an answer are written side by side in
// parallel, so a stray byte would land in the next chunk's text.
TEST(WriteNumbers, FormatsRandomValuesOfEveryLengthInTheirOwnBytes) {
  std::mt19937_64 rng(11);
  char buffer[40];
  for (int i = 0; i < 200'000; ++i) {
    // A random magnitude of 1 to 64 bits, so that every digit count is drawn often.
    const auto bits = static_cast<unsigned>(rng() % 64);
    auto v = static_cast<std::int64_t>(rng() >> bits);
    if (rng() & 1U) v = -v;
    std::memset(buffer, '#', sizeof buffer);
    const std::size_t length = gilfree::wire::format_int64(v, buffer + 8);
    ASSERT_EQ(std::string(buffer + 8, length), std::to_string(v));
    ASSERT_EQ(buffer[7], '#');
    ASSERT_EQ(buffer[8 + length], '#');
  }
}

TEST(WriteNumbers, RoundTripsThroughTheParser) {
  std::mt19937_64 rng(5);
  std::vector<std::int64_t> values(10'000);
  for (auto& v : values) v = static_cast<std::int64_t>(rng());
  const std::string text = write_numbers_response(values.size(), values);
  // The response is itself canonical apart from the key: rename it and parse it back.
  const std::string body = "{\"numbers\"" + text.substr(text.find(":["));
  EXPECT_EQ(ok(body), values);
}

}  // namespace
