@testable import Carve
import Foundation
import Imaging
import Testing

/// The star-convex mask head of hoc providers (`mask_star`, `StarMask`).
@Suite struct StarMaskTests {
    /// A head whose outline is fixed: the MLP's last weights zero, its bias the coefficients
    /// (c₀, a₁, b₁, a₂, b₂, …).
    static func fixed(order: Int, coefficients: [Float], maxRadius: Float = 24) -> StarMask {
        let star = StarMask(zDim: 2, order: order, size: 64, maxRadius: maxRadius)
        star.head.weight.data.update(repeating: 0, count: star.head.weight.count)
        for (i, c) in coefficients.enumerated() { star.head.bias!.data[i] = c }
        return star
    }

    static func binary(_ mask: Tensor, sample: Int = 0) -> [Bool] {
        (0..<4096).map { mask.data[sample * 4096 + $0] > 0.5 }
    }

    @Test func theConstantTermAloneDrawsADisc() {
        // R = 24, c₀ = 0.75: 1/r² = (1 + 1.25 + 0.75) / R², r = 24/√3 = 13.86 px. The soft disc's
        // integral is ∫ σ((r − ρ)/τ) 2πρ dρ = π r² + π³τ²/3 (the logistic ramp's second moment) =
        // 603.19 + 2.58 px; on the pixel grid the sigmoid's smooth edge leaves under 0.01 px of
        // that (summed in double: 605.774). The Float sum of 4096 terms adds at most
        // 4096 · 2⁻²⁴ · 606 ≈ 0.15 px.
        let star = Self.fixed(order: 2, coefficients: [0.75, 0, 0, 0, 0])
        let mask = star(Tensor(shape: [1, 2], values: [0.3, -1]))
        #expect(mask.shape == [1, 1, 64, 64])
        let r = 24 / Float(3).squareRoot()
        let area = mask.array.reduce(0, +)
        let expected = Float.pi * r * r + pow(Float.pi, 3) * StarMask.tau * StarMask.tau / 3
        #expect(abs(area - expected) < 0.5, "area \(area) against \(expected)")
        // Round: as wide as tall, centred on the canvas centre (31.5, 31.5).
        let on = Self.binary(mask)
        let c = ShapeMatching.centroid(on, width: 64)!
        #expect(abs(c.y - 31.5) < 0.01 && abs(c.x - 31.5) < 0.01)
        let rows = Set(on.indices.filter { on[$0] }.map { $0 / 64 }), columns = Set(on.indices.filter { on[$0] }.map { $0 % 64 })
        #expect(rows.count == columns.count)
    }

    @Test func theSecondHarmonicDrawsAnEllipseAtItsAngle() {
        // a₂ = 2: 1/r² ∝ 2.25 + cos 2θ, an ellipse with semi-axes R/√3.25 = 13.3 px along x and
        // R/√1.25 = 21.5 px along y, whose pixels (x/13.3)² + (y/21.5)² < 1 the mask holds.
        let tall = Self.fixed(order: 2, coefficients: [0, 0, 0, 2, 0])(Tensor(shape: [1, 2], values: [0, 0]))
        let a = 24 / Float(3.25).squareRoot(), b = 24 / Float(1.25).squareRoot()
        var wrong = 0
        for p in 0..<4096 {
            let y = Float(p / 64) + 0.5 - 32, x = Float(p % 64) + 0.5 - 32
            let inside = (x / a) * (x / a) + (y / b) * (y / b) < 1
            if inside != (tall.data[p] > 0.5) { wrong += 1 }
        }
        // m > 0.5 ⟺ ρ < r(θ) ⟺ ρ²·(2.25 + cos 2θ) < R² ⟺ 3.25x² + 1.25y² < R²: the same inequality,
        // so only a pixel centre within float rounding of the outline could differ.
        #expect(wrong <= 2, "\(wrong) pixels off the ellipse")
        #expect(ConnectedComponents.sizes(tall.data, height: 64, width: 64).count == 1)
        // b₂ = 2 instead: 1/r² ∝ 2.25 + sin 2θ, the same ellipse turned by 45°: short along the
        // diagonal y = x, long along the other.
        let turned = Self.binary(Self.fixed(order: 2, coefficients: [0, 0, 0, 0, 2])(Tensor(shape: [1, 2], values: [0, 0])))
        let onDiagonal = (0..<64).filter { turned[$0 * 64 + $0] }.count
        let onAntiDiagonal = (0..<64).filter { turned[$0 * 64 + 63 - $0] }.count
        #expect(onAntiDiagonal > onDiagonal + 8, "diagonal \(onDiagonal), anti-diagonal \(onAntiDiagonal)")
    }

    @Test func theOutlineNeverLeavesTheMaximumRadius() {
        // c₀ = −20: 1.25 + s < 0 at every angle, so r = R = 10 px, whatever the rest.
        let mask = Self.fixed(order: 3, coefficients: [-20, 5, -5, 5, 5, -5, 5], maxRadius: 10)(Tensor(shape: [1, 2], values: [0, 0]))
        for p in 0..<4096 {
            let dy = Float(p / 64) + 0.5 - 32, dx = Float(p % 64) + 0.5 - 32
            if (dx * dx + dy * dy).squareRoot() > 12 { #expect(mask.data[p] < 0.02) }
        }
    }

    @Test func theAreaPenaltyGrowsTheMaskThroughTheOutline() throws {
        // Gradients reach the coefficients through the sigmoid edge: Adam on L_area alone takes
        // every mask of a random head from its starting area to the target.
        let star = StarMask(zDim: 2, order: 3, size: 64, maxRadius: 24)
        star.initialize(seed: 1)
        let z = Tensor(shape: [8, 2]) { out in for i in 0..<16 { out[i] = Float(i % 5) * 0.4 - 0.8 } }
        let optimiser = Adam(parameters: star.namedParameters(), learningRate: 0.02)
        func loss() -> Tensor { GANLoss.area(masks: star(z), target: 0.25) }
        let before = Autodiff.withoutRecording { loss().item }
        for _ in 0..<100 {
            star.zeroGrad()
            loss().backward()
            optimiser.step()
        }
        let after = Autodiff.withoutRecording { loss().item }
        #expect(before > 1e-3, "the test starts away from the target: \(before)")
        #expect(after < before / 100, "L_area \(before) → \(after)")
    }

    @Test func maskStarOutsideZeroToEightIsRefusedByName() throws {
        for bad in ["mask_star=-1", "mask_star=9"] {
            #expect { _ = try Presets.named("tiny").applying([bad]) } throws: { ($0 as? ConfigurationError)?.message.contains("mask_star") == true }
        }
    }

    @Test func aHocGANWithStarMasksGivesOneSolidRegionPerInstance() throws {
        var config = try Presets.named("tiny")
        config.maskStar = 3
        config.maskEnvelope = 0.6
        let gan = HocGAN(config: config, communicator: LocalCommunicator())
        let batch = try HocGANTests.batch(config: config, samples: [0, 1, 2, 3])
        let g = gan.generate(background: batch.background, samples: batch.samples, step: 0)
        #expect(g.instances.shape == [config.layers * 4, 4, 64, 64])
        let masks = g.instances.slice(axis: 1, 3..<4)
        for i in 0..<masks.shape[0] {
            let binary = (0..<4096).map { masks.data[i * 4096 + $0] > 0.5 ? Float(1) : 0 }
            #expect(ConnectedComponents.sizes(binary, height: 64, width: 64).count <= 1)
        }
        #expect(gan.generator.namedParameters().contains { $0.name.hasPrefix("star.head.") })
    }
}
