import Foundation
import Imaging
import Testing

@Suite struct SynthTests {
    func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    @Test func synthHocIsDeterministicAndItsGroundTruthIsConsistent() throws {
        let one = try TemporaryFolder(), two = try TemporaryFolder()
        defer { one.remove(); two.remove() }
        try SynthHoc.write(to: one.path, count: 2, seed: 9, height: 96, width: 96)
        try SynthHoc.write(to: two.path, count: 2, seed: 9, height: 96, width: 96)
        for name in ["image-000.png", "instances-001.png", "objects-001.json", "dataset.json"] {
            #expect(try bytes(one.file(name)) == bytes(two.file(name)), "\(name) differs")
        }
        #expect(try bytes(one.file("image-000.png")) != bytes(one.file("image-001.png")))

        let sample = SynthHoc.generate(seed: 9, index: 1, height: 96, width: 96)
        #expect(try LabelMap.read(path: one.file("instances-001.png")) == sample.labels)
        #expect(try Image.read(path: one.file("image-001.png")).height == 96)
        let objects = try JSONDecoder().decode([SynthHocObject].self, from: bytes(one.file("objects-001.json")))
        #expect(objects == sample.objects)
        var counts = [Int](repeating: 0, count: objects.count + 1)
        for id in sample.labels.labels { counts[Int(id)] += 1 }
        #expect(Double(counts[0]) <= SynthHoc.uncoveredFraction * 96 * 96, "the cluster must cover the image")
        for object in objects {
            #expect(counts[object.id] == object.visibleArea)
            #expect(object.visibleArea <= object.areaInImage && object.areaInImage <= object.fullArea)
            let analytic = Double.pi * object.semiMajor * object.semiMinor
            #expect(abs(Double(object.fullArea) - analytic) < 0.1 * analytic + 6)
        }
        #expect(objects.contains { $0.visibleArea == $0.fullArea }, "some beans are fully visible")
        #expect(objects.contains { $0.visibleArea < $0.areaInImage }, "some beans are occluded")

        let info = try SynthHocInfo.read(folder: one.path)
        #expect(info.count == 2 && info.window == 45 && info.largestInstance == 30)
        let data = try HocDataset.load(path: one.path)
        #expect(data.options.window == 45 && data.scaledSources.count == 2)
        #expect(SynthHoc.generate(seed: 10, height: 64, width: 64).image != SynthHoc.generate(seed: 9, height: 64, width: 64).image)
    }

    @Test func synthFgIsDeterministicWithExactMasksInsideTheirBoxes() throws {
        let one = try TemporaryFolder(), two = try TemporaryFolder()
        defer { one.remove(); two.remove() }
        try SynthFg.write(to: one.path, count: 5, seed: 4, sceneSize: 64)
        try SynthFg.write(to: two.path, count: 5, seed: 4, sceneSize: 64)
        for name in ["train/images/00000.png", "train/masks/00003.png", "heldout/images/00004.png",
                     "train/boxes.csv", "backgrounds/bg-007.png", "dataset.json"] {
            #expect(try bytes(one.file(name)) == bytes(two.file(name)), "\(name) differs")
        }
        let train = try FgDataset.load(folder: one.file("train"), size: 32)
        let heldOut = try FgDataset.load(folder: one.file("heldout"), size: 32)
        #expect(train.count == 4 && heldOut.count == 1 && train.hasMasks)
        let pool = try BackgroundPool.load(folder: one.file("backgrounds"), size: 32)
        #expect(pool.images.count == 8)

        for index in 0..<5 {
            let scene = SynthFg.scene(seed: 4, index: index, size: 64)
            #expect(scene.mask.pixels.allSatisfy { $0 == 0 || $0 == 1 })
            let area = scene.mask.pixels.reduce(0, +)
            #expect(area > 64 * 64 * 0.05 && area < 64 * 64 * 0.6, "mask area \(area)")
            // Every mask pixel lies inside the box; the box lies inside the scene.
            let box = scene.box
            #expect(box.x >= 0 && box.y >= 0 && box.x + box.w <= 64 && box.y + box.h <= 64)
            for y in 0..<64 {
                for x in 0..<64 where scene.mask[0, y, x] == 1 {
                    #expect(Double(x) >= box.x && Double(x) < box.x + box.w && Double(y) >= box.y && Double(y) < box.y + box.h)
                }
            }
            // Foreground contrasts with the background: mean colours differ clearly.
            var fg = SIMD3<Float>(), bg = SIMD3<Float>(), nf: Float = 0, nb: Float = 0
            for i in 0..<(64 * 64) {
                let c = SIMD3(scene.image.pixels[i], scene.image.pixels[4096 + i], scene.image.pixels[8192 + i])
                if scene.mask.pixels[i] == 1 { fg += c; nf += 1 } else { bg += c; nb += 1 }
            }
            let d = fg / nf - bg / nb
            #expect((d * d).sum().squareRoot() > 0.1)
        }
        let csv = try String(contentsOfFile: one.file("train/boxes.csv"), encoding: .utf8)
        #expect(csv.hasPrefix("file,x,y,w,h\nimages/00000.png,"))
    }
}
