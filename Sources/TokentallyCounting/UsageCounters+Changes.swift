import TokentallySystem

/// How much of each append-only table existed at the last state commit, and the change
/// sequence then: what a journal commit writes is what came after.
struct CommitMark {
    var keys = 0
    var models = 0
    var providers = 0
    var series = 0
    var sequence: UInt64 = 0
}

// MARK: - Commits of what changed

extension UsageCounters {
    /// Writes what changed since the last commit (`markCommitted`), for the daemon's state
    /// journal: the names and series added, each period's retention place and the ordinals it
    /// keeps (so that evictions are implied), and, of each bucket a record changed, the cells it
    /// changed with their whole values and the bucket's summaries. Applied after the state it
    /// follows (`applyChanges`), it gives the counters `encode` would have written now. Needs
    /// `tracksChanges` since the last commit.
    public func encodeChanges(into writer: inout StateWriter) {
        foldUnfoldedPerformance()
        writer.write(calendar.timeZoneIdentifier)
        for (names, from) in [
            (keyNames, committed.keys), (modelNames, committed.models), (providerNames, committed.providers),
        ] {
            writer.write(UInt32(from))
            writer.write(UInt32(names.count - from))
            for name in names[from...] { writer.write(name) }
        }
        writer.write(UInt32(committed.series))
        writer.write(UInt32(seriesDimensions.count - committed.series))
        for series in seriesDimensions[committed.series...] {
            writer.write(series.key)
            writer.write(series.model)
            writer.write(series.provider)
        }
        for period in 0..<3 {
            writer.write(newestOrdinal[period])
            writer.write(anchorOrdinal[period])
            writer.write(lateDropped[period])
            let kept = buckets[period].keys.sorted()
            writer.write(UInt32(kept.count))
            for ordinal in kept { writer.write(ordinal) }
            let changed = kept.filter { buckets[period][$0]!.lastChange > committed.sequence }
            writer.write(UInt32(changed.count))
            for ordinal in changed { buckets[period][ordinal]!.encodeChanges(into: &writer) }
        }
        writer.write(overflowRecords)
        writer.write(recordsCounted)
        lifetime.encodeChanges(into: &writer)
    }

    /// Applies one record of `encodeChanges` to the counters of the commit before it. Throws
    /// when the record does not follow them (its tables do not start where these end).
    public func applyChanges(from reader: inout StateReader) throws(StateDecodingError) {
        let zone = try reader.readString()
        guard zone == calendar.timeZoneIdentifier else {
            throw StateDecodingError("the journal was counted in time zone \(zone), not \(calendar.timeZoneIdentifier)")
        }
        for table in 0..<3 {
            let from = Int(try reader.read(UInt32.self))
            let have = [keyNames.count, modelNames.count, providerNames.count][table]
            guard from == have else { throw StateDecodingError("the journal does not follow the state (names)") }
            let count = try reader.readCount(minimumItemSize: 4)
            for offset in 0..<count {
                let name = try reader.readString()
                let id: Int32
                switch table {
                case 0: id = keyID(named: name)
                case 1: id = name.utf8.withContiguousStorageIfAvailable { internModel(UnsafeRawBufferPointer($0)) }!
                default: id = name.utf8.withContiguousStorageIfAvailable { internProvider(UnsafeRawBufferPointer($0)) }!
                }
                guard Int(id) == from + offset else {
                    throw StateDecodingError("duplicate dimension names in the journal")
                }
            }
        }
        let from = Int(try reader.read(UInt32.self))
        guard from == seriesDimensions.count else {
            throw StateDecodingError("the journal does not follow the state (series)")
        }
        let added = try reader.readCount(minimumItemSize: 12)
        for offset in 0..<added {
            let key = try reader.read(Int32.self)
            let model = try reader.read(Int32.self)
            let provider = try reader.read(Int32.self)
            guard key >= 0, Int(key) < keyNames.count, model >= 0, Int(model) < modelNames.count, provider >= 0,
                Int(provider) < providerNames.count,
                series(key: key, model: model, provider: provider) == Int32(from + offset)
            else { throw StateDecodingError("series \(from + offset) in the journal is unknown or a duplicate") }
        }
        for period in 0..<3 {
            newestOrdinal[period] = try reader.read(Int32.self)
            anchorOrdinal[period] = try reader.read(Int32.self)
            guard anchorOrdinal[period] <= newestOrdinal[period] else {
                throw StateDecodingError("the retention anchor is newer than the newest bucket")
            }
            lateDropped[period] = try reader.read(UInt64.self)
            let keptCount = try reader.readCount(minimumItemSize: 4)
            var kept = Set<Int32>()
            for _ in 0..<keptCount { kept.insert(try reader.read(Int32.self)) }
            for ordinal in buckets[period].keys where !kept.contains(ordinal) {
                buckets[period][ordinal] = nil
                if hotBucket[period]?.ordinal == ordinal { hotBucket[period] = nil }
            }
            let changed = try reader.readCount(minimumItemSize: 16)
            for _ in 0..<changed {
                let place = try BucketAccumulator.decodePlace(from: &reader)
                guard place.period == period, kept.contains(place.ordinal) else {
                    throw StateDecodingError("a changed bucket of the journal is not kept")
                }
                let bucket: BucketAccumulator
                if let existing = buckets[period][place.ordinal] {
                    bucket = existing
                } else {
                    bucket = BucketAccumulator(period: Period.allCases[period], ordinal: place.ordinal)
                    buckets[period][place.ordinal] = bucket
                }
                try bucket.apply(from: &reader, seriesCount: seriesDimensions.count)
            }
            guard buckets[period].count == kept.count else {
                throw StateDecodingError("the journal keeps a bucket it never wrote")
            }
        }
        overflowRecords = try reader.read(UInt64.self)
        recordsCounted = try reader.read(UInt64.self)
        try lifetime.applyChanges(from: &reader, resolve: lifetimePlace)
    }

    /// Cells changed since the last commit, in all buckets: about 130 bytes each in a journal
    /// record.
    public var changedCellCount: Int {
        buckets.reduce(0) { sum, period in period.values.reduce(sum) { $0 + $1.changedCells.count } }
    }

    /// Marks everything as committed: the next `encodeChanges` writes what changes after now.
    public func markCommitted() {
        committed = CommitMark(
            keys: keyNames.count, models: modelNames.count, providers: providerNames.count,
            series: seriesDimensions.count, sequence: recordsCounted)
        lifetime.markCommitted()
        for period in 0..<3 {
            for bucket in buckets[period].values where !bucket.changedCells.isEmpty { bucket.clearChanges() }
        }
    }
}
