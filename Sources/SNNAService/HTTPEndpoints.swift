import Foundation
import Hummingbird
import HummingbirdCore
import NIOCore
import SNNAPipeline
import Synchronization

/// What `/status` reports about the work in progress.
struct CurrentWork: Codable, Sendable {
    var file: String
    var job: Int64
    var frames: Int
    var expected: Int?
    var started: Date
    /// When the worker last reported progress (the watchdog's and the stall check's measure).
    var lastProgress: Date
    /// The worker process's pid.
    var worker: Int32?
}

/// `/healthz`, `/readyz`, `/metrics`, `/status`, `/api/jobs` on Hummingbird, bound to `http.address`
/// (127.0.0.1 by default).
struct HTTPEndpoints {
    let store: JobStore
    let metrics: ServiceMetrics
    let current: @Sendable () -> [CurrentWork]
    let ready: @Sendable () -> (Bool, String)

    static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .iso8601
        return e
    }

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? encoder().encode(value)) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// Idle connections are closed after this long (no request, or no progress of one, for that time).
    static let defaultIdleTimeout: Duration = .seconds(60)
    /// Concurrent connections served; beyond them a connection is answered 503 and closed.
    static let defaultMaxConnections = 64

    func application(address: HTTPAddress, idleTimeout: Duration = defaultIdleTimeout,
                     maxConnections: Int = defaultMaxConnections,
                     onListening: @escaping @Sendable () -> Void) -> some ApplicationProtocol {
        application(address: address, idleTimeout: idleTimeout, maxConnections: maxConnections,
                    onListeningOnPort: { _ in onListening() })
    }

    /// As above, telling the port actually bound (the one asked for, or the kernel's pick for port 0).
    func application(address: HTTPAddress, idleTimeout: Duration = defaultIdleTimeout,
                     maxConnections: Int = defaultMaxConnections,
                     onListeningOnPort: @escaping @Sendable (Int) -> Void) -> some ApplicationProtocol {
        let router = Router()
        router.get("healthz") { _, _ in "ok\n" }
        router.get("readyz") { [ready] _, _ -> Response in
            let (ok, reason) = ready()
            return Response(status: ok ? .ok : .serviceUnavailable,
                            body: .init(byteBuffer: ByteBuffer(string: (ok ? "ready" : "not ready: \(reason)") + "\n")))
        }
        router.get("metrics") { [store, metrics] _, _ -> Response in
            metrics.refresh(from: store)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                            body: .init(byteBuffer: ByteBuffer(bytes: metrics.registry.emitToBuffer())))
        }
        router.get("status") { [store, current] _, _ -> Response in
            struct Status: Encodable {
                let state: String
                let current: [CurrentWork]
                let queue_depth: Int
                let counts: [String: Int]
                let recent: [Job]
            }
            let counts = (try? store.counts()) ?? [:]
            let now = current()
            return Self.json(Status(state: now.isEmpty ? "idle" : "processing", current: now,
                                    queue_depth: (try? store.queueDepth()) ?? 0,
                                    counts: Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value) }),
                                    recent: (try? store.jobs(limit: 10)) ?? []))
        }
        router.get("api/jobs") { [store] request, _ -> Response in
            Self.jobsPage(request, store: store)
        }
        let gate = ConnectionGate(limit: max(1, maxConnections))
        let timeout = TimeAmount(idleTimeout)
        let server = HTTPServerBuilder { responder in
            LimitedHTTP1Channel(base: HTTP1Channel(responder: responder, configuration: .init(idleTimeout: timeout)),
                                gate: gate)
        }
        return Application(router: router, server: server,
                           configuration: .init(address: .hostname(address.host, port: address.port), serverName: "snna"),
                           onServerRunning: { channel in onListeningOnPort(channel.localAddress?.port ?? address.port) })
    }
}
