/// A media failure worth showing to an operator as is: one line that names the file involved.
public struct MediaError: Error, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
