import CZlib
import TokentallyCore

/// The zlib version this binary is linked against, for `--version` output.
public var zlibVersionString: String { String(cString: zlibVersion()) }
