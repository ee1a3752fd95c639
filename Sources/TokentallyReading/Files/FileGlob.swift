#if canImport(Glibc)
    import Glibc
#endif
import TokentallySystem

/// Shell-style glob expansion (`/var/log/gateway/access.log*`), with glob(3).
public enum FileGlob {
    /// The regular files matching `pattern`, sorted by path; empty when none match.
    public static func expand(_ pattern: String) -> [String] {
        var result = glob_t()
        defer { globfree(&result) }
        guard glob(pattern, 0, nil, &result) == 0 else { return [] }
        var paths: [String] = []
        for index in 0..<Int(result.gl_pathc) {
            guard let cString = result.gl_pathv[index] else { continue }
            let path = String(cString: cString)
            var info = stat()
            if stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG { paths.append(path) }
        }
        return paths.sorted()
    }

    /// Whether `path` is one that `pattern` names (fnmatch(3), `*` not crossing a `/`).
    public static func matches(_ pattern: String, _ path: String) -> Bool {
        fnmatch(pattern, path, FNM_PATHNAME) == 0
    }
}

extension RotatedFileSet {
    /// Groups full paths into rotated sets by directory and base name, each oldest first.
    public static func group(_ paths: [String]) -> [RotatedFileSet] {
        var groups: [String: [(directory: Substring, name: RotatedFileName)]] = [:]
        for path in paths {
            let slash = path.lastIndex(of: "/")
            let directory = slash.map { path[..<$0] } ?? ""
            let name = RotatedFileName(String(slash.map { path[path.index(after: $0)...] } ?? Substring(path)))
            groups[String(directory) + "/" + name.base, default: []].append((directory, name))
        }
        return groups.keys.sorted().map { key in
            let members = groups[key]!.sorted { RotatedFileName.olderFirst($0.name, $1.name) }
            return RotatedFileSet(
                base: key,
                paths: members.map { $0.directory.isEmpty ? $0.name.name : "\($0.directory)/\($0.name.name)" })
        }
    }
}
