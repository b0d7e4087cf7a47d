/// A checkpoint that cannot be imported, with the reason in one line naming the file and the entry or key.
public struct ImportError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
