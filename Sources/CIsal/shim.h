#ifndef TOKENTALLY_CISAL_SHIM_H
#define TOKENTALLY_CISAL_SHIM_H

// ISA-L's igzip: a deflate decoder several times faster than zlib's, used to read gzip logs.
// zlib stays for writing gzip (the sample generator) and nothing else needs it.
#include <isa-l/igzip_lib.h>

#endif
