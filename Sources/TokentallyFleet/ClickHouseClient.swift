#if canImport(Glibc)
    import Glibc
#endif

/// ClickHouse's HTTP interface (`POST /?database=…` with the query in the body), over a plain
/// TCP connection: one request per connection, `Connection: close`. Plain HTTP only: ClickHouse
/// listens on 8123 on its host or a private network; put a TLS-terminating proxy in front for
/// anything else (docs/fleet.md).
public struct ClickHouseClient: Sendable {
    public struct Endpoint: Sendable, Equatable, CustomStringConvertible {
        public var host: String
        public var port: Int
        public var user: String?
        public var password: String?

        /// `http://[user[:password]@]host[:port][/]`; the port defaults to 8123.
        public init?(_ url: String) {
            guard url.hasPrefix("http://") else { return nil }
            var rest = Substring(url.dropFirst("http://".count))
            if rest.hasSuffix("/") { rest = rest.dropLast() }
            guard !rest.contains("/"), !rest.isEmpty else { return nil }
            if let at = rest.lastIndex(of: "@") {
                let credentials = rest[..<at]
                rest = rest[rest.index(after: at)...]
                let parts = credentials.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
                user = String(parts[0])
                password = parts.count > 1 ? String(parts[1]) : nil
            }
            if let colon = rest.lastIndex(of: ":") {
                guard let port = Int(rest[rest.index(after: colon)...]), (1...65535).contains(port) else { return nil }
                self.port = port
                host = String(rest[..<colon])
            } else {
                port = 8123
                host = String(rest)
            }
            guard !host.isEmpty, !host.contains(" ") else { return nil }
        }

        /// The URL without its password, for messages.
        public var description: String { "http://\(user.map { "\($0)@" } ?? "")\(host):\(port)/" }
    }

    /// A failure: the server could not be reached (`unreachable`), or it answered with an error.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var unreachable: Bool
        public var message: String
        public var description: String { message }
    }

    public let endpoint: Endpoint
    public let timeoutSeconds: Int

    public init(endpoint: Endpoint, timeoutSeconds: Int = 30) {
        self.endpoint = endpoint
        self.timeoutSeconds = timeoutSeconds
    }

    /// Runs `query` (with `data` after it, for `INSERT … FORMAT JSONEachRow`) and returns the
    /// answer's body.
    @discardableResult
    public func execute(_ query: String, data: [UInt8] = []) throws(Failure) -> String {
        var body = Array(query.utf8)
        if !data.isEmpty {
            body.append(0x0A)
            body += data
        }
        var head = "POST / HTTP/1.1\r\nHost: \(endpoint.host):\(endpoint.port)\r\nConnection: close\r\n"
        head += "Content-Type: text/plain; charset=utf-8\r\nContent-Length: \(body.count)\r\n"
        if let user = endpoint.user { head += "X-ClickHouse-User: \(user)\r\n" }
        if let password = endpoint.password { head += "X-ClickHouse-Key: \(password)\r\n" }
        head += "\r\n"
        let socket = try connect()
        defer { close(socket) }
        try send(socket, Array(head.utf8) + body)
        let answer = try receive(socket)
        guard let split = Self.find([13, 10, 13, 10], in: answer) else {
            throw Failure(unreachable: true, message: "ClickHouse at \(endpoint) answered without HTTP headers")
        }
        let headers = String(decoding: answer[..<split], as: UTF8.self)
        var payload = Array(answer[(split + 4)...])
        if headers.lowercased().contains("transfer-encoding: chunked") { payload = Self.dechunk(payload) }
        let text = String(decoding: payload, as: UTF8.self)
        let status = headers.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) } ?? 0
        guard status == 200 else {
            let line = text.split(separator: "\n").first.map(String.init) ?? "HTTP \(status)"
            throw Failure(unreachable: status == 503, message: "ClickHouse at \(endpoint): \(line)")
        }
        return text
    }

    private func connect() throws(Failure) -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(endpoint.host, String(endpoint.port), &hints, &list)
        guard resolved == 0, let first = list else {
            throw Failure(
                unreachable: true,
                message: "cannot resolve \(endpoint.host): \(String(cString: gai_strerror(resolved)))")
        }
        defer { freeaddrinfo(list) }
        var reason = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            let socket = Glibc.socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
            if socket >= 0 {
                var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
                setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                setsockopt(socket, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                if Glibc.connect(socket, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { return socket }
                reason = String(cString: strerror(errno))
                close(socket)
            }
            entry = info.pointee.ai_next
        }
        throw Failure(unreachable: true, message: "cannot connect to ClickHouse at \(endpoint): \(reason)")
    }

    private func send(_ socket: Int32, _ bytes: [UInt8]) throws(Failure) {
        var sent = 0
        while sent < bytes.count {
            let count = bytes.withUnsafeBytes {
                Glibc.send(socket, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL))
            }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                throw Failure(
                    unreachable: true,
                    message: "sending to ClickHouse at \(endpoint): \(String(cString: strerror(errno)))")
            }
            sent += count
        }
    }

    private func receive(_ socket: Int32) throws(Failure) -> [UInt8] {
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress!, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            if count < 0 {
                throw Failure(
                    unreachable: true,
                    message: "reading from ClickHouse at \(endpoint): \(String(cString: strerror(errno)))")
            }
            if count == 0 { return answer }
            answer += buffer[0..<count]
        }
    }

    /// Where `needle` starts in `haystack` at or after `from`.
    static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int = 0) -> Int? {
        guard haystack.count >= needle.count, from <= haystack.count - needle.count else { return nil }
        for start in from...(haystack.count - needle.count)
        where haystack[start..<(start + needle.count)].elementsEqual(needle) {
            return start
        }
        return nil
    }

    /// The body of a `Transfer-Encoding: chunked` answer.
    static func dechunk(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var position = 0
        while let end = find([13, 10], in: bytes, from: position) {
            let sizeText = String(decoding: bytes[position..<end], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: " "), radix: 16), size > 0 else { break }
            let start = end + 2
            guard start + size <= bytes.count else { break }
            out += bytes[start..<(start + size)]
            position = start + size + 2
            guard position < bytes.count else { break }
        }
        return out
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in character: Character) -> Substring {
        var text = self
        while text.first == character { text.removeFirst() }
        while text.last == character { text.removeLast() }
        return text
    }
}
