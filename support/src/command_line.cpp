// SPDX-License-Identifier: MIT
// command_line.cpp - getopt_long under the programs' option tables, and
// the checks of their values.
#include "support/command_line.hpp"

#include <getopt.h> // getopt_long, struct option

#include <algorithm> // std::max
#include <charconv>  // std::from_chars, strict number parsing
#include <cstdio>    // stdout, stderr
#include <cstdlib>   // std::exit

#include <fmt/core.h>

namespace support {
namespace {

// getopt_long's code for usage.options[i] is first_long_code + i, past
// every short option's character; --help's comes after the last option.
constexpr int first_long_code = 256;

// Whether all of `text` parsed: from_chars alone accepts "12abc".
template <class Number> bool parse_whole(std::string_view text, Number& value) {
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  return !text.empty() && error == std::errc() && stop == end;
}

// "--name VALUE", as --help shows an option.
std::string option_with_value(const Option& option) {
  return option.value_name.empty() ? "--" + option.name
                                   : fmt::format("--{} {}", option.name, option.value_name);
}

// "a, b, c". (fmt::join would do, but parsing its format at run time sets
// off a false -Wstringop-overflow in g++ 12 at -O3.)
template <class Words> std::string listed(const Words& words) {
  std::string list;
  for (const auto& word : words)
    list += (list.empty() ? "" : ", ") + std::string(word);
  return list;
}

// The long options that `name` abbreviates, as getopt_long matches them.
std::vector<std::string> options_named(const std::vector<Option>& options, std::string_view name) {
  std::vector<std::string> matches;
  for (const Option& option : options)
    if (option.name.starts_with(name))
      matches.push_back("--" + option.name);
  return matches;
}

} // namespace

CommandLine::CommandLine(const Usage& usage, int argc, char** argv) : usage_(usage) {
  std::vector<option> table;
  for (const Option& spec : usage.options)
    table.push_back({spec.name.c_str(), spec.value_name.empty() ? no_argument : required_argument,
                     nullptr, first_long_code + static_cast<int>(table.size())});
  const int help_code = first_long_code + static_cast<int>(table.size());
  table.push_back({"help", no_argument, nullptr, help_code});
  table.push_back({nullptr, 0, nullptr, 0});
  // The messages are ours (one line, with the hint); a leading ':' tells a
  // missing value apart from an unknown option. optind = 0 starts afresh.
  opterr = 0;
  optind = 0;
  int code;
  while ((code = ::getopt_long(argc, argv, ":h", table.data(), nullptr)) != -1) {
    if (code == 'h' || code == help_code) {
      print_help();
      std::exit(0);
    }
    if (code == ':' || code == '?')
      reject_bad_option(code, argv[optind - 1]);
    take(code, optarg);
  }
  for (int index = optind; index < argc; ++index)
    operands_.emplace_back(argv[index]);
  if (operands_.size() > usage.most_operands)
    reject(fmt::format("unexpected argument '{}'", operands_[usage.most_operands]));
}

void CommandLine::take(int code, const char* value) {
  const Option& spec = usage_.options[static_cast<std::size_t>(code - first_long_code)];
  values_[spec.name] = value != nullptr ? value : "";
}

// getopt_long has just refused `argument`: ':' for a missing value, '?'
// for anything else, with optopt the option's code where it knew it.
void CommandLine::reject_bad_option(int code, const char* argument) const {
  const auto index = static_cast<std::size_t>(optopt - first_long_code);
  if (optopt >= first_long_code && index < usage_.options.size()) {
    const Option& spec = usage_.options[index];
    if (code == ':')
      reject(fmt::format("--{} needs a value ({})", spec.name, spec.value_name));
    reject(fmt::format("--{} takes no value", spec.name));
  }
  if (optopt >= first_long_code)
    reject("--help takes no value");
  if (optopt != 0)
    reject(fmt::format("unknown option -{}", static_cast<char>(optopt)));
  std::string_view given = argument;
  given = given.substr(0, given.find('='));
  const std::vector<std::string> matches =
      given.starts_with("--") ? options_named(usage_.options, given.substr(2))
                              : std::vector<std::string>{};
  if (matches.size() > 1)
    reject(fmt::format("ambiguous option {} ({})", given, listed(matches)));
  reject(fmt::format("unknown option {}", given));
}

bool CommandLine::given(std::string_view name) const { return values_.contains(name); }

std::string_view CommandLine::text(std::string_view name, std::string_view fallback) const {
  const auto found = values_.find(name);
  return found == values_.end() ? fallback : std::string_view(found->second);
}

std::uint64_t CommandLine::number(std::string_view name, std::uint64_t fallback,
                                  std::uint64_t minimum, std::uint64_t maximum) const {
  if (!given(name))
    return fallback;
  std::uint64_t value = 0;
  if (!parse_whole(text(name, ""), value) || value < minimum || value > maximum)
    reject(fmt::format("--{} wants a whole number from {} to {}, not '{}'", name, minimum,
                       maximum, text(name, "")));
  return value;
}

double CommandLine::seconds(std::string_view name, double fallback, double minimum,
                            double maximum) const {
  if (!given(name))
    return fallback;
  double value = 0;
  if (!parse_whole(text(name, ""), value) || !(value >= minimum && value <= maximum))
    reject(fmt::format("--{} wants a number of seconds from {} to {}, not '{}'", name, minimum,
                       maximum, text(name, "")));
  return value;
}

std::string_view CommandLine::choice(std::string_view name, std::string_view fallback,
                                     std::initializer_list<std::string_view> allowed) const {
  const std::string_view value = text(name, fallback);
  for (const std::string_view word : allowed)
    if (value == word)
      return word;
  reject(fmt::format("--{} wants one of {}, not '{}'", name, listed(allowed), value));
}

void CommandLine::reject(std::string_view message) const {
  fmt::print(stderr, "{}: {} (try --help)\n", usage_.program, message);
  std::exit(2);
}

void CommandLine::print_help() const {
  fmt::print("usage: {} {}\n\n{}\n\noptions:\n", usage_.program, usage_.synopsis,
             usage_.description);
  const Option help{"help", "", "show this help and exit"};
  std::size_t width = option_with_value(help).size();
  for (const Option& option : usage_.options)
    width = std::max(width, option_with_value(option).size());
  const std::string continuation = fmt::format("\n{:{}}", "", width + 4);
  auto print_option = [&](const Option& option) {
    std::string help_text = option.help;
    for (std::size_t at = help_text.find('\n'); at != std::string::npos;
         at = help_text.find('\n', at + continuation.size()))
      help_text.replace(at, 1, continuation);
    fmt::print("  {:<{}}  {}\n", option_with_value(option), width, help_text);
  };
  for (const Option& option : usage_.options)
    print_option(option);
  print_option(help);
}

} // namespace support
