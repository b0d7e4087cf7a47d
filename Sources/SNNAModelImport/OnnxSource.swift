import SNNAModel

/// `snna model import --backbone model.onnx`: the ViT backbone inside an ONNX file, in DINO naming.
public enum OnnxSource {
    /// Reads the ONNX file and maps its initializers to DINO names (see `OnnxViTImporter`); tensors in the order
    /// `ModelFile.save` writes them. `heads` only validates (it must divide the width) and is recorded in the notes.
    public static func backbone(_ path: String, heads: Int? = nil) throws -> (tensors: [NamedTensor], notes: [String]) {
        let model = try OnnxModel(path: path)
        let read = try OnnxViTImporter.importBackbone(model, heads: heads)
        let tensors = OnnxViTImporter.orderedNames(read.tensors).map { name in
            NamedTensor(name: name, shape: read.tensors[name]!.shape, values: read.tensors[name]!.values)
        }
        return (tensors, [read.notes])
    }
}
