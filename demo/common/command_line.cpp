// SPDX-License-Identifier: MIT
// command_line.cpp - parsing and checking the demos' options.
#include "command_line.hpp"

#include <charconv> // std::from_chars, strict number parsing
#include <cstdio>   // stdout, stderr
#include <cstdlib>  // std::exit

#include <fmt/core.h>

namespace demo {
namespace {

// Whether all of `text` parsed: from_chars alone accepts "12abc".
template <class Number> bool parse_whole(std::string_view text, Number& value) {
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  return !text.empty() && error == std::errc() && stop == end;
}

} // namespace

CommandLine::CommandLine(const Usage& usage, int argc, char** argv, int first) : usage_(usage) {
  for (int index = first; index < argc; ++index) {
    std::string_view argument = argv[index];
    if (argument == "--help" || argument == "-h") {
      print_help();
      std::exit(0);
    }
    if (!argument.starts_with("--") || argument.size() == 2)
      reject(fmt::format("unexpected argument '{}'", argument));
    argument.remove_prefix(2);
    const auto equals = argument.find('=');
    const std::string_view name = argument.substr(0, equals);
    const OptionSpec* spec = find(name);
    if (spec == nullptr)
      reject(fmt::format("unknown option '--{}'", name));
    if (spec->value_name.empty()) {
      if (equals != std::string_view::npos)
        reject(fmt::format("--{} takes no value", name));
      values_[std::string(name)] = "";
    } else if (equals != std::string_view::npos) {
      values_[std::string(name)] = std::string(argument.substr(equals + 1));
    } else if (index + 1 < argc) {
      values_[std::string(name)] = argv[++index];
    } else {
      reject(fmt::format("--{} needs a value ({})", name, spec->value_name));
    }
  }
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
  std::string words;
  for (const std::string_view word : allowed)
    words += fmt::format("{}{}", words.empty() ? "" : ", ", word);
  reject(fmt::format("--{} wants one of {}, not '{}'", name, words, value));
}

void CommandLine::reject(const std::string& message) const {
  fmt::print(stderr, "{}: {}\nTry '{} --help' for the options.\n", usage_.program, message,
             usage_.program);
  std::exit(2);
}

const OptionSpec* CommandLine::find(std::string_view name) const {
  for (const OptionSpec& spec : usage_.options)
    if (spec.name == name)
      return &spec;
  return nullptr;
}

void CommandLine::print_help() const {
  fmt::print("usage: {} {}\n\n{}\n\noptions:\n", usage_.program, usage_.synopsis,
             usage_.description);
  for (const OptionSpec& spec : usage_.options) {
    const std::string left = spec.value_name.empty()
                                 ? fmt::format("--{}", spec.name)
                                 : fmt::format("--{} {}", spec.name, spec.value_name);
    fmt::print("  {:<22} {}\n", left, spec.help);
  }
  fmt::print("  {:<22} {}\n", "--help", "show this help and exit");
}

} // namespace demo
