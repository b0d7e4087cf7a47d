import ArgumentParser
import Foundation
import SNNAKernels
import SNNAMedia
import SNNAModel
import SNNAModelImport

/// Prints one clear line on stderr and exits non-zero: the contract for every bad input.
func fail(_ message: String) -> ExitCode {
    FileHandle.standardError.write(Data("snna: error: \(message)\n".utf8))
    return ExitCode(1)
}

/// Runs a command body, turning the project's errors into one stderr line and exit status 1.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as ExitCode {
        throw e
    } catch let e as EngineError {
        throw fail(e.message)
    } catch let e as MediaError {
        throw fail(e.message)
    } catch let e as SafeTensorsError {
        throw fail(e.message)
    } catch let e as ImportError {
        throw fail(e.message)
    } catch let e as CLIError {
        throw fail(e.message)
    } catch {
        throw fail("\(error)")
    }
}

struct CLIError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// Checks, without creating anything, that a folder could be created or used at `path`: its first existing ancestor
/// must be a writable folder. So a bad output path fails before the compute, and a failed run leaves nothing behind.
func checkFolderLocation(_ path: String, option: String, naming given: String? = nil) throws {
    let shown = given ?? path
    var url = URL(fileURLWithPath: path).standardizedFileURL
    while true {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw CLIError("\(option) '\(shown)': '\(url.path)' is a file, not a folder")
            }
            guard access(url.path, W_OK) == 0 else {
                throw CLIError("\(option) '\(shown)': folder '\(url.path)' is not writable")
            }
            return
        }
        let parent = url.deletingLastPathComponent()
        if parent.path == url.path { return }
        url = parent
    }
}

/// The same check for a file's folder; "-" (stdout) needs nothing.
func checkOutputFile(_ path: String, option: String) throws {
    guard path != "-" else { return }
    try checkFolderLocation(URL(fileURLWithPath: path).deletingLastPathComponent().path, option: option, naming: path)
}

/// Creates a folder (and its parents) for an output option, or explains why it cannot.
func createFolder(_ path: String, option: String) throws {
    do {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    } catch {
        throw CLIError("cannot create folder '\(path)' for \(option): \((error as NSError).localizedDescription)")
    }
}

/// Writes data to a path (atomically: a temporary name, then a rename), or to stdout for "-".
func writeOutput(_ data: Data, to path: String, option: String) throws {
    if path == "-" {
        FileHandle.standardOutput.write(data)
        return
    }
    try createFolder(URL(fileURLWithPath: path).deletingLastPathComponent().path, option: option)
    do {
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
        throw CLIError("cannot write \(option) '\(path)': \((error as NSError).localizedDescription)")
    }
}
