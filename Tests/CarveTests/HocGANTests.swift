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
        // Keys sample · N + provider with N = 3 providers, in HocGAN's layer-major order and in a
        // shuffled one: provider 1's instances come out transposed, the others as they were.
        let s = 6, plane = s * s
        let instances = Tensor.randomNormal([6, 4, s, s], seed: 1, purpose: "instances")
        let layout = TranslationLayout(padding: 0, transposedProviders: 3)
        for keys in [[0, 3, 1, 4, 2, 5], [4, 0, 1, 5, 3, 2]] {
            let out = layout(instances, seed: 1, step: 0, keys: keys)
            for (n, key) in keys.enumerated() {
                let turned = key % 3 == 1
                for c in 0..<4 {
                    for y in 0..<s {
                        for x in 0..<s {
                            let want = instances.data[(n * 4 + c) * plane + (turned ? x * s + y : y * s + x)]
                            #expect(out.data[(n * 4 + c) * plane + y * s + x] == want, "key \(key) channel \(c) (\(y), \(x))")
                        }
                    }
                }
            }
        }
        // `layout_transpose` hands HocGAN's layout its number of providers.
        var config = try Presets.named("tiny")
        #expect(HocGAN(config: config, communicator: LocalCommunicator()).layout.transposedProviders == 0)
        config.layoutTranspose = true
        #expect(HocGAN(config: config, communicator: LocalCommunicator()).layout.transposedProviders == config.layers)
    }

    @Test func layoutRotateTurnsEachInstanceAboutItsCentreByItsOwnAngle() throws {
        let s = 32, plane = s * s
        let layout = TranslationLayout(padding: 0, rotates: true)
        // A quarter turn moves pixel centres onto pixel centres: out[i][j] = in[j][S − 1 − i]
        // (cos(π/2) is −4.4e-8 in Float, so the taps are off by at most 32 · 4.4e-8 of a pixel).
        let x = Tensor.randomNormal([1, 4, s, s], seed: 2, purpose: "instances")
        let quarter = layout.rotating(x, angles: [Float.pi / 2]).array  // a copy: `.data` of a temporary dangles
        for c in 0..<4 {
            for i in 0..<s {
                for j in 0..<s {
                    let want = x.data[c * plane + j * s + (s - 1 - i)]
                    #expect(abs(quarter[c * plane + i * s + j] - want) < 1e-4, "channel \(c) (\(i), \(j))")
                }
            }
        }
        // An ellipse with a soft edge, σ(5(1 − ρ)) with ρ its normalised radius (semi-axes 12 and
        // 5 px: the edge is one pixel wide across the short axis), turned by 0.6 rad, is the same
        // ellipse drawn turned counter-clockwise on screen. Bilinear interpolation of a smooth f
        // errs by at most (h²/8)(|f_xx| + |f_yy|) with h = 1 px and σ'' ≤ 0.0962 per pixel², so
        // ≤ 0.024; the canvas (48², half-side twice the long semi-axis) cuts the tail where it
        // is below σ(−5) = 0.0067, which the turn brings into the corners.
        let e = 48
        func ellipse(_ angle: Double) -> [Float] {
            (0..<e * e).map { p in
                let x = Double(p % e) + 0.5 - Double(e) / 2, y = Double(p / e) + 0.5 - Double(e) / 2
                // The point in the ellipse's own frame: turned back by the angle.
                let xr = x * cos(angle) - y * sin(angle), yr = x * sin(angle) + y * cos(angle)
                let rho = ((xr / 12) * (xr / 12) + (yr / 5) * (yr / 5)).squareRoot()
                return Float(1 / (1 + exp(-(1 - rho) * 5)))
            }
        }
        let turned = layout.rotating(Tensor(shape: [1, 1, e, e], values: ellipse(0)), angles: [0.6]).array
        let worst = zip(turned, ellipse(0.6)).map { abs($0 - $1) }.max()!
        #expect(worst < 0.024 + 0.0067, "largest difference \(worst)")  // 0.011 in double precision
        #expect(zip(turned, ellipse(-0.6)).map { abs($0 - $1) }.max()! > 0.5)  // not the clockwise turn
        // Angles: a pure function of (seed, step, key), spread over [0, 2π).
        let keys = Array(0..<400)
        let a = layout.angles(seed: 5, step: 3, keys: keys)
        #expect(a == layout.angles(seed: 5, step: 3, keys: keys))
        #expect(a != layout.angles(seed: 5, step: 4, keys: keys))
        #expect(a.allSatisfy { $0 >= 0 && $0 < 2 * Float.pi })
        for quadrant in 0..<4 {
            let inside = a.filter { Int($0 / (Float.pi / 2)) == quadrant }.count
            #expect(inside > 60, "quadrant \(quadrant): \(inside) of 400 angles")  // binomial mean 100, sd 8.7
        }
        // `layout_rotate` reaches HocGAN's layout.
        var config = try Presets.named("tiny")
        #expect(!HocGAN(config: config, communicator: LocalCommunicator()).layout.rotates)
        config.layoutRotate = true
        #expect(HocGAN(config: config, communicator: LocalCommunicator()).layout.rotates)
    }

    @Test func theShapeMeasureSamplesInstancesAsTheLayoutTurnsThem() throws {
        // Two GANs alike but for `layout_transpose`: evaluation's sample i is provider i mod N's,
        // so the odd samples of the second are the first's transposed, the even ones the same.
        var config = try Presets.named("tiny")
        config.evalSamples = 6
        let data = try HocDataset(image: SynthHoc.generate(seed: 3, height: 128, width: 128).image,
                                  options: HocOptions(window: 40, patchSize: 64))
        let plain = HocEvaluation(gan: HocGAN(config: config, communicator: LocalCommunicator()), data: data, config: config)
            .sampledInstances()
        config.layoutTranspose = true
        let turned = HocEvaluation(gan: HocGAN(config: config, communicator: LocalCommunicator()), data: data, config: config)
            .sampledInstances()
        let n = config.layers, s = plain.shape[2], plane = s * s
        #expect(n >= 2 && plain.shape == turned.shape)
        for i in 0..<config.evalSamples {
            for c in 0..<4 {
                for y in 0..<s {
                    for x in 0..<s {
                        let source = (i % n) % 2 == 1 ? x * s + y : y * s + x
                        #expect(turned.data[(i * 4 + c) * plane + y * s + x] == plain.data[(i * 4 + c) * plane + source])
                    }
                }
            }
        }
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
