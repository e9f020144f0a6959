@testable import Carve
import Foundation
import Testing
import TestSupport

/// `carve report` and the TensorBoard events beside metrics.jsonl (issue 16): the TFRecord and
/// protobuf bytes against bytes derived by hand, a report of a real tiny run, and bad run folders.
@Suite(.serialized) struct ReportTests {
    static func temporaryFolder(_ name: String) -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("carve-\(name)-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    // MARK: - TensorBoard bytes (Note [TensorBoard event format])

    @Test func theMaskedCRCOfTheCheckStringIsItsCRCRotatedPlusTheMask() {
        // CRC-32C("123456789") = 0xE3069283 (RFC 3720). Rotated right by 15 bits:
        //   0xE3069283 >> 15 = 0x0001C60D, 0xE3069283 << 17 = 0x25060000 (mod 2³²) → 0x2507C60D;
        //   + 0xA282EAD8 = 0xC78AB0E5 (mod 2³²).
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(TFRecord.maskedCRC(Array("123456789".utf8)) == 0xC78A_B0E5)
    }

    @Test func varintsAreSevenBitsAByteLowFirst() {
        var out: [UInt8] = []
        TensorBoardEvent.varint(1, into: &out)
        TensorBoardEvent.varint(300, into: &out)  // 300 = 0b10_0101100 → 0xAC 0x02
        TensorBoardEvent.varint(UInt64(bitPattern: -1), into: &out)  // ten bytes
        #expect(out == [0x01, 0xAC, 0x02] + [UInt8](repeating: 0xFF, count: 9) + [0x01])
    }

    /// Event{wall_time 1.5, step 300, summary{value{tag "a", simple_value 1.0}}}.
    static let handEvent: [UInt8] = [
        0x09, 0, 0, 0, 0, 0, 0, 0xF8, 0x3F,  // field 1 fixed64: 1.5 = 0x3FF8000000000000, little-endian
        0x10, 0xAC, 0x02,  // field 2 varint: 300
        0x2A, 0x0A,  // field 5 length-delimited, 10 bytes: the Summary
        0x0A, 0x08,  //   Summary field 1 (value), 8 bytes: the Value
        0x0A, 0x01, 0x61,  //     Value field 1 (tag): "a"
        0x15, 0x00, 0x00, 0x80, 0x3F,  //     Value field 2 fixed32: 1.0 = 0x3F800000
    ]

    @Test func aScalarEventEncodesFieldByField() {
        #expect(TensorBoardEvent.scalars([("a", 1.0)], step: 300, wallTime: 1.5) == Self.handEvent)
    }

    @Test func theFirstEventCarriesTheFileVersion() {
        let expected: [UInt8] = [0x09, 0, 0, 0, 0, 0, 0, 0, 0,  // wall_time 0.0
                                 0x1A, 13] + Array("brain.Event:2".utf8)  // field 3, 13 bytes
        #expect(TensorBoardEvent.fileVersion(wallTime: 0) == expected)
    }

    @Test func aRecordIsTheLengthItsCRCTheDataAndItsCRC() {
        let framed = TFRecord.frame(Self.handEvent)
        let length: [UInt8] = [24, 0, 0, 0, 0, 0, 0, 0]
        #expect(framed.count == 8 + 4 + 24 + 4)
        #expect(Array(framed[0..<8]) == length)
        #expect(Array(framed[8..<12]) == Self.littleEndian(TFRecord.maskedCRC(length)))
        #expect(Array(framed[12..<36]) == Self.handEvent)
        #expect(Array(framed[36..<40]) == Self.littleEndian(TFRecord.maskedCRC(Self.handEvent)))
        // The same two CRCs from TensorBoard's own masked_crc32c (tensorboard 2.21).
        #expect(TFRecord.maskedCRC(length) == 0x224B_7FA3)
        #expect(TFRecord.maskedCRC(Self.handEvent) == 0x0B97_D5E3)
    }

    static func littleEndian(_ x: UInt32) -> [UInt8] { (0..<4).map { UInt8((x >> (8 * $0)) & 0xFF) } }

    // MARK: - A real tiny run

    static func trainTiny(_ run: URL) throws {
        var config = try Presets.named("tiny")
        config.steps = 12
        config = try config.applying(["log_every=2", "eval_every=6", "checkpoint_every=12"])
        _ = try Trainer(config: config, options: TrainOptions(runDirectory: run, quiet: true),
                        communicator: LocalCommunicator()).train()
    }

    @Test func aReportOfATinyRunHasAnSVGPerChartWithAPointPerLoggedStep() throws {
        let run = Self.temporaryFolder("report")
        defer { try? FileManager.default.removeItem(at: run) }
        try Self.trainTiny(run)
        let written = try ReportPage.write(run: run)
        let html = try String(contentsOf: written.page, encoding: .utf8)
        let report = try RunReport.read(run)
        let charts = report.charts()
        #expect(report.records.count == 6)  // steps 2, 4, …, 12

        #expect(Set(charts.map(\.name)).isSuperset(of: ["losses", "discriminator", "mask-area", "eval-mask_area_mean",
                                                         "step-time", "comm-share", "throughput"]))
        #expect(html.components(separatedBy: "<svg class=\"chart\"").count - 1 == charts.count)
        #expect(html.contains("<meta name=\"carve-charts\" content=\"\(charts.count)\">"))
        for chart in charts {
            let svg = try #require(Self.svg(of: chart.name, in: html), "no SVG for chart \(chart.name)")
            for series in chart.series {
                let points = try #require(Self.points(of: series.name, in: svg), "chart \(chart.name): no \(series.name)")
                let expected = chart.group == .evaluation ? report.evaluations.count : report.records.count
                #expect(points == expected, "chart \(chart.name) series \(series.name): \(points) points")
            }
        }
        let losses = try #require(Self.svg(of: "losses", in: html))
        #expect(Self.points(of: "loss_d", in: losses) == 6 && Self.points(of: "loss_g", in: losses) == 6)
        let area = try #require(Self.svg(of: "mask-area", in: html))
        #expect(area.contains("class=\"reference\" data-name=\"area_target\""))
        #expect(html.contains("<img class=\"panel\" alt=\"step-00000012.png\" src=\"data:image/png;base64,iVBORw0KGgo"))
        #expect(!html.contains("<script") && !html.contains("src=\"http") && !html.contains("href=\"http"))

        // One PNG per chart, 640 × 360, not blank.
        #expect(written.charts.map { $0.deletingPathExtension().lastPathComponent } == charts.map(\.name))
        let png = try Image.read(path: run.appendingPathComponent("report/losses.png").path)
        #expect(png.width == 640 && png.height == 360)
        #expect(png.pixels.contains { $0 < 0.5 })
    }

    @Test func theRunWritesEveryNumericMetricAsATensorBoardScalar() throws {
        let run = Self.temporaryFolder("events")
        defer { try? FileManager.default.removeItem(at: run) }
        try Self.trainTiny(run)
        let names = try FileManager.default.contentsOfDirectory(atPath: run.path).filter { $0.hasPrefix("events.out.tfevents.") }
        #expect(names.count == 1)
        let events = try Self.readRecords(run.appendingPathComponent(try #require(names.first)))
        let lines = try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
            .split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(events.count == 1 + lines.count)
        #expect(events.first.map(Self.fields)?.contains { $0.field == 3 && $0.bytes == Array("brain.Event:2".utf8) } == true)
        for (event, line) in zip(events.dropFirst(), lines) {
            let decoded = Self.scalarEvent(event)
            #expect(decoded.step == Int64(line["step"] as! Int))
            // metrics.jsonl prints the time to about 1e-7 s (JSONSerialization); the event holds the double.
            #expect(abs(decoded.wallTime - (line["time"] as? Double ?? 0)) < 1e-5)
            let expected = line.compactMapValues { RunReport.number($0) }.filter { $0.key != "step" && $0.key != "time" }
            #expect(Set(decoded.values.keys) == Set(expected.keys))
            for (tag, value) in expected { #expect(decoded.values[tag] == Float(value), "tag \(tag)") }
        }
    }

    // MARK: - Phases and bad run folders

    /// A run folder written by hand: config.json and the given metrics.jsonl text.
    static func handRun(_ metrics: String?, config: String = #"{"preset": "x", "steps": 4, "area_target": 0.25}"#) -> URL {
        let run = temporaryFolder("hand")
        FileManager.default.createFile(atPath: run.appendingPathComponent("config.json").path, contents: Data(config.utf8))
        if let metrics {
            FileManager.default.createFile(atPath: run.appendingPathComponent("metrics.jsonl").path, contents: Data(metrics.utf8))
        }
        return run
    }

    @Test func theDistillPhaseBeginsAtTheAdversarialStepsWithAVerticalLine() throws {
        let run = Self.handRun("""
            {"step": 2, "phase": "adversarial", "loss_d": 1.4, "loss_g": 0.7, "mask_area": 0.5}
            {"step": 4, "phase": "adversarial", "loss_d": 1.3, "loss_g": 0.8, "mask_area": 0.4}
            {"step": 6, "phase": "distill", "loss_distill": 0.1, "teacher_area": 0.4, "student_area": 0.3}

            """)
        defer { try? FileManager.default.removeItem(at: run) }
        let report = try RunReport.read(run)
        #expect(report.phaseBoundary == 4)
        let charts = report.charts()
        #expect(charts.map(\.name) == ["losses", "mask-area", "distill-loss", "distill-area"])
        #expect(charts.allSatisfy { $0.boundaries.map(\.x) == [4] && $0.xRange == 0...6 })
        let html = try ReportPage.html(report, charts: charts)
        #expect(html.components(separatedBy: "class=\"phase-boundary\"").count - 1 == charts.count)
        #expect(Self.points(of: "loss_d", in: try #require(Self.svg(of: "losses", in: html))) == 2)
        #expect(Self.points(of: "teacher_area", in: try #require(Self.svg(of: "distill-area", in: html))) == 1)
    }

    @Test func aStepLoggedTwiceByAResumedRunShowsItsLaterRecord() throws {
        let run = Self.handRun([(2, 1.0), (4, 2.0), (6, 3.0), (4, 20.0), (6, 30.0), (8, 40.0)]
            .map { "{\"step\": \($0.0), \"loss_d\": \($0.1)}\n" }.joined())
        defer { try? FileManager.default.removeItem(at: run) }
        let records = try RunReport.read(run).records
        #expect(records.map(\.step) == [2, 4, 6, 8])
        #expect(records.map { $0.values["loss_d"] } == [1.0, 20.0, 30.0, 40.0])
    }

    @Test func aMalformedLineOfMetricsIsAnErrorNamingTheLine() throws {
        let run = Self.handRun("""
            {"step": 2, "loss_d": 1.4}
            {"step": 4, "loss_d": 1.3}
            {"step": 6, "loss_d": 1.
            {"step": 8, "loss_d": 1.1}
            """)
        defer { try? FileManager.default.removeItem(at: run) }
        let path = run.appendingPathComponent("metrics.jsonl").path
        #expect(throws: ReportError.malformedLine(path: path, line: 3, reason: "not a JSON object")) {
            _ = try RunReport.read(run)
        }
        #expect(ReportError.malformedLine(path: path, line: 3, reason: "not a JSON object").localizedDescription
                == "\(path):3: not a JSON object")
    }

    @Test func aLineWithoutAStepIsAnErrorNamingTheLine() throws {
        let run = Self.handRun("{\"step\": 2, \"loss_d\": 1.4}\n{\"loss_d\": 1.3}\n")
        defer { try? FileManager.default.removeItem(at: run) }
        #expect(throws: ReportError.malformedLine(path: run.appendingPathComponent("metrics.jsonl").path, line: 2,
                                                  reason: "no integer \"step\"")) { _ = try RunReport.read(run) }
    }

    @Test func aMissingFolderOrMetricsFileIsAnErrorNamingIt() throws {
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("carve-no-such-run-\(UUID().uuidString)")
        #expect(throws: ReportError.noRunFolder(path: missing.path)) { _ = try RunReport.read(missing) }
        let run = Self.handRun(nil)
        defer { try? FileManager.default.removeItem(at: run) }
        #expect(throws: ReportError.noMetrics(path: run.appendingPathComponent("metrics.jsonl").path)) {
            _ = try RunReport.read(run)
        }
    }

    @Test func carveReportOnABadRunIsOneLineOnStandardErrorAndExitCode1() throws {
        let carve = try builtExecutable(named: "carve", environmentVariable: "CARVE_BIN")
        let run = Self.handRun("{\"step\": 2}\nnot json\n")
        defer { try? FileManager.default.removeItem(at: run) }
        let result = try runExecutable(carve, arguments: ["report", run.path])
        #expect(result.exitCode == 1, "stderr: \(result.standardError)")
        #expect(result.standardErrorLines == ["carve: \(run.path)/metrics.jsonl:2: not a JSON object"])
        #expect(!FileManager.default.fileExists(atPath: run.appendingPathComponent("report.html").path))
    }

    // MARK: - Reading back

    /// The `<svg …>…</svg>` of chart `name` in a page.
    static func svg(of name: String, in html: String) -> Substring? {
        guard let start = html.range(of: "id=\"chart-\(name)\""),
              let end = html.range(of: "</svg>", range: start.upperBound..<html.endIndex) else { return nil }
        return html[start.lowerBound..<end.upperBound]
    }

    /// The number of points of the series polyline `name` in one chart's SVG, checked against its data-count.
    static func points(of name: String, in svg: Substring) -> Int? {
        guard let start = svg.range(of: "<polyline class=\"series\" data-name=\"\(name)\""),
              let end = svg.range(of: "/>", range: start.upperBound..<svg.endIndex) else { return nil }
        let element = svg[start.lowerBound..<end.upperBound]
        guard let p = element.range(of: "points=\""), let q = element[p.upperBound...].firstIndex(of: "\""),
              let c = element.range(of: "data-count=\""), let d = element[c.upperBound...].firstIndex(of: "\"") else { return nil }
        let count = element[p.upperBound..<q].split(separator: " ").count
        return Int(element[c.upperBound..<d]) == count ? count : nil
    }

    /// The data of every record in a TFRecord file, each length and data CRC checked.
    static func readRecords(_ url: URL) throws -> [[UInt8]] {
        let bytes = [UInt8](try Data(contentsOf: url))
        var records: [[UInt8]] = [], offset = 0
        func u32(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[at + $1]) << (8 * $1) } }
        while offset < bytes.count {
            try #require(offset + 12 <= bytes.count, "truncated header at \(offset)")
            let length = Int((0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * $1) })
            #expect(u32(offset + 8) == TFRecord.maskedCRC(Array(bytes[offset..<offset + 8])), "length CRC at \(offset)")
            try #require(offset + 16 + length <= bytes.count, "truncated record at \(offset)")
            let data = Array(bytes[offset + 12..<offset + 12 + length])
            #expect(u32(offset + 12 + length) == TFRecord.maskedCRC(data), "data CRC at \(offset)")
            records.append(data)
            offset += 16 + length
        }
        return records
    }

    /// The top-level fields of a protobuf message: number, wire type and payload (a varint's own
    /// bytes, fixed64/fixed32's bytes, or a length-delimited field's content).
    static func fields(_ message: [UInt8]) -> [(field: Int, wire: Int, bytes: [UInt8])] {
        var out: [(field: Int, wire: Int, bytes: [UInt8])] = [], i = 0
        func varint() -> UInt64 {
            var value: UInt64 = 0, shift: UInt64 = 0
            while i < message.count {
                let b = message[i]
                i += 1
                value |= UInt64(b & 0x7F) << shift
                if b < 0x80 { break }
                shift += 7
            }
            return value
        }
        while i < message.count {
            let key = varint(), wire = Int(key & 7)
            var start = i
            switch wire {
            case 0: _ = varint()
            case 1: i += 8
            case 2:
                let n = Int(varint())
                start = i
                i += n
            case 5: i += 4
            default: return out  // not written by TensorBoardEvent: the test fails on the missing fields
            }
            guard i <= message.count else { return out }
            out.append((Int(key >> 3), wire, Array(message[start..<i])))
        }
        return out
    }

    static func varintValue(_ bytes: [UInt8]) -> UInt64 {
        bytes.enumerated().reduce(0) { $0 | UInt64($1.element & 0x7F) << (7 * UInt64($1.offset)) }
    }

    /// An Event's step, wall time and scalars by tag.
    static func scalarEvent(_ event: [UInt8]) -> (step: Int64, wallTime: Double, values: [String: Float]) {
        var step: Int64 = -1, wallTime = 0.0, values: [String: Float] = [:]
        for f in fields(event) {
            switch (f.field, f.wire) {
            case (1, 1): wallTime = Double(bitPattern: f.bytes.reversed().reduce(0) { $0 << 8 | UInt64($1) })
            case (2, 0): step = Int64(bitPattern: varintValue(f.bytes))
            case (5, 2):
                for value in fields(f.bytes) where value.field == 1 && value.wire == 2 {
                    var tag = "", x = Float.nan
                    for g in fields(value.bytes) {
                        if g.field == 1 && g.wire == 2 { tag = String(decoding: g.bytes, as: UTF8.self) }
                        if g.field == 2 && g.wire == 5 {
                            x = Float(bitPattern: g.bytes.reversed().reduce(0) { $0 << 8 | UInt32($1) })
                        }
                    }
                    values[tag] = x
                }
            default: break
            }
        }
        return (step, wallTime, values)
    }
}
