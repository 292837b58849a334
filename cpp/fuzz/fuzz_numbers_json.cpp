// libFuzzer target of the wire parser: no input crashes, hangs or reads out of bounds (ASan,
// UBSan), and whatever it takes as canonical round-trips exactly through the response writer.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "wire/numbers_json.hpp"

namespace {

constexpr std::size_t kMaxNumbers = 1000;

void check(bool condition) {
  if (!condition) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using gilfree::wire::ParseStatus;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const auto parsed = gilfree::wire::parse_numbers_request(body, kMaxNumbers);
  switch (parsed.status) {
    case ParseStatus::kNotCanonical:
      check(parsed.numbers.empty() || parsed.count == parsed.numbers.size());
      break;
    case ParseStatus::kTooMany:
      check(parsed.count > kMaxNumbers && parsed.numbers.empty());
      break;
    case ParseStatus::kOk: {
      check(parsed.count == parsed.numbers.size() && parsed.count <= kMaxNumbers);
      for (const char c : body) check(static_cast<unsigned char>(c) < 0x80);
      // The answer for these numbers, with its array under "numbers", parses back to them.
      const std::string text =
          gilfree::wire::write_numbers_response(parsed.numbers.size(), parsed.numbers);
      const std::string again = "{\"numbers\"" + text.substr(text.find(":["));
      const auto back = gilfree::wire::parse_numbers_request(again, kMaxNumbers);
      check(back.status == ParseStatus::kOk &&
            std::equal(back.numbers.begin(), back.numbers.end(), parsed.numbers.begin(),
                       parsed.numbers.end()));
      break;
    }
  }
  return 0;
}
