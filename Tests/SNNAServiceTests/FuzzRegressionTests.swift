import Foundation
import Testing
@testable import SNNAService

/// Configurations that trapped the loader (docs/fuzzing.md).
@Suite struct FuzzRegressionTests {
    /// Yams reads a plain scalar with colons as a base-60 integer (YAML 1.1 sexagesimal, `1:30` = 90) and multiplies
    /// its place value by 60 for every component with a trapping `*` (Yams Constructor.swift, String.sexagesimal):
    /// `workers: 1:1:…:1` with 25 components trapped in `Node.int`, and the daemon died on its configuration instead
    /// of naming the key. Found by the config fuzz target; the loader now parses numbers from the scalar's text.
    @Test func sexagesimalIntegerWithTooManyComponentsIsAnError() {
        let yaml = "watch: [/a]\noutput: /o\nstate: /s\nmodel: m\nworkers: \(Array(repeating: "1", count: 25).joined(separator: ":"))\n"
        #expect { _ = try ConfigLoader.parse(yaml, source: "t.yaml") } throws: { error in
            "\(error)".contains("'workers', line 5: expected an integer")
        }
    }
}
