import TokentallySystem
/// Why a log line was not counted. The raw values are the codes written to index.json.
public enum RejectReason: UInt8, CaseIterable, Sendable, CustomStringConvertible {
    case invalidJSON
    case notObject
    case missingField
    case wrongType
    case invalidTokenCount
    case numberOutOfRange
    case invalidTimestamp
    case lineTooLong
    case invalidUTF8
    case nestingTooDeep
    /// A time further ahead of the daemon's clock than `limits.max_future_seconds`. Appended
    /// last: the raw values index the reject counts of committed state.
    case futureTimestamp

    /// The stable code used in snapshots and logs.
    public var code: String {
        switch self {
        case .invalidJSON: "invalid_json"
        case .notObject: "not_object"
        case .missingField: "missing_field"
        case .wrongType: "wrong_type"
        case .invalidTokenCount: "invalid_token_count"
        case .numberOutOfRange: "number_out_of_range"
        case .invalidTimestamp: "invalid_timestamp"
        case .lineTooLong: "line_too_long"
        case .invalidUTF8: "invalid_utf8"
        case .nestingTooDeep: "nesting_too_deep"
        case .futureTimestamp: "future_timestamp"
        }
    }

    public var description: String { code }
}

/// A rejected line's reason and, where one field was at fault, which one.
public struct Rejection: Error, Sendable, CustomStringConvertible {
    public var reason: RejectReason
    var field: CanonicalField?

    public init(_ reason: RejectReason, field: CanonicalField? = nil) {
        self.reason = reason
        self.field = field
    }

    public var description: String {
        if let field { return "\(reason.code) (\(field.rawValue))" }
        return reason.code
    }
}
