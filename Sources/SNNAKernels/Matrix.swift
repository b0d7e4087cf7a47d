/// A dense row-major float32 matrix. Storage is a Swift array so copies are cheap until written.
public struct Matrix: Sendable, Equatable {
    public private(set) var rows: Int
    public private(set) var cols: Int
    public var data: [Float]

    public init(rows: Int, cols: Int, data: [Float]) {
        precondition(rows >= 0 && cols >= 0 && data.count == rows * cols, "Matrix \(rows)x\(cols) needs \(rows * cols) values, got \(data.count)")
        self.rows = rows
        self.cols = cols
        self.data = data
    }

    public init(rows: Int, cols: Int, repeating value: Float = 0) {
        self.init(rows: rows, cols: cols, data: [Float](repeating: value, count: rows * cols))
    }

    public subscript(row: Int, col: Int) -> Float {
        get { data[row * cols + col] }
        set { data[row * cols + col] = newValue }
    }

    /// One row, copied out.
    public func row(_ r: Int) -> [Float] { Array(data[(r * cols)..<((r + 1) * cols)]) }
}

/// An image tensor in channel-major (CHW) order, already normalized for the network.
public struct ImageTensor: Sendable, Equatable {
    public private(set) var channels: Int
    public private(set) var height: Int
    public private(set) var width: Int
    public var data: [Float]

    public init(channels: Int, height: Int, width: Int, data: [Float]) {
        precondition(data.count == channels * height * width, "ImageTensor shape does not match its data")
        self.channels = channels
        self.height = height
        self.width = width
        self.data = data
    }

    public subscript(c: Int, y: Int, x: Int) -> Float {
        get { data[(c * height + y) * width + x] }
        set { data[(c * height + y) * width + x] = newValue }
    }

    /// Keeps the top-left `height`×`width` corner (reference §3.1: the crop to a multiple of the patch).
    public func croppedTopLeft(height h: Int, width w: Int) -> ImageTensor {
        precondition(h <= height && w <= width)
        if h == height && w == width { return self }
        var out = [Float](repeating: 0, count: channels * h * w)
        for c in 0..<channels {
            for y in 0..<h {
                let src = (c * height + y) * width
                let dst = (c * h + y) * w
                for x in 0..<w { out[dst + x] = data[src + x] }
            }
        }
        return ImageTensor(channels: channels, height: h, width: w, data: out)
    }
}
