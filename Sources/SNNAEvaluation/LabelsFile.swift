import Foundation

/// A labels file that cannot be used, in one line naming the file and the line or entry at fault.
public struct LabelsFileError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Labels for head fitting and evaluation: file name → one 0/1 value per model label. Either a JSON object
/// (`{"a.jpg": [1, 0, 0, 0]}`) or CSV lines `name,v1,…,vn`, with an optional header line naming the model's labels in
/// any order. The file comes from the user, so every malformed input is a `LabelsFileError`, never a trap.
public enum LabelsFile {
    /// The labels of the pictures in a folder: every picture the file lists must be there.
    public static func read(_ path: String, labels: [String], pictures folder: String) throws -> [String: [Float]] {
        let table = try read(path, labels: labels)
        for name in table.keys.sorted() where !FileManager.default.fileExists(atPath: folder + "/" + name) {
            throw LabelsFileError("labels file '\(path)' lists '\(name)', which is not in '\(folder)'")
        }
        return table
    }

    public static func read(_ path: String, labels: [String]) throws -> [String: [Float]] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LabelsFileError("cannot read labels file '\(path)'")
        }
        return try parse(data, labels: labels, source: path)
    }

    /// Parses a labels file's contents; `source` names it in errors.
    public static func parse(_ data: Data, labels: [String], source path: String) throws -> [String: [Float]] {
        let text = String(decoding: data, as: UTF8.self)
        var table: [String: [Float]] = [:]
        if text.trimmingCharacters(in: .whitespacesAndNewlines).hasPrefix("{") {
            guard let object = try? JSONDecoder().decode([String: [Float]].self, from: data) else {
                throw LabelsFileError("labels file '\(path)': expected a JSON object of file name → list of 0/1 numbers")
            }
            table = object
        } else {
            var order = Array(labels.indices)
            for (n, raw) in text.split(whereSeparator: \.isNewline).enumerated() {
                let fields = raw.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                if n == 0, fields.dropFirst().contains(where: { Float($0) == nil }) {
                    let columns = Array(fields.dropFirst())
                    guard columns.count == labels.count, Set(columns).count == columns.count else {
                        throw LabelsFileError("labels file '\(path)': the header needs each of the model's \(labels.count) labels once "
                                              + "(\(labels.joined(separator: ", "))), it has \(columns.joined(separator: ", "))")
                    }
                    order = try fields.dropFirst().map { name in
                        guard let i = labels.firstIndex(of: name) else {
                            throw LabelsFileError("labels file '\(path)': column '\(name)' is not a label of the model (\(labels.joined(separator: ", ")))")
                        }
                        return i
                    }
                    continue
                }
                guard fields.count == labels.count + 1, let name = fields.first else {
                    throw LabelsFileError("labels file '\(path)' line \(n + 1): expected a file name and \(labels.count) values")
                }
                var row = [Float](repeating: 0, count: labels.count)
                for (k, v) in fields.dropFirst().enumerated() {
                    guard let x = Float(v) else { throw LabelsFileError("labels file '\(path)' line \(n + 1): '\(v)' is not a number") }
                    row[order[k]] = x
                }
                table[name] = row
            }
        }
        for (name, row) in table where row.count != labels.count || !row.allSatisfy({ $0 == 0 || $0 == 1 }) {
            throw LabelsFileError("labels file '\(path)': '\(name)' needs \(labels.count) values of 0 or 1 (labels: \(labels.joined(separator: ", ")))")
        }
        return table
    }
}
