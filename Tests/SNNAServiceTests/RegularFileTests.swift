import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import SNNAService

private func folder() -> String {
    var template = Array("/tmp/snna-regular-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    precondition(made != nil)
    return template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}

private func seconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// The error `RegularFile.open` throws for `path` (nil when it opened).
private func refusal(_ path: String) -> RegularFileError? {
    do {
        let opened = try RegularFile.open(path: path)
        close(opened.fd)
        return nil
    } catch let error as RegularFileError {
        return error
    } catch {
        return RegularFileError(path: path, reason: "unexpected \(error)", errorNumber: nil)
    }
}

@Suite struct RegularFileTests {
    @Test func regularFileOpensBlockingWithItsStat() throws {
        let dir = folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/clip.mp4"
        try Data(repeating: 5, count: 1234).write(to: URL(fileURLWithPath: path))
        let (fd, st) = try RegularFile.open(path: path)
        defer { close(fd) }
        #expect(st.st_size == 1234)
        #expect(st.st_mode & S_IFMT == S_IFREG)
        #expect(fcntl(fd, F_GETFL) & O_NONBLOCK == 0, "O_NONBLOCK left on")
        #expect(fcntl(fd, F_GETFD) & FD_CLOEXEC != 0)
        var byte: UInt8 = 0
        #expect(read(fd, &byte, 1) == 1 && byte == 5)
        #expect(RegularFile.metadata(path: path)?.st_size == 1234)
    }

    @Test func fifoIsRefusedWithoutWaitingForAWriter() {
        let dir = folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fifo = dir + "/a.mp4"
        #expect(mkfifo(fifo, 0o644) == 0)
        // Should open() ever block here, a writer opening the FIFO after 2 s releases it; the timing then fails.
        DispatchQueue.global().asyncAfter(deadline: .now() + 2) {
            let fd = open(fifo, O_WRONLY | O_NONBLOCK)
            if fd >= 0 { close(fd) }
        }
        let t = seconds()
        let error = refusal(fifo)
        #expect(seconds() - t < 1, "open blocked on a FIFO")
        #expect(error?.reason == "a FIFO, not a regular file")
        #expect(error?.description == "cannot open '\(fifo)': a FIFO, not a regular file")
        #expect(RegularFile.metadata(path: fifo) == nil)
    }

    @Test func symlinkFolderSocketAndMissingPathAreRefused() throws {
        let dir = folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let target = dir + "/real.mp4"
        try Data(repeating: 1, count: 10).write(to: URL(fileURLWithPath: target))
        #expect(symlink(target, dir + "/link.mp4") == 0)
        let link = refusal(dir + "/link.mp4")
        #expect(link?.errorNumber == ELOOP)
        #expect(link?.reason == "a symbolic link, not a regular file")
        #expect(RegularFile.metadata(path: dir + "/link.mp4") == nil)

        #expect(mkdir(dir + "/sub.mp4", 0o755) == 0)
        #expect(refusal(dir + "/sub.mp4")?.reason == "a folder, not a regular file")

        // A Unix socket cannot be opened at all (ENXIO): refused with strerror.
        let sock = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(sock) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let sockPath = dir + "/s.mp4"
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in Array(sockPath.utf8).prefix(raw.count - 1).enumerated() { raw[i] = b }
        }
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(sock, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0)
        #expect(refusal(sockPath) != nil)
        #expect(RegularFile.metadata(path: sockPath) == nil)

        let missing = refusal(dir + "/none.mp4")
        #expect(missing?.errorNumber == ENOENT)
        #expect(missing?.reason == String(cString: strerror(ENOENT)))
    }
}
