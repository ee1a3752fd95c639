import TokentallyOutput

extension FileFollower {
    // MARK: - Status

    /// One status row per open file and per remembered record.
    func statuses() -> [FileStatus] {
        var rows: [FileStatus] = []
        for key in order {
            guard let file = files[key] else { continue }
            let size = file.file.status()?.size ?? 0
            let lag: UInt64
            if file.isGzip {
                lag = size > file.file.bytesRead ? size - file.file.bytesRead : (file.atEnd ? 0 : 1)
            } else {
                lag = size > file.offset ? size - file.offset : 0
            }
            rows.append(
                FileStatus(
                    path: file.path, device: file.device, inode: file.inode, fingerprint: file.fingerprint.description,
                    compressed: file.isGzip, offset: file.offset, lagBytes: lag, finished: false,
                    damage: file.stream.source.damage?.description))
        }
        // Records of files the last scan found (at the path it found them), and unfinished ones;
        // tombstones of deleted files are kept in the state a while, but not listed.
        for record in ledger where !record.finished || record.lastSeen >= lastScan {
            rows.append(
                FileStatus(
                    path: record.path, device: record.device, inode: record.inode,
                    fingerprint: record.fingerprint.description, compressed: record.isGzip, offset: record.offset,
                    lagBytes: 0, finished: record.finished, damage: record.damage))
        }
        for (path, error) in unreadable.sorted(by: { $0.key < $1.key }) {
            rows.append(
                FileStatus(path: path, compressed: false, offset: 0, lagBytes: 0, finished: false, error: error))
        }
        return rows
    }

    /// Bytes not yet read, over all open files.
    var lagBytes: UInt64 { statuses().reduce(0) { $0 + $1.lagBytes } }

    func statusSignature() -> [String] {
        statuses().map { "\($0.path)|\($0.finished)|\($0.error ?? "")|\($0.damage ?? "")" }
    }
}
