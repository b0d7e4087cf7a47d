import Foundation

/// The folder checks that keep retention and the watcher from destroying or re-reading the daemon's own files:
/// retention deletes folders under `output`, so nothing the daemon must keep (its state, the model, the inputs) may
/// lie there, and outputs must never be watched as inputs. Paths are compared after resolving symlinks in the part
/// that exists, so a link cannot hide an overlap.
enum PathOverlap {
    static func check(_ c: ServiceConfig, source: String) throws {
        func fail(_ keys: String, _ problem: String) -> ConfigError { ConfigError("\(source): \(keys): \(problem)") }
        let output = resolved(c.output)
        let state = resolved(c.state)
        if output == state { throw fail("'output', 'state'", "the output and state folders must differ ('\(c.output)')") }
        if contains(output, state) {
            throw fail("'output', 'state'", "the state folder '\(c.state)' is inside the output folder '\(c.output)'; retention would delete it")
        }
        if contains(state, output) {
            throw fail("'output', 'state'", "the output folder '\(c.output)' is inside the state folder '\(c.state)'; keep them apart")
        }
        if contains(output, resolved(c.model)) || output == resolved(c.model) {
            throw fail("'output', 'model'", "the model '\(c.model)' is inside the output folder '\(c.output)'; retention would delete it")
        }
        for (i, w) in c.watch.enumerated() {
            let watched = resolved(w.path)
            let key = "'output', 'watch[\(i)]'"
            if watched == output {
                throw fail(key, "'\(c.output)' is both the output and a watch folder")
            }
            if contains(output, watched) {
                throw fail(key, "the watch folder '\(w.path)' is inside the output folder '\(c.output)'; retention would delete inputs")
            }
            if contains(watched, output) && (w.recursive || parent(output) == watched) {
                throw fail(key, "the output folder '\(c.output)' is inside the watch folder '\(w.path)'; outputs are never watched, put them elsewhere")
            }
            if watched == state || contains(state, watched) {
                throw fail("'state', 'watch[\(i)]'", "the watch folder '\(w.path)' is inside the state folder '\(c.state)'")
            }
        }
    }

    /// Whether `inner` lies strictly below `outer`.
    static func contains(_ outer: String, _ inner: String) -> Bool {
        inner.hasPrefix(outer == "/" ? "/" : outer + "/") && inner != outer
    }

    static func parent(_ path: String) -> String { (path as NSString).deletingLastPathComponent }

    /// The absolute, normalised path with symlinks resolved in its longest existing prefix.
    static func resolved(_ path: String) -> String {
        let standard = URL(fileURLWithPath: path).standardizedFileURL.path
        var head = standard
        var tail: [String] = []
        while head != "/" && !head.isEmpty {
            if let real = realpath(head, nil) {
                defer { free(real) }
                let base = String(cString: real)
                return tail.isEmpty ? base : (base == "/" ? "" : base) + "/" + tail.reversed().joined(separator: "/")
            }
            tail.append((head as NSString).lastPathComponent)
            head = (head as NSString).deletingLastPathComponent
        }
        return standard
    }
}
