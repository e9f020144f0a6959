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

    /// A sampled instance is an object when its colour stands out from the cluster's average
    /// plate toward the objects' colour; the objects-only shape measure averages over those alone.
    @Test func sampledInstancesThatPaintBackgroundAreNotObjects() throws {
        let hw = 8 * 8
        let plates = [HocDataset.Plate(mean: [0.1, 0.1, 0.1], deviation: [0.02, 0.02, 0.02], objectColour: [0.7, 0.7, 0.7]),
                      HocDataset.Plate(mean: [0.3, 0.3, 0.3], deviation: [0.04, 0.04, 0.04], objectColour: [0.9, 0.9, 0.9])]
        let plate = try #require(HocDataset.averagePlate(plates))
        #expect(abs(plate.mean[0] - 0.2) < 1e-6 && abs(plate.objectColour![2] - 0.8) < 1e-6 && abs(plate.deviation[1] - 0.03) < 1e-6)
        // Instance 0 paints 0.85 (an object), instance 1 paints 0.3 (background), both over a
        // full 8 × 8 mask; instance 2 has an empty mask.
        let instances = Tensor(shape: [3, 4, 8, 8]) { out in
            for (i, grey) in [Float(0.85), 0.3, 0.9].enumerated() {
                for c in 0..<3 { for j in 0..<hw { out[(i * 4 + c) * hw + j] = grey } }
                for j in 0..<hw { out[(i * 4 + 3) * hw + j] = i == 2 ? 0 : 1 }
            }
        }
        #expect(HocEvaluation.objects(instances: instances, plate: plate) == [true, false, false])
        // A real 8 × 8 square (away from its map's border): instances 0 and 1 score alike, 2 zero.
        let map = LabelMap(height: 20, width: 20, labels: (0..<400).map { i in (6..<14).contains(i / 20) && (6..<14).contains(i % 20) ? 1 : 0 })
        let square = ShapeMatching.objects(from: map, scale: 1)
        let objectsOnly = HocEvaluation.shapeIoU(instances: instances, objects: square, including: [true, false, false])
        #expect(objectsOnly > 0.5)
        #expect(abs(HocEvaluation.shapeIoU(instances: instances, objects: square) - 2 * objectsOnly / 3) < 1e-12)
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
        let rate = try #require(report["object_rate"] as? Double)
        #expect(rate >= 0 && rate <= 1)
        #expect((report["shape_iou_objects"] as? Double).map { $0 >= 0 && $0 <= 1 } ?? (rate == 0))
        let baseline = try #require(report["baseline"] as? [String: Any])
        let labels = try LabelMap.read(path: data.appendingPathComponent("instances-000.png").path)
        #expect(baseline["true_count"] as? Int == Set(labels.labels).subtracting([0]).count)
        #expect((baseline["ap50"] as? Double).map { $0 >= 0 && $0 <= 1 } == true)
    }
}
