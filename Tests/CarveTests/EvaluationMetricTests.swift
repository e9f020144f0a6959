@testable import Carve
import Foundation
import Tensor
import Testing

// hoc's evaluation metrics on small hand-made masks, against values counted by hand (fg's
// IoU/precision/recall: FgTests.maskScoresOnHandMadeMasks).

@Suite struct EvaluationMetricTests {
    /// A [H, W] mask from rows of characters: '#' = `on`, '+' = 0.5 (not above the threshold), '.' = 0.
    static func mask(_ rows: [String], on: Float = 1) -> [Float] {
        rows.flatMap { $0.map { $0 == "#" ? on : $0 == "+" ? 0.5 : 0 } }
    }

    @Test func connectedComponentsAreFourConnectedAboveTheThreshold() {
        func sizes(_ rows: [String], threshold: Float = 0.5) -> [Int] {
            let m = Self.mask(rows)
            return m.withUnsafeBufferPointer {
                ConnectedComponents.sizes($0.baseAddress!, height: rows.count, width: rows[0].count, threshold: threshold)
            }.sorted()
        }
        // A U shape is one component of 8 pixels.
        #expect(sizes(["#..#", "#..#", "####", "...."]) == [8])
        // Diagonal neighbours are not connected (4-neighbourhood).
        #expect(sizes(["#...", ".#..", "..#.", "...#"]) == [1, 1, 1, 1])
        // Two blobs of 3 and 2, touching the borders.
        #expect(sizes(["##..", "#...", "...#", "...#"]) == [2, 3])
        // Exactly 0.5 is not above the threshold; at threshold 0.4 the '+' pixels join.
        #expect(sizes(["#+#.", "....", "....", "...."]) == [1, 1])
        #expect(sizes(["#+#.", "....", "....", "...."], threshold: 0.4) == [3])
        #expect(sizes(["....", "....", "....", "...."]).isEmpty)
    }

    @Test func maskMetricsCountedByHand() {
        // Three 6×6 masks:
        //   0: a 2×3 block of 1 (one component, 6 px, area 6/36);
        //   1: two diagonal pixels of 0.875 (two components, area 1.75/36);
        //   2: a 4×4 block of 0.75 in a field of 0.5 (one component of 16 px; area (12 + 20·0.5)/36).
        let masks: [[Float]] = [
            Self.mask(["......", ".###..", ".###..", "......", "......", "......"]),
            Self.mask(["#.....", ".#....", "......", "......", "......", "......"], on: 0.875),
            Self.mask(["++++++", "+####+", "+####+", "+####+", "+####+", "++++++"], on: 0.75),
        ]
        let instances = Tensor(shape: [3, 4, 6, 6]) { out in
            for (i, m) in masks.enumerated() {
                for c in 0..<3 { for j in 0..<36 { out[(i * 4 + c) * 36 + j] = 0.3 } }
                for j in 0..<36 { out[(i * 4 + 3) * 36 + j] = m[j] }
            }
        }
        let expectedArea = (6.0 / 36 + 1.75 / 36 + 22.0 / 36) / 3
        for (objectArea, expectedObjects) in [(nil, nil), (8.0, 2.0 / 3), (10.0, 2.0 / 3), (20.0, 1.0 / 3), (40.0, 0.0)] as [(Double?, Double?)] {
            let m = HocEvaluation.maskMetrics(instances: instances, objectArea: objectArea)
            #expect(abs(m.areaMean - expectedArea) <= 1e-15, "area \(m.areaMean) vs \(expectedArea)")
            #expect(m.singleComponentRate == 2.0 / 3)
            #expect(m.singleObjectRate == expectedObjects, "object area \(String(describing: objectArea)): \(String(describing: m.singleObjectRate))")
        }
    }

    @Test func instanceMapsAreFoundBesideTheirImages() {
        #expect(HocGroundTruth.mapPath(of: "/d/000_image.png") == "/d/000_instances.png")
        #expect(HocGroundTruth.mapPath(of: "/d/image-007.png") == "/d/instances-007.png")
        #expect(HocGroundTruth.mapPath(of: "/d/coins.jpg") == "/d/coins_instances.png")
    }

    /// `carve ckpt eval` of a hoc checkpoint on data with instance maps reports the shape measure
    /// and the classical baseline, scored against every object of the maps.
    @Test func hocEvaluationWithInstanceMapsReportsShapeAndBaseline() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("carve-hocref-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let data = root.appendingPathComponent("beans")
        try SynthHoc.write(to: data.path, count: 1, seed: 3)
        var config = try Presets.named("tiny")
        config.steps = 2
        _ = try Trainer(config: config, options: TrainOptions(runDirectory: root.appendingPathComponent("run"), dataPath: data.path, quiet: true),
                        communicator: LocalCommunicator()).train()
        let metrics = try Evaluator.evaluate(checkpoint: root.appendingPathComponent("run/checkpoints/step-00000002.safetensors"),
                                             dataPath: data.path, out: root.appendingPathComponent("eval"))
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: metrics)) as! [String: Any]
        let shape = try #require(report["shape_iou"] as? Double)
        #expect(shape >= 0 && shape <= 1)
        let baseline = try #require(report["baseline"] as? [String: Any])
        let labels = try LabelMap.read(path: data.appendingPathComponent("instances-000.png").path)
        #expect(baseline["true_count"] as? Int == Set(labels.labels).subtracting([0]).count)
        #expect((baseline["ap50"] as? Double).map { $0 >= 0 && $0 <= 1 } == true)
    }
}
