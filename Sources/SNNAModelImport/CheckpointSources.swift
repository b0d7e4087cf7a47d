import Foundation
import SNNAModel

/// Reads the tensors of a backbone or head checkpoint in any supported container, by file contents (not extension).
public enum CheckpointSources {
    public enum Kind: String, Sendable { case safetensors, torch, onnx }

    /// safetensors starts with a little-endian header length then '{'; a torch ≥ 1.6 file is a ZIP ('PK\x03\x04').
    public static func kind(of path: String) throws -> Kind {
        guard let h = FileHandle(forReadingAtPath: path) else {
            throw ImportError("cannot read '\(path)': \(FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file")")
        }
        defer { try? h.close() }
        let head = [UInt8]((try? h.read(upToCount: 16)) ?? Data())
        if head.count >= 4 && head[0] == 0x50 && head[1] == 0x4B && head[2] == 0x03 && head[3] == 0x04 { return .torch }
        if head.count >= 9 && head[8] == UInt8(ascii: "{") { return .safetensors }
        if path.lowercased().hasSuffix(".onnx") { return .onnx }
        if head.count >= 2 && head[0] == 0x80 { return .torch }  // a bare pickle: TorchCheckpoint names it as legacy
        throw ImportError("'\(path)' is neither a safetensors file, a PyTorch zip checkpoint nor an ONNX model")
    }

    /// Every float tensor of a safetensors file, in file order.
    public static func safetensors(_ path: String) throws -> [NamedTensor] {
        let file = try SafeTensorsFile(path: path)
        return try file.tensors.values.sorted { $0.dataRange.lowerBound < $1.dataRange.lowerBound }.compactMap { info in
            guard [.f32, .f16, .bf16].contains(info.dtype) else { return nil }
            return NamedTensor(name: info.name, shape: info.shape, values: try file.floats(info.name))
        }
    }
}
