import Foundation
import Glibc
import Synchronization
import Testing
@testable import SNNAService

/// A raw TCP client on loopback: the tests need to hold connections open, send nothing, and see exactly when and
/// how the server closes them, which an HTTP client library hides.
final class RawConnection: @unchecked Sendable {  // used by one thread at a time
    let fd: Int32

    /// Connected, with every receive bounded by `receiveTimeout` so a test fails instead of hanging.
    init(port: Int, receiveTimeout: Double = 10) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawError("socket: \(String(cString: strerror(errno)))") }
        var timeout = timeval(tv_sec: Int(receiveTimeout), tv_usec: Int((receiveTimeout - receiveTimeout.rounded(.down)) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            throw RawError("connect to port \(port): \(reason)")
        }
    }

    deinit { Glibc.close(fd) }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw RawError("send: \(String(cString: strerror(errno)))") }
            sent += n
        }
    }

    func get(_ target: String, close: Bool = false) throws {
        try send("GET \(target) HTTP/1.1\r\nHost: localhost\r\n" + (close ? "Connection: close\r\n" : "") + "\r\n")
    }

    enum End: Equatable, Sendable { case closed, reset, timedOut }

    /// Everything until the server closes (or resets, or the receive timeout passes).
    func readToEnd() -> (data: [UInt8], end: End) {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n > 0 { data += buffer[0..<n]; continue }
            if n == 0 { return (data, .closed) }
            if errno == EINTR { continue }
            return (data, errno == EAGAIN || errno == EWOULDBLOCK ? .timedOut : .reset)
        }
    }

    /// One response on a kept-alive connection (bodies carry Content-Length).
    func readResponse() throws -> HTTPReply {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            if let reply = HTTPReply(data), reply.body.count >= reply.contentLength { return reply }
            let n = recv(fd, &buffer, buffer.count, 0)
            guard n > 0 else { throw RawError("connection ended before a whole response: \(String(decoding: data, as: UTF8.self))") }
            data += buffer[0..<n]
        }
    }
}

struct RawError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

struct HTTPReply: Sendable {
    let status: Int
    let headers: [String: String]  // lower-cased names
    let body: [UInt8]
    var contentLength: Int { headers["content-length"].flatMap { Int($0) } ?? body.count }
    var text: String { String(decoding: body, as: UTF8.self) }

    /// nil until the head is complete.
    init?(_ data: [UInt8]) {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = data.indices.first(where: { data[$0...].starts(with: separator) }) else { return nil }
        let lines = String(decoding: data[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { return nil }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        self.status = status
        self.headers = headers
        self.body = Array(data[(end + 4)...])
    }
}

/// Runs blocking socket work on a thread of its own: the server's handlers run on Swift's cooperative pool, which
/// a test blocked in recv(2) on that pool could starve. No expectations inside: that thread is outside the test's
/// task, so Swift Testing could not attribute them; the body returns what the test then checks.
func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}

/// Runs jobs on dispatch threads of its own. Swift Testing runs synchronous tests on the cooperative pool, which has
/// one thread per core: on a 2-core CI machine two real-process suites waiting on their daemons hold both, and a
/// server on that pool would answer nothing until they finish. This suite's server and test bodies run here instead.
final class DedicatedTaskExecutor: TaskExecutor, @unchecked Sendable {
    static let shared = DedicatedTaskExecutor()
    private let queue = DispatchQueue(label: "snna.http-tests", attributes: .concurrent)

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        queue.async { unowned.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

@Suite(.serialized) struct HTTPEndpointsTests {
    /// The endpoints on 127.0.0.1 with a kernel-picked port, a real job store in a temporary folder, for `body`,
    /// everything on `DedicatedTaskExecutor`.
    func withServer(idleTimeout: Duration = HTTPEndpoints.defaultIdleTimeout,
                    maxConnections: Int = HTTPEndpoints.defaultMaxConnections,
                    _ body: (JobStore, Int) async throws -> Void) async throws {
        try await withTaskExecutorPreference(DedicatedTaskExecutor.shared) {
            try await serve(idleTimeout: idleTimeout, maxConnections: maxConnections, body)
        }
    }

    private func serve(idleTimeout: Duration, maxConnections: Int,
                       _ body: (JobStore, Int) async throws -> Void) async throws {
        let folder = try makeTempFolder("http")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let store = try JobStore(folder: folder)
        let endpoints = HTTPEndpoints(store: store, metrics: ServiceMetrics(), current: { [] }, ready: { (true, "") })
        let (ports, announce) = AsyncStream<Int>.makeStream()
        let app = endpoints.application(address: try #require(HTTPAddress("127.0.0.1:0")), idleTimeout: idleTimeout,
                                        maxConnections: maxConnections, onListeningOnPort: { announce.yield($0) })
        let server = Task(executorPreference: DedicatedTaskExecutor.shared) { try await app.run() }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        do { try await body(store, port) } catch {
            server.cancel()
            _ = await server.result
            throw error
        }
        server.cancel()
        _ = await server.result
    }

    static func get(_ port: Int, _ target: String) async throws -> HTTPReply {
        try await blocking {
            let connection = try RawConnection(port: port)
            try connection.get(target, close: true)
            let (data, end) = connection.readToEnd()
            guard end == .closed, let reply = HTTPReply(data) else { throw RawError("no response to \(target): \(end)") }
            return reply
        }
    }

    static func ids(_ reply: HTTPReply) throws -> [Int64] {
        let array = try #require(try JSONSerialization.jsonObject(with: Data(reply.body)) as? [[String: Any]])
        return try array.map { try #require(($0["id"] as? NSNumber)?.int64Value) }
    }

    static func enqueue(_ store: JobStore, _ range: Range<Int>) throws -> [Int64] {
        try range.map { i in
            try #require(try store.enqueue(path: "/in/clip-\(i).mp4", size: 1000, mtime: 1_700_000_000,
                                           fingerprint: "fp-\(i)")?.id)
        }
    }

    // MARK: - Paging

    @Test func pagesCoverEveryJobOnceNewestFirst() async throws {
        try await withServer { store, port in
            let all = try Self.enqueue(store, 0..<250)
            var seen: [Int64] = []
            var target = "/api/jobs?limit=100"
            var pages = 0
            while true {
                let reply = try await Self.get(port, target)
                #expect(reply.status == 200)
                #expect(reply.headers["content-type"] == "application/json")
                let ids = try Self.ids(reply)
                seen += ids
                pages += 1
                if pages == 1 {
                    // Jobs queued while a client pages are newer than its cursor: they change no later page.
                    _ = try Self.enqueue(store, 250..<255)
                }
                guard let link = reply.headers["link"] else {
                    #expect(reply.headers["x-next-after"] == nil)
                    break
                }
                let last = try #require(ids.last)
                #expect(link == "</api/jobs?after=\(last)&limit=100>; rel=\"next\"")
                #expect(reply.headers["x-next-after"] == String(last))
                target = String(link.dropFirst().prefix { $0 != ">" })
                try #require(pages < 10, "paging does not end")
            }
            #expect(pages == 3)
            #expect(seen == all.reversed(), "each id once, newest first")

            // No parameters: the newest 100 (the five added while paging among them).
            let first = try Self.ids(try await Self.get(port, "/api/jobs"))
            #expect(first.count == 100 && first.first == all.last! + 5)
            // A page that holds everything announces no next one.
            let everything = try await Self.get(port, "/api/jobs?limit=1000")
            #expect(try Self.ids(everything).count == 255 && everything.headers["link"] == nil)
            // After the oldest id: an empty page, not an error.
            let past = try await Self.get(port, "/api/jobs?after=\(all.first!)")
            #expect(past.status == 200 && past.text == "[]" && past.headers["link"] == nil)
        }
    }

    @Test func badPageParametersAreA400WithAJSONError() async throws {
        try await withServer { store, port in
            _ = try Self.enqueue(store, 0..<3)
            let bad = ["limit=0", "limit=1001", "limit=-5", "limit=ten", "limit=", "limit=1.5",
                       "after=0", "after=-1", "after=abc", "after=99999999999999999999", "after=&limit=10"]
            for query in bad {
                let reply = try await Self.get(port, "/api/jobs?" + query)
                #expect(reply.status == 400, "\(query): \(reply.status)")
                #expect(reply.headers["content-type"] == "application/json", "\(query)")
                let object = try JSONSerialization.jsonObject(with: Data(reply.body)) as? [String: String]
                let message = try #require(object?["error"], "\(query): \(reply.text)")
                let name = query.hasPrefix("limit") ? "'limit'" : "'after'"
                #expect(message.contains(name), "\(query): \(message)")
            }
            // The edges of the valid range.
            #expect(try await Self.get(port, "/api/jobs?limit=1").status == 200)
            #expect(try await Self.get(port, "/api/jobs?limit=1000&after=1").status == 200)
        }
    }

    // MARK: - Connections

    @Test func connectionsBeyondTheCapAreAnswered503AndClosed() async throws {
        try await withServer(maxConnections: 3) { _, port in
            // Three connections, each served once and kept alive: they hold the three slots.
            var held: [RawConnection] = []
            for _ in 0..<3 {
                let connection = try RawConnection(port: port)
                let reply = try await blocking { try connection.get("/healthz"); return try connection.readResponse() }
                #expect(reply.status == 200 && reply.text == "ok\n")
                held.append(connection)
            }

            // The fourth hears 503 and is closed, whether it sends nothing or a request right away.
            for sendsRequest in [false, true] {
                let started = Date()
                let (data, end) = try await blocking {
                    let extra = try RawConnection(port: port)
                    if sendsRequest { try extra.get("/healthz") }
                    return extra.readToEnd()
                }
                let reply = HTTPReply(data)
                #expect(reply?.status == 503, "\(String(decoding: data, as: UTF8.self))")
                #expect(reply?.headers["connection"] == "close")
                #expect(reply?.text == "too many connections; retry shortly\n")
                #expect(end == .closed, "closed by the server, not left open: \(end)")
                #expect(Date().timeIntervalSince(started) < 5)
            }

            // The held ones are still served.
            let first = held[0]
            #expect(try await blocking { try first.get("/healthz"); return try first.readResponse() }.status == 200)

            // Closing one frees its slot (the server sees the close asynchronously: a few tries).
            held.removeLast()
            let served = try await blocking {
                for _ in 0..<50 {
                    let again = try RawConnection(port: port)
                    try again.get("/healthz", close: true)
                    if HTTPReply(again.readToEnd().data)?.status == 200 { return true }
                    usleep(100_000)
                }
                return false
            }
            #expect(served, "a closed connection's slot was not released")
        }
    }

    @Test func idleConnectionsAreClosedAfterTheTimeout() async throws {
        try await withServer(idleTimeout: .seconds(1)) { _, port in
            // Silent from the start.
            var started = Date()
            let silent = try await blocking { try RawConnection(port: port).readToEnd() }
            var elapsed = Date().timeIntervalSince(started)
            #expect(silent.end == .closed && silent.data.isEmpty)
            #expect(elapsed > 0.8 && elapsed < 5, "closed after \(elapsed) s")

            // Silent after a request: the timeout counts from the response.
            let served = try RawConnection(port: port)
            #expect(try await blocking { try served.get("/healthz"); return try served.readResponse() }.status == 200)
            started = Date()
            let rest = try await blocking { served.readToEnd() }
            elapsed = Date().timeIntervalSince(started)
            #expect(rest.end == .closed && rest.data.isEmpty)
            #expect(elapsed > 0.8 && elapsed < 5, "closed after \(elapsed) s")
        }
    }

    @Test func withTheDefaultTimeoutAnIdleConnectionStaysOpen() async throws {
        try await withServer { _, port in
            let quiet = try RawConnection(port: port, receiveTimeout: 2.5)
            #expect(try await blocking { quiet.readToEnd().end } == .timedOut, "closed although the idle timeout is 60 s")
            #expect(try await blocking { try quiet.get("/healthz"); return try quiet.readResponse() }.status == 200)
        }
    }
}
