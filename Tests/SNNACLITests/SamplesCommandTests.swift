// `snna samples render`: the real binary writes stills and a clip whose files agree with each other.
import Foundation
import SNNAMedia
import Testing

@Suite struct SamplesCommandTests {
    static let labels = ["move_forward", "slow_down", "turn_left", "turn_right"]

    func jsonObject(_ path: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw CLITestError.badJSON("\(path) is not a JSON object")
        }
        return object
    }

    func jsonLines(_ path: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw CLITestError.badJSON("a line of \(path) is not an object: \(line.prefix(200))")
            }
            return object
        }
    }

    /// Checks one scenes.jsonl / track.jsonl line against labels.json and the mask files.
    func checkLine(_ line: [String: Any], name: String, table: [String: Any], folder: String, width: Int, height: Int) throws {
        let labels = try #require(line["labels"] as? [String: Any])
        let vector = try #require(ExplainDoc.ints(table[name + ".png"]), "labels.json lacks \(name).png")
        #expect(Self.labels.map { (labels[$0] as? NSNumber)?.intValue ?? -1 } == vector, "\(name)")
        #expect(vector[0] + vector[1] == 1, "move_forward must be the opposite of slow_down in \(name)")
        #expect(vector[2] + vector[3] <= 1, "both turns in \(name)")
        let causes = line["causes"] as? [String: Any] ?? [:]
        let regions = line["regions"] as? [String: Any] ?? [:]
        let masks = line["masks"] as? [String: Any] ?? [:]
        for (k, label) in Self.labels.enumerated() {
            if vector[k] == 1 {
                let texts = try #require(causes[label] as? [String], "\(name): no causes for \(label)")
                let boxes = try #require(regions[label] as? [[Any]], "\(name): no regions for \(label)")
                #expect(!texts.isEmpty && texts.count == boxes.count)
                for box in boxes {
                    let b = try #require(ExplainDoc.ints(box))
                    #expect(b.count == 4 && b[0] >= 0 && b[1] >= 0 && b[2] <= width && b[3] <= height && b[0] < b[2] && b[1] < b[3],
                            "\(name) \(label) box \(b)")
                }
                let relative = try #require(masks[label] as? String)
                #expect(relative == "masks/\(name)-\(label).png")
                let mask = try ImageDecoder.decode(path: folder + "/" + relative)
                #expect(mask.width == width && mask.height == height)
                #expect(mask.pixels.contains(255))
            } else {
                #expect(causes[label] == nil && regions[label] == nil && masks[label] == nil, "\(name) \(label)")
                #expect(!fileExists("\(folder)/masks/\(name)-\(label).png"))
            }
        }
    }

    @Test func rendersStillsThatAgree() throws {
        try withTemporaryFolder { folder in
            let out = folder + "/set"
            let run = try SNNA.run(["samples", "render", "--out", out, "--frames", "6", "--width", "192", "--height", "108",
                                    "--seed", "5"], in: folder)
            #expect(run.status == 0, "\(run)")
            #expect(run.out.contains("rendered 6 stills") && run.out.contains("slow_down"), "\(run)")
            #expect(run.err.isEmpty)
            let table = try jsonObject(out + "/labels.json")
            #expect(table.count == 6)
            let lines = try jsonLines(out + "/scenes.jsonl")
            #expect(lines.count == 6)
            for (i, line) in lines.enumerated() {
                let name = String(format: "%06d", i)
                #expect(line["file"] as? String == name + ".png")
                let frame = try ImageDecoder.decode(path: "\(out)/frames/\(name).png")
                #expect(frame.width == 192 && frame.height == 108)
                try checkLine(line, name: name, table: table, folder: out, width: 192, height: 108)
            }
            // Same seed again: identical bytes; --quiet prints nothing.
            let again = try SNNA.run(["samples", "render", "--out", folder + "/again", "--frames", "6", "--width", "192",
                                      "--height", "108", "--seed", "5", "--quiet"], in: folder)
            #expect(again.status == 0 && again.out.isEmpty, "\(again)")
            for f in ["labels.json", "scenes.jsonl", "frames/000003.png"] {
                #expect(FileManager.default.contents(atPath: "\(out)/\(f)") == FileManager.default.contents(atPath: "\(folder)/again/\(f)"))
            }
            // A smaller render into the same folder leaves nothing of the bigger one (a stale mask would pass for a
            // region of the new frame), and nothing that is not the renderer's.
            try "mine".write(toFile: "\(out)/frames/notes.txt", atomically: true, encoding: .utf8)
            let smaller = try SNNA.run(["samples", "render", "--out", out, "--frames", "2", "--width", "192", "--height", "108",
                                        "--seed", "9", "--quiet"], in: folder)
            #expect(smaller.status == 0, "\(smaller)")
            let frames = try FileManager.default.contentsOfDirectory(atPath: out + "/frames").sorted()
            #expect(frames == ["000000.png", "000001.png", "notes.txt"], "\(frames)")
            let masks = try FileManager.default.contentsOfDirectory(atPath: out + "/masks")
            let listed = try jsonLines(out + "/scenes.jsonl").flatMap { ($0["masks"] as? [String: String] ?? [:]).values }
            #expect(Set(masks.map { "masks/" + $0 }) == Set(listed), "\(masks) vs \(listed)")
        }
    }

    @Test func rendersAClipWithATrack() throws {
        try withTemporaryFolder { folder in
            let out = folder + "/clip"
            let run = try SNNA.run(["samples", "render", "--out", out, "--clip", "2", "--fps", "10", "--width", "160",
                                    "--height", "90"], in: folder)
            #expect(run.status == 0, "\(run)")
            #expect(fileExists(out + "/clip.mp4"))
            let table = try jsonObject(out + "/labels.json")
            let lines = try jsonLines(out + "/track.jsonl")
            #expect(lines.count == 20 && table.count == 20)
            for (i, line) in lines.enumerated() {
                #expect((line["frame"] as? NSNumber)?.intValue == i)
                let time = try #require((line["time"] as? NSNumber)?.doubleValue)
                #expect(abs(time - Double(i) / 10) < 1e-3)
                try checkLine(line, name: String(format: "%06d", i), table: table, folder: out, width: 160, height: 90)
            }
            if let ffprobe = findOnPath("ffprobe") {
                let probe = try runProcess(ffprobe, ["-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                                                     "stream=nb_read_frames,width,height", "-of", "csv=p=0", out + "/clip.mp4"],
                                           in: folder, timeout: 60)
                #expect(probe.out.trimmingCharacters(in: .whitespacesAndNewlines) == "160,90,20", "\(probe)")
            }
            let video = try VideoReader(path: out + "/clip.mp4")
            #expect(video.info.width == 160 && video.info.height == 90)
        }
    }

    @Test func badOptionsFailWithOneLine() throws {
        try withTemporaryFolder { folder in
            FileManager.default.createFile(atPath: folder + "/f", contents: Data("x".utf8))
            let cases: [[String]] = [
                ["--out", folder + "/a", "--frames", "0"],
                ["--out", folder + "/a", "--frames=-3"],
                ["--out", folder + "/a", "--clip", "0"],
                ["--out", folder + "/a", "--clip=-1"],
                ["--out", folder + "/a", "--clip", "2", "--fps", "0"],
                ["--out", folder + "/a", "--width", "100"],
                ["--out", folder + "/a", "--height", "50000"],
                ["--out", folder + "/a", "--frames", "2", "--clip", "2"],
                ["--out", folder + "/f", "--frames", "1"],
                ["--out", folder + "/f/sub", "--frames", "1"],
            ]
            for arguments in cases {
                let run = try SNNA.run(["samples", "render"] + arguments, in: folder)
                #expect(run.status != 0, "\(run)")
                #expect(run.errLines.count == 1, "\(run)")
                #expect(run.err.hasPrefix("snna: error:") || run.err.hasPrefix("Error:"), "\(run)")
            }
            #expect(!fileExists(folder + "/a"), "a refused run must not create its folder")
        }
    }
}
