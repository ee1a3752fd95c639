#ifndef TOKENTALLY_CSYSTEMD_SHIM_H
#define TOKENTALLY_CSYSTEMD_SHIM_H

#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <systemd/sd-daemon.h>

// Swift cannot call C variadic functions such as sd_journal_send or sd_notifyf: the project
// calls sd_journal_sendv (an array of iovecs) and builds sd_notify's strings in Swift.

#endif
