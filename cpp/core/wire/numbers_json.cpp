// The canonical-form parser and the response writer of the numbers wire format.
#include "wire/numbers_json.hpp"

#include <bit>
#include <cstring>

namespace gilfree::wire {
namespace {

// Whether the 8 bytes at `p` are all ASCII digits, and if so their value (the 8-digit number
// they write), by SWAR: digit pairs, then quadruples, then the whole, in three multiplications.
bool eight_digits(const char* p, std::uint64_t& value) noexcept {
  std::uint64_t word = 0;
  std::memcpy(&word, p, sizeof word);
  if constexpr (std::endian::native == std::endian::big) word = __builtin_bswap64(word);
  constexpr std::uint64_t kHigh = 0xF0F0F0F0F0F0F0F0U;
  constexpr std::uint64_t kZeros = 0x3030303030303030U;
  // Every byte 0x30..0x39: its high nibble is 3, and adding 6 does not carry out of the nibble.
  if ((word & kHigh) != kZeros || ((word + 0x0606060606060606U) & kHigh) != kZeros) return false;
  word -= kZeros;  // byte i (the (i+1)-th digit) now holds its digit, the first in the low byte
  word = (word * 10U) + (word >> 8);  // low byte of each pair: 10 * first + second
  constexpr std::uint64_t kPairs = 0x000000FF000000FFU;
  word = (((word & kPairs) * (100U + (1'000'000ULL << 32))) +
          (((word >> 16) & kPairs) * (1U + (10'000ULL << 32)))) >>
         32;
  value = word;
  return true;
}

// Commas in [p, stop): byte-wide counters the compiler vectorises, added up every 255 bytes.
std::size_t count_commas(const char* p, const char* stop) noexcept {
  std::size_t commas = 0;
  while (p != stop) {
    const std::size_t block = stop - p < 255 ? static_cast<std::size_t>(stop - p) : 255U;
    std::uint8_t in_block = 0;
    for (std::size_t i = 0; i < block; ++i)
      in_block = static_cast<std::uint8_t>(in_block + (p[i] == ','));
    commas += in_block;
    p += block;
  }
  return commas;
}

class Cursor {
 public:
  explicit Cursor(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {}

  void skip_whitespace() noexcept {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }
  [[nodiscard]] bool at_end() const noexcept { return p_ == end_; }
  [[nodiscard]] char peek() const noexcept { return p_ != end_ ? *p_ : '\0'; }
  bool consume(char c) noexcept {
    if (p_ != end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }
  bool consume_word(std::string_view word) noexcept {
    if (static_cast<std::size_t>(end_ - p_) >= word.size() &&
        std::memcmp(p_, word.data(), word.size()) == 0) {
      p_ += word.size();
      return true;
    }
    return false;
  }

  // A string with no escapes and no control or non-ASCII bytes; false if it is anything else.
  bool plain_string(std::string_view& out) noexcept {
    if (!consume('"')) return false;
    const char* start = p_;
    while (p_ != end_) {
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        out = std::string_view(start, static_cast<std::size_t>(p_ - start));
        ++p_;
        return true;
      }
      if (c == '\\' || c < 0x20 || c >= 0x80) return false;
      ++p_;
    }
    return false;
  }

  // A JSON integer within int64; false for anything else (a fraction or exponent, leading zeros,
  // out of range, not a number).
  bool integer(std::int64_t& out) noexcept {
    const bool negative = consume('-');
    const char* digits = p_;
    std::uint64_t magnitude = 0;
    // Up to 19 digits cannot overflow uint64 (10^19 - 1 < 2^64): no check inside the loops.
    const char* limit = end_ - digits > 19 ? digits + 19 : end_;
    std::uint64_t eight = 0;
    if (limit - p_ >= 8 && eight_digits(p_, eight)) {  // a number of 8 digits or more
      magnitude = eight;
      p_ += 8;
      if (limit - p_ >= 8 && eight_digits(p_, eight)) {
        magnitude = magnitude * 100'000'000U + eight;
        p_ += 8;
      }
    }
    while (p_ != limit && static_cast<unsigned char>(*p_ - '0') < 10) {
      magnitude = magnitude * 10 + static_cast<std::uint64_t>(*p_ - '0');
      ++p_;
    }
    const auto count = p_ - digits;
    if (count == 0 || (count > 1 && *digits == '0')) return false;  // none, or a leading zero
    if (p_ != end_ &&
        (*p_ == '.' || *p_ == 'e' || *p_ == 'E' || static_cast<unsigned char>(*p_ - '0') < 10)) {
      return false;  // a float, or a 20th digit: beyond int64 either way
    }
    constexpr std::uint64_t kMaxMagnitude = std::uint64_t{1} << 63;  // |INT64_MIN|
    if (negative) {
      if (magnitude > kMaxMagnitude) return false;
      out = static_cast<std::int64_t>(0U - magnitude);  // C++20: two's complement
    } else {
      if (magnitude >= kMaxMagnitude) return false;
      out = static_cast<std::int64_t>(magnitude);
    }
    return true;
  }

  // Commas before the next ']' (an upper bound of the values in a canonical array): lets the
  // parser size its vector once.
  [[nodiscard]] std::size_t commas_before_bracket() const noexcept {
    const void* close = std::memchr(p_, ']', static_cast<std::size_t>(end_ - p_));
    const char* stop = close != nullptr ? static_cast<const char*>(close) : end_;
    return count_commas(p_, stop);
  }

  // A value under a key other than "numbers": only the simple scalars are taken.
  bool skippable_value() noexcept {
    std::int64_t ignored_number = 0;
    std::string_view ignored_text;
    switch (peek()) {
      case '"':
        return plain_string(ignored_text);
      case 't':
        return consume_word("true");
      case 'f':
        return consume_word("false");
      case 'n':
        return consume_word("null");
      default:
        return integer(ignored_number);
    }
  }

 private:
  const char* p_;
  const char* end_;
};

ParsedNumbers not_canonical() { return ParsedNumbers{}; }

}  // namespace

ParsedNumbers parse_numbers_request(std::string_view body, std::size_t max_numbers,
                                    memory::BufferCache& cache, kernels::StopPoll should_stop,
                                    const void* context) {
  Cursor in(body);
  ParsedNumbers result;
  bool found = false;
  in.skip_whitespace();
  if (!in.consume('{')) return not_canonical();
  in.skip_whitespace();
  if (!in.consume('}')) {
    for (;;) {
      std::string_view key;
      if (!in.plain_string(key)) return not_canonical();
      in.skip_whitespace();
      if (!in.consume(':')) return not_canonical();
      in.skip_whitespace();
      if (key == "numbers") {
        if (!in.consume('[')) return not_canonical();
        found = true;
        result.count = 0;  // a repeated key: the last one wins
        // Values before the closing bracket: at most one more than the commas before it.
        const std::size_t expected = in.commas_before_bracket() + 1;
        const std::size_t room = expected < max_numbers ? expected : max_numbers;
        result.storage = cache.take(room * sizeof(std::int64_t));
        auto* const values = reinterpret_cast<std::int64_t*>(result.storage.data());
        in.skip_whitespace();
        if (!in.consume(']')) {
          for (;;) {
            if (result.count % kParseStopPollValues == kParseStopPollValues - 1 &&
                should_stop != nullptr && should_stop(context)) {
              return ParsedNumbers{ParseStatus::kStopped, {}, {}, 0};
            }
            std::int64_t value = 0;
            if (!in.integer(value)) return not_canonical();
            // Past the limit the values are only counted: the answer (413) names the count, and
            // a body that turns out malformed further on still goes to the slow path, which
            // validates before it counts.
            if (result.count < room) {
              values[result.count] = value;
            } else if (result.count >= max_numbers) {
              result.storage = memory::Block();  // over the limit: only counted from here
            } else {
              return not_canonical();  // more values than commas allow: cannot happen
            }
            ++result.count;
            in.skip_whitespace();
            if (in.consume(']')) break;
            if (!in.consume(',')) return not_canonical();
            in.skip_whitespace();
          }
        }
      } else if (!in.skippable_value()) {
        return not_canonical();
      }
      in.skip_whitespace();
      if (in.consume('}')) break;
      if (!in.consume(',')) return not_canonical();
      in.skip_whitespace();
    }
  }
  in.skip_whitespace();
  if (!in.at_end() || !found) return not_canonical();
  if (result.count > max_numbers) {
    result.status = ParseStatus::kTooMany;
    result.storage = memory::Block();
  } else {
    result.status = ParseStatus::kOk;
    result.numbers = {reinterpret_cast<std::int64_t*>(result.storage.data()), result.count};
  }
  return result;
}

namespace {

std::uint64_t magnitude_of(std::int64_t value) noexcept {
  return value < 0 ? 0U - static_cast<std::uint64_t>(value) : static_cast<std::uint64_t>(value);
}

constexpr std::uint64_t kPowersOfTen[20] = {1U,
                                            10U,
                                            100U,
                                            1000U,
                                            10000U,
                                            100000U,
                                            1000000U,
                                            10000000U,
                                            100000000U,
                                            1000000000U,
                                            10000000000U,
                                            100000000000U,
                                            1000000000000U,
                                            10000000000000U,
                                            100000000000000U,
                                            1000000000000000U,
                                            10000000000000000U,
                                            100000000000000000U,
                                            1000000000000000000U,
                                            10000000000000000000U};

// Digits of a magnitude in constant time: log10 from the bit length (log10(2) ~ 1233 / 4096),
// then one comparison to correct it.
std::size_t digit_count(std::uint64_t magnitude) noexcept {
  const auto bits = static_cast<std::size_t>(64 - __builtin_clzll(magnitude | 1U));
  const std::size_t guess = (bits * 1233) >> 12;  // floor(log10(2^bits)), off by at most one
  const std::size_t digits = guess + (magnitude >= kPowersOfTen[guess] ? 1U : 0U);
  return digits == 0 ? 1 : digits;  // 0 is written with one digit
}

std::size_t decimal_length(std::int64_t value) noexcept {
  return digit_count(magnitude_of(value)) + (value < 0 ? 1 : 0);
}

// "00".."99": two digits per division.
constexpr char kDigitPairs[201] =
    "0001020304050607080910111213141516171819202122232425262728293031323334353637383940414243444546"
    "4748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293"
    "949596979899";

}  // namespace

std::size_t format_int64(std::int64_t value, char* out) noexcept {
  std::uint64_t magnitude = magnitude_of(value);
  std::size_t length = 0;
  if (value < 0) out[length++] = '-';
  const std::size_t digits = digit_count(magnitude);
  char* p = out + length + digits;  // written backwards from the end
  while (magnitude >= 100) {
    const auto pair = static_cast<std::size_t>(magnitude % 100) * 2;
    magnitude /= 100;
    *--p = kDigitPairs[pair + 1];
    *--p = kDigitPairs[pair];
  }
  if (magnitude >= 10) {
    const auto pair = static_cast<std::size_t>(magnitude) * 2;
    *--p = kDigitPairs[pair + 1];
    *--p = kDigitPairs[pair];
  } else {
    *--p = static_cast<char>('0' + magnitude);
  }
  return length + digits;
}

namespace {
constexpr std::string_view kHead = "{\"original_count\":";
constexpr std::string_view kMiddle = ",\"processed_result\":[";
}  // namespace

std::size_t response_head_size(std::size_t original_count) noexcept {
  return kHead.size() + decimal_length(static_cast<std::int64_t>(original_count)) + kMiddle.size();
}

char* write_response_head(std::size_t original_count, char* out) noexcept {
  std::memcpy(out, kHead.data(), kHead.size());
  out += kHead.size();
  out += format_int64(static_cast<std::int64_t>(original_count), out);
  std::memcpy(out, kMiddle.data(), kMiddle.size());
  return out + kMiddle.size();
}

std::size_t values_text_size(std::span<const std::int64_t> values, bool first) noexcept {
  if (values.empty()) return 0;
  // One comma before each value but the array's first.
  std::size_t size = values.size() - (first ? 1 : 0);
  for (const std::int64_t v : values) size += decimal_length(v);
  return size;
}

char* write_values_text(std::span<const std::int64_t> values, bool first, char* out) noexcept {
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i != 0 || !first) *out++ = ',';
    out += format_int64(values[i], out);
  }
  return out;
}

std::string write_numbers_response(std::size_t original_count,
                                   std::span<const std::int64_t> values) {
  // The exact size first (a pass over the values costs far less than a buffer sized for the
  // worst case, which would be three times the answer for small numbers).
  const std::size_t size =
      response_head_size(original_count) + values_text_size(values, true) + kResponseTail.size();
  std::string out(size, '\0');
  char* p = write_response_head(original_count, out.data());
  p = write_values_text(values, true, p);
  std::memcpy(p, kResponseTail.data(), kResponseTail.size());
  return out;
}

}  // namespace gilfree::wire
