import Foundation
import Testing

/// `snna bench` on a tiny model: the JSON contract of issue #3 (figures themselves are machine-dependent and are
/// not asserted, only their consistency).
@Suite("snna bench") struct BenchCommandTests {
    @Test("bench --json writes every phase with consistent figures")
    func benchJSONHasEveryPhase() throws {
        try withTemporaryFolder { dir in
            let out = "\(dir)/bench.json"
            let run = try SNNA.run(["bench", "--random", "tiny", "--size", "64x112", "--repeat", "2", "--batch", "2",
                                    "--threads", "2", "--methods", "all", "--throughput-frames", "4", "--json", out],
                                   in: dir)
            #expect(run.status == 0, "\(run)")
            let data = try Data(contentsOf: URL(fileURLWithPath: out))
            let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            for key in ["cpu", "threads", "model", "input_size", "sgemm_gflops", "phases", "sgemm_shapes", "throughput"] {
                #expect(root[key] != nil, "missing \(key)")
            }
            #expect((root["threads"] as? Int) == 2)
            #expect((root["input_size"] as? [Int]) == [64, 112])
            let limit = try #require(root["sgemm_gflops"] as? Double)
            #expect(limit > 0)
            let phases = try #require(root["phases"] as? [[String: Any]])
            let names = phases.compactMap { $0["name"] as? String }
            #expect(names == ["forward", "forward_batch", "rawatt", "rollout", "gradient", "attgrad", "genericatt",
                              "normatt", "attig", "smoothgrad", "snna"])
            var gflop: [String: Double] = [:]
            for p in phases {
                let name = p["name"] as! String
                let median = try #require(p["seconds_median"] as? Double)
                let lo = try #require(p["seconds_min"] as? Double), hi = try #require(p["seconds_max"] as? Double)
                #expect(lo <= median && median <= hi && lo > 0, "\(name)")
                let g = try #require(p["gflop"] as? Double)
                gflop[name] = g
                let fraction = try #require(p["fraction_of_limit"] as? Double)
                #expect(abs(fraction - g / median / limit) <= 1e-9 * max(1, fraction), "\(name)")
                #expect((p["peak_rss_bytes"] as? Int ?? 0) > 0, "\(name)")
            }
            // FLOP model: SNNA = forward + backward + 3 noisy forwards; SmoothGrad has 25; AttIG 19 (α = 1 reused).
            let forward = gflop["forward"]!, backward = gflop["genericatt"]! - forward
            #expect(backward > 0)
            #expect(abs(gflop["snna"]! - (forward + backward + 3 * forward)) < 1e-6 * gflop["snna"]!)
            #expect(abs(gflop["smoothgrad"]! - (forward + backward + 25 * forward)) < 1e-6 * gflop["smoothgrad"]!)
            #expect(abs(gflop["attig"]! - (forward + backward + 19 * forward)) < 1e-6 * gflop["attig"]!)
            #expect(gflop["rawatt"]! < gflop["genericatt"]!)
            let throughput = try #require(root["throughput"] as? [[String: Any]])
            #expect(throughput.count == 2)
            for t in throughput { #expect((t["frames"] as? Int) == 4 && (t["frames_per_second"] as? Double ?? 0) > 0) }
        }
    }

    @Test("bench refuses bad sizes with one line")
    func benchRefusesBadSizes() throws {
        try withTemporaryFolder { dir in
            let run = try SNNA.run(["bench", "--random", "tiny", "--size", "huge"], in: dir)
            #expect(run.status == 1 && run.errLines.count == 1 && run.err.contains("--size"), "\(run)")
        }
    }
}
