import Foundation
import Hummingbird
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

    func application(address: HTTPAddress, onListening: @escaping @Sendable () -> Void) -> some ApplicationProtocol {
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
        router.get("api/jobs") { [store] _, _ -> Response in
            Self.json((try? store.jobs(limit: 1000)) ?? [])
        }
        return Application(router: router,
                           configuration: .init(address: .hostname(address.host, port: address.port), serverName: "snna"),
                           onServerRunning: { _ in onListening() })
    }
}
