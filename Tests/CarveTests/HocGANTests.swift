@testable import Carve
import Foundation
import Testing

/// The hoc GAN at `tiny` size: shapes, the area penalty and one step's effect (issue 5).
@Suite(.serialized) struct HocGANTests {
    /// A fixed batch of real patches and backgrounds from synthetic beans.
    static func batch(config: Configuration, samples: [Int]) throws -> TrainingBatch {
        let sample = SynthHoc.generate(seed: 3, height: 128, width: 128)
        let data = try HocDataset(image: sample.image, options: HocOptions(window: 40, patchSize: 64))
        let b = samples.count
        let real = Tensor(shape: [b, 3, 64, 64]) { data.fillPatches($0, indices: samples.map { $0 % data.count }) }
        let background = Tensor(shape: [b, 3, 64, 64]) { data.fillBackgrounds($0, seed: 1, step: 0, samples: samples) }
        return TrainingBatch(images: real, background: background, samples: samples)
    }

    @Test func generatorMakesRGBAInstancesAndCompositesOfTheBatchShape() throws {
        let config = try Presets.named("tiny")
        let gan = HocGAN(config: config, communicator: LocalCommunicator())
        let batch = try Self.batch(config: config, samples: [0, 1, 2, 3])
        let g = gan.generate(background: batch.background, samples: batch.samples, step: 0)
        #expect(g.instances.shape == [config.layers * 4, 4, 64, 64])
        #expect(g.composite.shape == [4, 3, 64, 64])
        #expect(g.layers.count == config.layers)
        #expect(g.instances.array.allSatisfy { $0 > 0 && $0 < 1 })
    }

    @Test func layoutTransposeTurnsEveryOtherProvidersInstancesOverTheDiagonal() throws {
        var config = try Presets.named("tiny")
        let batch = try Self.batch(config: config, samples: [0, 1, 2])
        let plain = HocGAN(config: config, communicator: LocalCommunicator())
            .generate(background: batch.background, samples: batch.samples, step: 0).instances
        config.layoutTranspose = true
        let turned = HocGAN(config: config, communicator: LocalCommunicator())
            .generate(background: batch.background, samples: batch.samples, step: 0).instances
        let b = 3, plane = 64 * 64
        for n in 0..<(config.layers * b) {
            let odd = (n / b) % 2 == 1
            var same = true
            for c in 0..<4 {
                for y in 0..<64 {
                    for x in 0..<64 {
                        let want = plain.data[(n * 4 + c) * plane + (odd ? x * 64 + y : y * 64 + x)]
                        if turned.data[(n * 4 + c) * plane + y * 64 + x] != want { same = false }
                    }
                }
            }
            #expect(same, "instance \(n) (layer \(n / b))")
        }
        #expect(plain.array != turned.array)
    }

    @Test func compositionFollowsEquationFive() {
        // x1 = I1·m1 + x0·(1 − m1), x2 = I2·m2 + x1·(1 − m2), per pixel.
        let x0 = Tensor(shape: [1, 3, 1, 1], values: [0.2, 0.4, 0.6])
        let i1 = Tensor(shape: [1, 3, 1, 1], values: [1, 0, 0.5]), m1 = Tensor(shape: [1, 1, 1, 1], values: [0.25])
        let i2 = Tensor(shape: [1, 3, 1, 1], values: [0, 1, 1]), m2 = Tensor(shape: [1, 1, 1, 1], values: [0.5])
        let x = Composition.composite(background: x0, layers: [(i1, m1), (i2, m2)])
        let expected: [Float] = (0..<3).map { c in
            let x1 = i1.array[c] * 0.25 + x0.array[c] * 0.75
            return i2.array[c] * 0.5 + x1 * 0.5
        }
        for (a, e) in zip(x.array, expected) { #expect(abs(a - e) < 1e-6) }
    }

    @Test func areaLossIsTheSquaredDistanceOfTheMaskFractionFromTheTarget() {
        // Two masks of area fraction 0.5 and 0.25 with target 0.25: mean((0.25)², 0) = 0.03125.
        var values = [Float](repeating: 0, count: 2 * 16)
        for i in 0..<8 { values[i] = 1 }
        for i in 16..<20 { values[i] = 1 }
        let masks = Tensor(shape: [2, 1, 4, 4], values: values)
        #expect(abs(GANLoss.area(masks: masks, target: 0.25).item - 0.03125) < 1e-7)
    }

    @Test func oneStepLowersTheDiscriminatorLossOnAFixedBatchAndMovesMasksTowardTheTarget() throws {
        var config = try Presets.named("tiny")
        config.areaTarget = 0.05  // sigmoid outputs start near 0.5: far above the target
        config.lrD = 2e-3
        config.lrG = 2e-3
        let gan = HocGAN(config: config, communicator: LocalCommunicator())
        let batch = try Self.batch(config: config, samples: [0, 1, 2, 3])

        func discriminatorLoss() -> Float {
            Autodiff.withoutRecording {
                let g = gan.generate(background: batch.background, samples: batch.samples, step: 0)
                return GANLoss.discriminator(realLogits: gan.discriminator(batch.images),
                                             fakeLogits: gan.discriminator(g.composite)).item
            }
        }
        func meanArea() -> Float {
            Autodiff.withoutRecording {
                gan.generate(background: batch.background, samples: batch.samples, step: 0)
                    .instances.slice(axis: 1, 3..<4).mean().item
            }
        }
        let lossBefore = discriminatorLoss()
        let areaBefore = meanArea()
        let metrics = try gan.trainStep(batch, step: 0)
        #expect(metrics["loss_d"]!.isFinite && metrics["loss_g"]!.isFinite)
        let lossAfter = discriminatorLoss()
        let areaAfter = meanArea()
        #expect(lossAfter < lossBefore, "L_D \(lossBefore) → \(lossAfter)")
        #expect(abs(areaAfter - 0.05) < abs(areaBefore - 0.05), "mask area \(areaBefore) → \(areaAfter)")
    }

    @Test func aNaNLossIsAClearErrorNotATrap() throws {
        let config = try Presets.named("tiny")
        let gan = HocGAN(config: config, communicator: LocalCommunicator())
        let batch = try Self.batch(config: config, samples: [0, 1, 2, 3])
        batch.images.data[5] = .nan  // a corrupt value in the data
        #expect(throws: TrainingError.self) { _ = try gan.trainStep(batch, step: 0) }
    }
}
