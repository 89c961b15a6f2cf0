// SPDX-License-Identifier: MIT
// error.hpp - an errno value as the std::error_code every C++ call returns.
#ifndef XDR_GLUE_SRC_ERROR_HPP
#define XDR_GLUE_SRC_ERROR_HPP

#include <system_error> // std::error_code, std::generic_category

namespace xdr_glue {

// 0 gives the empty (success) code.
inline std::error_code error_of(int value) noexcept {
  return {value, std::generic_category()};
}

} // namespace xdr_glue

#endif // XDR_GLUE_SRC_ERROR_HPP
