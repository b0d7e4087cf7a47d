import Foundation
import SNNAModel

/// A backbone read from any supported file, already in DINO naming.
public struct BackboneSource: Sendable {
    public var kind: CheckpointSources.Kind
    public var backbone: [NamedTensor]
    /// `head.weight`/`head.bias` when the file carries an snna-vit/1 head (so it can be kept or swapped).
    public var head: [NamedTensor]
    /// What was dropped, fused or chosen, for the provenance.
    public var notes: [String]
    /// The settings of an snna-vit/1 file (input size, normalization, labels, …): the defaults when it is
    /// re-imported, so swapping a head keeps them.
    public var config: ViTConfig?
}

/// Reads backbones and heads for `snna model import`.
public enum ImportSources {
    public static func backbone(_ path: String) throws -> BackboneSource {
        let kind = try CheckpointSources.kind(of: path)
        var tensors: [NamedTensor]
        var notes: [String] = []
        var head: [NamedTensor] = []
        var config: ViTConfig?
        switch kind {
        case .safetensors:
            let file = try SafeTensorsFile(path: path)
            tensors = try CheckpointSources.safetensors(path)
            if file.metadata["format"] == ModelFile.format {
                head = tensors.filter { $0.name == "head.weight" || $0.name == "head.bias" }
                tensors.removeAll { $0.name == "head.weight" || $0.name == "head.bias" }
                notes.append("snna-vit/1 file")
                config = try ModelFile.load(path: path).config
            }
        case .torch:
            let read = try TorchSource.backbone(path)
            tensors = read.tensors
            notes += read.notes
        case .onnx:
            let read = try OnnxSource.backbone(path)
            tensors = read.tensors
            notes += read.notes
        }
        let converted = try BackboneNaming.toDINO(tensors)
        return BackboneSource(kind: kind, backbone: converted.tensors, head: head, notes: notes + converted.notes,
                              config: config)
    }

    /// A trained head: the authors' classifier checkpoint (`state_dict` → `module.linear.weight|bias`), or any
    /// safetensors/snna-vit/1 file with `head.weight|bias` or `linear.weight|bias`.
    public static func head(_ path: String) throws -> HeadSource {
        let tensors: [NamedTensor]
        switch try CheckpointSources.kind(of: path) {
        case .safetensors: tensors = try CheckpointSources.safetensors(path)
        case .torch: tensors = try TorchSource.head(path)
        case .onnx: throw ImportError("'\(path)': heads are read from PyTorch or safetensors files, not ONNX")
        }
        let stripped = tensors.map { NamedTensor(name: BackboneNaming.stripWrappers($0.name), shape: $0.shape, values: $0.values) }
        for prefix in ["linear.", "head.", "fc."] {
            if let w = stripped.first(where: { $0.name == prefix + "weight" }),
               let b = stripped.first(where: { $0.name == prefix + "bias" }) {
                return .trained(weight: w, bias: b, origin: "'\(path)' (\(prefix)weight|bias)")
            }
        }
        throw ImportError("'\(path)': no head found (looked for linear.*, head.* and fc.* weight and bias, after "
                          + "stripping 'module.'); found \(stripped.prefix(6).map(\.name).joined(separator: ", "))")
    }
}
