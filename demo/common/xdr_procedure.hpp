// SPDX-License-Identifier: MIT
// xdr_procedure.hpp - rpcgen's typed XDR functions as libtirpc's xdrproc_t.
//
// libtirpc declares xdrproc_t as bool_t (*)(XDR*, ...), so every rpcgen
// function (bool_t (*)(XDR*, T*)) needs a cast to be passed on; doing it
// here once keeps C-style casts out of the demos.
#ifndef QIO_DEMO_XDR_PROCEDURE_HPP
#define QIO_DEMO_XDR_PROCEDURE_HPP

#include <rpc/rpc.h> // XDR, bool_t, xdrproc_t (libtirpc)

namespace demo {

template <class Object> xdrproc_t xdr_procedure(bool_t (*function)(XDR*, Object*)) noexcept {
  return reinterpret_cast<xdrproc_t>(function);
}

} // namespace demo

#endif // QIO_DEMO_XDR_PROCEDURE_HPP
