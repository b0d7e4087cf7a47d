// The header is the point of this module; SwiftPM wants a source file in a C target.
