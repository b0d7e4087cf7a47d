/// What a video file declares about its (first, best) video stream, as seen before decoding.
public struct VideoInfo: Sendable, Equatable {
    public var path: String
    /// AVInputFormat name, e.g. "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "mpegts", "avi".
    public var container: String
    /// Decoder name, e.g. "h264", "hevc", "mjpeg".
    public var codec: String
    /// As displayed, i.e. after `rotation` has been applied (90/270 swap the coded width and height).
    public var width: Int
    public var height: Int
    /// 0, 90, 180 or 270: clockwise degrees applied to the decoded picture to make it upright.
    public var rotation: Int
    /// avg_frame_rate (r_frame_rate when avg is 0/0), frames per second; 0 when neither is known.
    public var frameRate: Double
    /// The video stream's time base; every `VideoFrame.pts`/`duration` is in it.
    public var timeBaseNumerator: Int32
    public var timeBaseDenominator: Int32
    /// Seconds, if the stream or the container states it.
    public var duration: Double?
    /// Stream nb_frames if the container states it, else duration·fps rounded, else nil.
    public var frameCountEstimate: Int?

    public init(path: String, container: String, codec: String, width: Int, height: Int, rotation: Int,
                frameRate: Double, timeBaseNumerator: Int32, timeBaseDenominator: Int32,
                duration: Double?, frameCountEstimate: Int?) {
        self.path = path
        self.container = container
        self.codec = codec
        self.width = width
        self.height = height
        self.rotation = rotation
        self.frameRate = frameRate
        self.timeBaseNumerator = timeBaseNumerator
        self.timeBaseDenominator = timeBaseDenominator
        self.duration = duration
        self.frameCountEstimate = frameCountEstimate
    }

    /// One tick of the time base in seconds.
    var secondsPerTick: Double { Double(timeBaseNumerator) / Double(timeBaseDenominator) }
}

/// One decoded picture, upright, in RGB24.
public struct VideoFrame: Sendable {
    /// 0-based decode-output (= presentation) order.
    public var index: Int
    /// Presentation timestamp in the stream time base: best_effort_timestamp, or previous pts + one frame
    /// duration where the file has none.
    public var pts: Int64
    /// pts × time base: the number ffprobe prints as best_effort_timestamp_time.
    public var seconds: Double
    /// In the stream time base: the frame's own duration if known, else next pts − pts, else 1/fps.
    public var duration: Int64
    /// RGB24, rotated upright (width/height = VideoInfo.width/height).
    public var image: RGBImage

    public init(index: Int, pts: Int64, seconds: Double, duration: Int64, image: RGBImage) {
        self.index = index
        self.pts = pts
        self.seconds = seconds
        self.duration = duration
        self.image = image
    }
}
