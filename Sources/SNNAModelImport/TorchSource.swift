/// The state dicts inside PyTorch checkpoints: a DINO training checkpoint (`teacher`, else `student`), a classifier
/// checkpoint (`state_dict`), or a bare state dict (reference §1.6, §2).
enum TorchSource {
    static func entry(_ v: PickleValue, _ key: String) -> PickleValue? {
        guard case .dict(let items) = v else { return nil }
        return items.first { if case .string(key) = $0.key { return true } else { return false } }?.value
    }

    /// The string-keyed tensors of a dict, in order; other values (epochs, optimizer state, args) are skipped.
    static func tensors(_ v: PickleValue) -> [NamedTensor] {
        guard case .dict(let items) = v else { return [] }
        return items.compactMap { item in
            guard case .string(let name) = item.key, case .tensor(let t) = item.value else { return nil }
            return NamedTensor(name: name, shape: t.shape, values: t.values)
        }
    }

    static func backbone(_ path: String) throws -> (tensors: [NamedTensor], notes: [String]) {
        let root = try TorchCheckpoint.load(path: path)
        for key in ["teacher", "student", "state_dict", "model"] {
            if let sub = entry(root, key) {
                let t = tensors(sub)
                if !t.isEmpty { return (t, ["torch checkpoint, '\(key)' sub-dict"]) }
            }
        }
        let bare = tensors(root)
        guard !bare.isEmpty else {
            throw ImportError("'\(path)': no state dict found (looked for 'teacher', 'student', 'state_dict', 'model' and a bare dict of tensors)")
        }
        return (bare, ["torch checkpoint, bare state dict"])
    }

    static func head(_ path: String) throws -> [NamedTensor] {
        let root = try TorchCheckpoint.load(path: path)
        if let sd = entry(root, "state_dict") {
            let t = tensors(sd)
            if !t.isEmpty { return t }
        }
        let bare = tensors(root)
        guard !bare.isEmpty else { throw ImportError("'\(path)': no 'state_dict' and no tensors at the top level") }
        return bare
    }
}
