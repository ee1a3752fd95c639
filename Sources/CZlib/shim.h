#ifndef TOKENTALLY_CZLIB_SHIM_H
#define TOKENTALLY_CZLIB_SHIM_H

#include <zlib.h>

// zlib's init functions are macros that pass the library version and struct size; Swift
// cannot call macros, so these static inline forms stand in for them.

/// inflateInit2 with windowBits 15 + 32: accept a gzip or zlib header.
static inline int CZlib_inflateInit2(z_streamp stream, int windowBits) {
    return inflateInit2(stream, windowBits);
}

/// deflateInit2 for writing gzip members (windowBits 15 + 16).
static inline int CZlib_deflateInit2(z_streamp stream, int level, int windowBits) {
    return deflateInit2(stream, level, Z_DEFLATED, windowBits, 8, Z_DEFAULT_STRATEGY);
}

#endif
