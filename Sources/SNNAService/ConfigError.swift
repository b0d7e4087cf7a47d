/// A configuration problem, naming the key (and the line, where the YAML parser gives it) or the environment
/// variable. `snna check-config` and `snna serve` exit 78 (EX_CONFIG) on it.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
    public static let exitCode: Int32 = 78
}
