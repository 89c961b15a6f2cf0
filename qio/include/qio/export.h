/* SPDX-License-Identifier: MIT */
/* qio/export.h - QIO_EXPORT marks what the shared libraries export.
 *
 * libqio and libxdr_glue are built with hidden visibility: only functions
 * and classes marked QIO_EXPORT (or XDR_GLUE_EXPORT) leave the library, so
 * the engine's internals are no part of its ABI. For programs using the
 * library the mark changes nothing.
 */
#ifndef QIO_EXPORT_H
#define QIO_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define QIO_EXPORT __attribute__((visibility("default")))
#else
#define QIO_EXPORT
#endif

#endif /* QIO_EXPORT_H */
