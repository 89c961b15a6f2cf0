/* SPDX-License-Identifier: MIT */
/* xdr_glue/export.h - XDR_GLUE_EXPORT marks what libxdr_glue exports.
 * libxdr_glue is built with hidden visibility, as libqio is, and marks its
 * public functions the same way (see qio/export.h). */
#ifndef XDR_GLUE_EXPORT_H
#define XDR_GLUE_EXPORT_H

#include "qio/export.h" /* QIO_EXPORT */

#define XDR_GLUE_EXPORT QIO_EXPORT

#endif /* XDR_GLUE_EXPORT_H */
