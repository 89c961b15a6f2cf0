// SPDX-License-Identifier: MIT
// version.cpp - the library's own version, for qio_version().
#include "qio/qio.h"

extern "C" const char* qio_version(void) { return QIO_VERSION_STRING; }
